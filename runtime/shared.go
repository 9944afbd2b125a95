package runtime

import (
	"slices"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// Shared data and queue bounds per namespace: a filter cannot grow the
// host's memory without limit through them. (Items per queue are bounded
// by the enqueuing plugin's Limits.QueueItems.)
const (
	sharedMaxBytes   = 16 << 20
	sharedMaxKeys    = 1 << 16
	queueMaxPerSpace = 1024
	// queueItemOverhead is what one queued item costs the host besides
	// its bytes (its slice header, rounded up), charged to the byte
	// budget so that empty items are not free.
	queueItemOverhead = 32
)

// sharedStore holds proxy_*_shared_data and shared queues for every
// namespace (tenant) of an engine. Keys never cross namespaces.
type sharedStore struct {
	mu     sync.Mutex
	data   map[string]map[string]*sharedEntry
	bytes  map[string]int
	queues map[uint32]*queue
	byName map[string]uint32 // namespace NUL name -> id
	nextQ  uint32
}

type sharedEntry struct {
	value []byte
	cas   uint32
}

type queue struct {
	ns    string
	items [][]byte
	owner *instance // the instance whose root context registered it
}

func newSharedStore() *sharedStore {
	return &sharedStore{
		data:   make(map[string]map[string]*sharedEntry),
		bytes:  make(map[string]int),
		queues: make(map[uint32]*queue),
		byName: make(map[string]uint32),
	}
}

// get returns a copy of the value and its CAS.
func (s *sharedStore) get(ns, key string) ([]byte, uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[ns][key]
	if !ok {
		return nil, 0, false
	}
	return e.value, e.cas, true
}

// set stores value under key when cas is 0 or matches.
func (s *sharedStore) set(ns, key string, value []byte, cas uint32) status {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.data[ns]
	if m == nil {
		m = make(map[string]*sharedEntry)
		s.data[ns] = m
	}
	e, ok := m[key]
	if cas != 0 && (!ok || e.cas != cas) {
		return statusCASMismatch
	}
	old := 0
	if ok {
		old = len(key) + len(e.value)
	} else if len(m) >= sharedMaxKeys {
		return statusInternalFailure
	}
	if s.bytes[ns]-old+len(key)+len(value) > sharedMaxBytes {
		return statusInternalFailure
	}
	s.bytes[ns] += len(key) + len(value) - old
	v := append([]byte(nil), value...) // values are replaced, never mutated
	if !ok {
		e = &sharedEntry{}
		m[key] = e
	}
	e.value = v
	e.cas++
	if e.cas == 0 {
		e.cas = 1
	}
	return statusOK
}

// register opens or creates the named queue and makes owner's root
// context the one told when items arrive.
func (s *sharedStore) register(ns, name string, owner *instance) (uint32, status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ns + "\x00" + name
	if id, ok := s.byName[key]; ok {
		s.queues[id].owner = owner
		return id, statusOK
	}
	n := 0
	for _, q := range s.queues {
		if q.ns == ns {
			n++
		}
	}
	if n >= queueMaxPerSpace {
		return 0, statusInternalFailure
	}
	s.nextQ++
	if s.nextQ == 0 {
		s.nextQ = 1
	}
	id := s.nextQ
	s.queues[id] = &queue{ns: ns, owner: owner}
	s.byName[key] = id
	return id, statusOK
}

func (s *sharedStore) resolve(ns, name string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byName[ns+"\x00"+name]
	return id, ok
}

// enqueue appends a copy of item to queue id, unless the queue holds
// maxItems already or the namespace's byte budget is spent, and returns
// the queue's owner, to be told.
func (s *sharedStore) enqueue(ns string, id uint32, item []byte, maxItems int) (*instance, status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[id]
	if !ok || q.ns != ns {
		return nil, statusNotFound
	}
	// Queued items share the namespace's byte budget with shared data.
	cost := len(item) + queueItemOverhead
	if len(q.items) >= maxItems || s.bytes[ns]+cost > sharedMaxBytes {
		return nil, statusInternalFailure
	}
	s.bytes[ns] += cost
	q.items = append(q.items, append([]byte(nil), item...))
	return q.owner, statusOK
}

func (s *sharedStore) dequeue(ns string, id uint32) ([]byte, status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[id]
	if !ok || q.ns != ns {
		return nil, statusNotFound
	}
	if len(q.items) == 0 {
		return nil, statusEmpty
	}
	item := q.items[0]
	s.bytes[ns] -= len(item) + queueItemOverhead
	q.items[0] = nil
	q.items = q.items[1:]
	return item, statusOK
}

// own makes in the owner of queue id.
func (s *sharedStore) own(id uint32, in *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[id]; ok {
		q.owner = in
	}
}

// dropOwner forgets a closed instance as a queue owner.
func (s *sharedStore) dropOwner(in *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queues {
		if q.owner == in {
			q.owner = nil
		}
	}
}

func hSetSharedData(in *instance, mem api.Memory, st []uint64) status {
	key, ok := guestString(mem, a32(st, 0), a32(st, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	val, ok := guestBytes(mem, a32(st, 2), a32(st, 3))
	if !ok {
		return statusInvalidMemoryAccess
	}
	return in.p.m.eng.shared.set(in.p.cfg.Namespace, key, val, a32(st, 4))
}

func hGetSharedData(in *instance, mem api.Memory, st []uint64) status {
	key, ok := guestString(mem, a32(st, 0), a32(st, 1))
	if !ok || !writableU32(mem, a32(st, 2)) || !writableU32(mem, a32(st, 3)) || !writableU32(mem, a32(st, 4)) {
		return statusInvalidMemoryAccess
	}
	v, cas, found := in.p.m.eng.shared.get(in.p.cfg.Namespace, key)
	if !found {
		return statusNotFound
	}
	if s := in.returnBytes(mem, v, a32(st, 2), a32(st, 3)); s != statusOK {
		return s
	}
	putU32(mem, a32(st, 4), cas)
	return statusOK
}

func hRegisterQueue(in *instance, mem api.Memory, st []uint64) status {
	name, ok := guestString(mem, a32(st, 0), a32(st, 1))
	if !ok || !writableU32(mem, a32(st, 2)) {
		return statusInvalidMemoryAccess
	}
	id, s := in.p.m.eng.shared.register(in.p.cfg.Namespace, name, in)
	if s != statusOK {
		return s
	}
	in.queues = append(in.queues, id)
	putU32(mem, a32(st, 2), id)
	return statusOK
}

func hResolveQueue(in *instance, mem api.Memory, st []uint64) status {
	// The VM id is ignored: queues are scoped by namespace, and a plugin
	// can only reach queues of its own.
	if _, ok := guestBytes(mem, a32(st, 0), a32(st, 1)); !ok {
		return statusInvalidMemoryAccess
	}
	name, ok := guestString(mem, a32(st, 2), a32(st, 3))
	if !ok || !writableU32(mem, a32(st, 4)) {
		return statusInvalidMemoryAccess
	}
	id, found := in.p.m.eng.shared.resolve(in.p.cfg.Namespace, name)
	if !found {
		return statusNotFound
	}
	putU32(mem, a32(st, 4), id)
	return statusOK
}

func hEnqueue(in *instance, mem api.Memory, st []uint64) status {
	item, ok := guestBytes(mem, a32(st, 1), a32(st, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	id := a32(st, 0)
	owner, s := in.p.m.eng.shared.enqueue(in.p.cfg.Namespace, id, item, in.p.limits.QueueItems)
	if s == statusOK && owner != nil {
		owner.signalReady(id)
	}
	return s
}

func hDequeue(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 1)) || !writableU32(mem, a32(st, 2)) {
		return statusInvalidMemoryAccess
	}
	item, s := in.p.m.eng.shared.dequeue(in.p.cfg.Namespace, a32(st, 0))
	if s != statusOK {
		return s
	}
	return in.returnBytes(mem, item, a32(st, 1), a32(st, 2))
}

// signalReady has proxy_on_queue_ready(id) run on the instance's root
// context, unless it is pending already: notifications coalesce, as
// Envoy's do. A burst of enqueues costs one callback (which dequeues
// what it finds), the host holds at most one pending notification per
// queue the instance owns, and one goroutine delivers them all. It may
// be called with any instance's mu held, this one's included.
func (in *instance) signalReady(id uint32) {
	if in.fns.queueReady == nil {
		return
	}
	in.readyMu.Lock()
	defer in.readyMu.Unlock()
	if slices.Contains(in.ready, id) {
		return
	}
	in.ready = append(in.ready, id)
	if !in.readyRun {
		in.readyRun = true
		go in.drainReady()
	}
}

// drainReady delivers the pending queue notifications, one guest call at
// a time, until none is left. A notification is taken off the pending
// list only once the instance is free to run it, so enqueues made in the
// meantime are covered by it, and those made during the callback
// schedule another.
func (in *instance) drainReady() {
	for {
		in.mu.Lock()
		in.readyMu.Lock()
		if len(in.ready) == 0 {
			in.readyRun = false
			in.readyMu.Unlock()
			in.mu.Unlock()
			return
		}
		id := in.ready[0]
		in.ready = append(in.ready[:0], in.ready[1:]...)
		in.readyMu.Unlock()
		in.queueReady(id)
		in.mu.Unlock()
	}
}

// queueReady runs proxy_on_queue_ready on the instance's root context.
// Called with mu held.
func (in *instance) queueReady(id uint32) {
	fn := in.fns.queueReady
	if fn == nil || in.dead.Load() || in.closed {
		return
	}
	prev := in.cur
	in.setEffective(nil)
	in.stack[0], in.stack[1] = uint64(in.rootID), uint64(id)
	_, _ = in.call("proxy_on_queue_ready", fn, 2)
	in.setEffective(prev)
}

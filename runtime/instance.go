package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

type instKey struct{}

// instOf returns the instance a host function was called from: every guest
// call is made with the instance's own context.
func instOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instKey{}).(*instance)
	return in
}

// callbacks are the guest exports the host calls; nil when not exported.
type callbacks struct {
	alloc, contextCreate, vmStart, configure, tick  api.Function
	reqHeaders, reqBody, reqTrailers                api.Function
	respHeaders, respBody, respTrailers             api.Function
	done, log, delete, httpCallResponse, queueReady api.Function
}

// instance is one sandboxed copy of a plugin's module. It holds a root
// context and multiplexes stream contexts; mu serialises guest calls.
type instance struct {
	p   *Plugin
	mod api.Module
	mem api.Memory
	ctx context.Context
	lin *linearMemory
	fns callbacks

	callStart atomic.Int64 // monotonic start of the running top-level call; 0 = idle
	callLimit atomic.Int64 // deadline of that call, in nanoseconds
	timedOut  atomic.Bool
	memOver   atomic.Bool
	dead      atomic.Bool
	active    atomic.Int32 // streams pinned to this instance
	entering  atomic.Int32 // new streams waiting for mu to start on it

	mu       sync.Mutex // one guest call at a time; guards the fields below
	depth    int
	fault    error // a nested guest call (the allocator) failed
	rootID   uint32
	nextID   uint32
	cur      *Stream // effective stream context; nil = root context
	streams  map[uint32]*Stream
	stack    [8]uint64
	astack   [1]uint64
	scratch  []byte
	callResp *httpCallResult // set during proxy_on_http_call_response
	callMaps [2]mapUse       // callResp's headers and trailers
	gen      uint64          // counts top-level guest calls; see mapUse
	sizer    headerSizer
	sizeFn   func(k, v string) bool // sizer.count, bound once
	tickStop chan struct{}
	closed   bool
	retired  bool // the plugin closed: close when the last stream ends

	tickPeriod time.Duration // set by the guest; replayed from a plugin snapshot
	queues     []uint32      // queues the guest registered

	// Queue notifications pending for the root context, one per queue
	// at most, and whether a goroutine is delivering them. readyMu is a
	// leaf lock, taken under mu or alone.
	readyMu  sync.Mutex
	ready    []uint32
	readyRun bool
}

// newInstance instantiates the plugin's module, restores or runs its
// initialisation, and starts its root context.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	m := p.m
	in := &instance{p: p, rootID: 1, nextID: 2, streams: make(map[uint32]*Stream)}
	in.sizeFn = in.sizer.count
	in.ctx = context.WithValue(context.Background(), instKey{}, in)
	in.lin = &linearMemory{limit: uint64(p.limits.MemoryPages) * 65536, exceeded: &in.memOver}
	in.callLimit.Store(int64(p.limits.CallDeadline))

	psnap := p.snapshot()
	m.snapMu.Lock()
	in.lin.snap = m.snap
	m.snapMu.Unlock()
	if psnap != nil {
		in.lin.snap = psnap.snap
	}
	actx := experimental.WithMemoryAllocator(in.ctx, in.lin)
	logw := &guestLog{p: p}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(cryptoRand{}).
		WithStdout(logw.stream(false)).
		WithStderr(logw.stream(true))
	m.ref(func() { m.live++ })
	mod, err := m.rt.InstantiateModule(actx, m.cm, cfg)
	if err != nil {
		in.lin.unmap()
		m.unref(func() { m.live-- })
		return nil, fmt.Errorf("runtime: instantiate %q: %w", p.name, err)
	}
	in.mod = mod
	in.mem = mod.Memory()
	in.resolve()
	m.eng.watch.add(in)

	in.mu.Lock()
	defer in.mu.Unlock()
	if psnap != nil {
		// The plugin's first instance was snapshotted with its root
		// context started: restore that and replay what the host holds.
		if err := psnap.snap.restore(in.mod, m.globals, in.lin.mapped && in.lin.snap == psnap.snap); err != nil {
			fe := &FilterError{Plugin: p.name, Kind: Trap, Callback: "snapshot restore", Err: err}
			in.discard(fe)
			return nil, fe
		}
		in.setTick(psnap.tick)
		for _, q := range psnap.queues {
			m.eng.shared.own(q, in)
		}
		in.queues = append(in.queues, psnap.queues...)
		return in, nil
	}
	if err := in.initialise(); err != nil {
		in.discard(err)
		return nil, err
	}
	if err := in.startRoot(); err != nil {
		in.discard(err)
		return nil, err
	}
	p.takeSnapshot(in)
	return in, nil
}

func (in *instance) resolve() {
	f := func(name string) api.Function { return in.mod.ExportedFunction(name) }
	in.fns = callbacks{
		alloc:            f("proxy_on_memory_allocate"),
		contextCreate:    f("proxy_on_context_create"),
		vmStart:          f("proxy_on_vm_start"),
		configure:        f("proxy_on_configure"),
		tick:             f("proxy_on_tick"),
		reqHeaders:       f("proxy_on_request_headers"),
		reqBody:          f("proxy_on_request_body"),
		reqTrailers:      f("proxy_on_request_trailers"),
		respHeaders:      f("proxy_on_response_headers"),
		respBody:         f("proxy_on_response_body"),
		respTrailers:     f("proxy_on_response_trailers"),
		done:             f("proxy_on_done"),
		log:              f("proxy_on_log"),
		delete:           f("proxy_on_delete"),
		httpCallResponse: f("proxy_on_http_call_response"),
		queueReady:       f("proxy_on_queue_ready"),
	}
	if in.fns.alloc == nil {
		in.fns.alloc = f("malloc")
	}
}

// initialise restores the module's snapshot into the instance, or runs
// _initialize (and main) and takes the snapshot. Called with mu held.
func (in *instance) initialise() error {
	m := in.p.m
	m.snapMu.Lock()
	snap := m.snap
	m.snapMu.Unlock()
	if snap != nil {
		if err := snap.restore(in.mod, m.globals, in.lin.mapped && in.lin.snap == snap); err != nil {
			return &FilterError{Plugin: in.p.name, Kind: Trap, Callback: "snapshot restore", Err: err}
		}
		return nil
	}
	var pristine []byte
	if m.stripped {
		m.snapMu.Lock()
		segs := m.segs
		m.snapMu.Unlock()
		for i, sg := range segs {
			if !in.mem.Write(sg.Offset, sg.Data) {
				return &FilterError{Plugin: in.p.name, Kind: Trap, Callback: "instantiate",
					Err: fmt.Errorf("data segment %d (%d bytes at %d) is outside memory", i, len(sg.Data), sg.Offset)}
			}
		}
	} else if m.canSnapshot {
		pristine = pristineCopy(in.mem)
	}
	if m.initFn == "" && !m.canSnapshot {
		return nil
	}
	in.callLimit.Store(int64(in.p.limits.InitDeadline))
	defer in.callLimit.Store(int64(in.p.limits.CallDeadline))
	if m.initFn != "" {
		if _, err := in.call(m.initFn, in.mod.ExportedFunction(m.initFn), 0); err != nil {
			return err
		}
	}
	if m.hasMain {
		if _, err := in.call("main", in.mod.ExportedFunction("main"), 2); err != nil {
			return err
		}
	}
	if m.canSnapshot {
		s, err := takeSnapshot(in.mod, pristine, m.globals)
		if err != nil {
			if m.stripped {
				return &FilterError{Plugin: in.p.name, Kind: Trap, Callback: "snapshot", Err: err}
			}
			in.p.log.Warn("runtime: no snapshot, instances will initialise from scratch", "err", err)
			m.snapMu.Lock()
			m.canSnapshot = false
			m.snapMu.Unlock()
			return nil
		}
		m.snapMu.Lock()
		if m.snap == nil {
			m.snap = s
			m.segs = nil
		}
		m.snapMu.Unlock()
	}
	return nil
}

// startRoot creates the root context and runs on_vm_start and
// on_configure. Called with mu held.
func (in *instance) startRoot() error {
	in.cur = nil
	in.callLimit.Store(int64(in.p.limits.InitDeadline))
	defer in.callLimit.Store(int64(in.p.limits.CallDeadline))
	if fn := in.fns.contextCreate; fn != nil {
		in.stack[0], in.stack[1] = uint64(in.rootID), 0
		if _, err := in.call("proxy_on_context_create", fn, 2); err != nil {
			return err
		}
	}
	if fn := in.fns.vmStart; fn != nil {
		in.stack[0], in.stack[1] = uint64(in.rootID), uint64(len(in.p.cfg.VMConfig))
		ok, err := in.call("proxy_on_vm_start", fn, 2)
		if err != nil {
			return err
		}
		if uint32(ok) == 0 {
			return &FilterError{Plugin: in.p.name, Kind: Refused, Callback: "proxy_on_vm_start",
				Err: errors.New("the filter refused its VM configuration (proxy_on_vm_start returned false)")}
		}
	}
	if fn := in.fns.configure; fn != nil {
		in.stack[0], in.stack[1] = uint64(in.rootID), uint64(len(in.p.cfg.Config))
		ok, err := in.call("proxy_on_configure", fn, 2)
		if err != nil {
			return err
		}
		if uint32(ok) == 0 {
			return &FilterError{Plugin: in.p.name, Kind: Refused, Callback: "proxy_on_configure",
				Err: errors.New("the filter refused its configuration (proxy_on_configure returned false)" + in.p.lastGuestError())}
		}
	}
	return nil
}

// call runs fn with the first n values of in.stack as parameters and
// returns its first result. Called with mu held. Any failure discards the
// instance and comes back as a *FilterError.
func (in *instance) call(name string, fn api.Function, n int) (uint64, error) {
	if in.dead.Load() {
		return 0, &FilterError{Plugin: in.p.name, Kind: Unavailable, Callback: name, Err: errInstanceGone}
	}
	top := in.depth == 0
	if top {
		in.gen++ // the edge may have changed any map since the last call
		in.callStart.Store(monotonic())
	}
	in.depth++
	err := fn.CallWithStack(in.ctx, in.stack[:max(n, 1)])
	in.depth--
	if top {
		in.callStart.Store(0)
	}
	if err == nil && in.fault == nil && !in.memOver.Load() && !in.timedOut.Load() {
		return in.stack[0], nil
	}
	fe := in.classify(name, err)
	in.discard(fe)
	return 0, fe
}

// classify turns a failed call into a FilterError.
func (in *instance) classify(name string, err error) *FilterError {
	fe := &FilterError{Plugin: in.p.name, Callback: name}
	var exit *sys.ExitError
	switch {
	case in.timedOut.Load():
		fe.Kind = Deadline
		fe.Err = fmt.Errorf("call ran longer than %v", time.Duration(in.callLimit.Load()))
	case in.memOver.Load():
		fe.Kind = Memory
		fe.Err = fmt.Errorf("memory grow past %d pages (%d MiB) refused", in.p.limits.MemoryPages, uint64(in.p.limits.MemoryPages)*64/1024)
	case in.fault != nil:
		fe.Kind = Trap
		fe.Err = in.fault
	case errors.As(err, &exit):
		fe.Kind = Trap
		fe.Err = fmt.Errorf("guest exited with code %d", exit.ExitCode())
	default:
		fe.Kind = Trap
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		fe.Err = errors.New(msg)
		in.p.log.Debug("runtime: guest trap", "callback", name, "trace", err.Error())
	}
	return fe
}

// discard retires a failed instance for good: it is closed, its memory is
// released once no call runs on it, and streams waiting on it wake up.
// Called with mu held.
func (in *instance) discard(cause error) {
	if in.dead.Swap(true) {
		return
	}
	in.p.noteFailure(in, cause)
	for _, s := range in.streams {
		s.wake()
	}
	in.closeLocked()
}

// closeLocked closes the module and releases its memory. Called with mu
// held, never while a guest call on this instance is running.
func (in *instance) closeLocked() {
	if in.closed {
		return
	}
	in.closed = true
	in.dead.Store(true)
	if in.tickStop != nil {
		close(in.tickStop)
		in.tickStop = nil
	}
	in.p.m.eng.watch.remove(in)
	in.p.m.eng.shared.dropOwner(in)
	_ = in.mod.Close(context.Background())
	in.lin.unmap()
	in.mem = nil
	m := in.p.m
	m.unref(func() { m.live-- })
}

// setEffective makes s (nil: the root context) the context host functions
// act on.
func (in *instance) setEffective(s *Stream) { in.cur = s }

// allocate asks the guest for size bytes, for data the host returns to it.
// A failing allocator discards the instance once the running call returns.
func (in *instance) allocate(size uint32) (uint32, bool) {
	if in.fns.alloc == nil || in.fault != nil {
		return 0, false
	}
	in.astack[0] = uint64(size)
	in.depth++
	err := in.fns.alloc.CallWithStack(in.ctx, in.astack[:])
	in.depth--
	if err != nil {
		in.fault = fmt.Errorf("proxy_on_memory_allocate: %w", err)
		return 0, false
	}
	return uint32(in.astack[0]), true
}

// returnBytes copies data into a guest allocation and stores its address
// and size at retPtr and retSize.
func (in *instance) returnBytes(mem api.Memory, data []byte, retPtr, retSize uint32) status {
	if !writableU32(mem, retPtr) || !writableU32(mem, retSize) {
		return statusInvalidMemoryAccess
	}
	if len(data) == 0 {
		putU32(mem, retPtr, 0)
		putU32(mem, retSize, 0)
		return statusOK
	}
	ptr, ok := in.allocate(uint32(len(data)))
	if !ok || ptr == 0 {
		return statusInternalFailure
	}
	if !mem.Write(ptr, data) {
		return statusInvalidMemoryAccess
	}
	putU32(mem, retPtr, ptr)
	putU32(mem, retSize, uint32(len(data)))
	return statusOK
}

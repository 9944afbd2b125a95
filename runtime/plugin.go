package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what one plugin may use. Zero fields take the defaults.
type Limits struct {
	// Instances is the number of long-lived instances (default GOMAXPROCS).
	Instances int
	// MemoryPages caps each instance's linear memory, in 64 KiB pages
	// (default 1024, 64 MiB).
	MemoryPages uint32
	// CallDeadline bounds one guest call (default 100 ms).
	CallDeadline time.Duration
	// InitDeadline bounds _initialize, on_vm_start and on_configure
	// (default 5 s).
	InitDeadline time.Duration
	// BodyBytes caps the body the host buffers for a pausing filter, and
	// the body of one proxy_http_call (default 1 MiB).
	BodyBytes int
	// HTTPCalls caps proxy_http_call per stream (default 4).
	HTTPCalls int
	// PendingHTTPCalls caps the plugin's proxy_http_call calls not yet
	// answered, over all its instances, from streams and the root
	// context (a tick or queue callback) alike: a call counts until its
	// proxy_on_http_call_response has returned. A call past it returns
	// INTERNAL_FAILURE and nothing is sent (default 64).
	PendingHTTPCalls int
	// HeaderBytes caps the names plus values, in bytes, of one header map
	// a filter changes or builds: request and response headers and
	// trailers, an HTTP call's request and response maps, a local
	// response's headers. An add, replace or set_pairs that would leave
	// the map past it returns BAD_ARGUMENT and changes nothing; a map
	// already past it (as the client or origin sent it) may still shrink
	// (default 64 KiB, the listener's default header limit).
	HeaderBytes int
	// HeaderPairs caps the pairs of one header map the same way
	// (default 256: Envoy's default header count limit is 100, and a
	// pair costs the host about a hundred bytes besides its text).
	HeaderPairs int
	// QueueItems caps the items one shared queue holds: an enqueue by
	// this plugin onto a queue that holds as many returns
	// INTERNAL_FAILURE (default 10,000). Queued items also count
	// against their namespace's shared byte budget (16 MiB).
	QueueItems int
	// StreamQueue caps the new streams waiting to enter one instance
	// (which runs one guest call at a time): when every instance has as
	// many waiting, NewStream fails at once with Kind Unavailable, and
	// the route's failure mode answers, instead of queueing behind a
	// filter stuck in its calls (default 64).
	StreamQueue int
}

// Defaults of the Limits fields that bound what a filter makes the host
// hold.
const (
	defaultPendingHTTPCalls = 64
	defaultHeaderBytes      = 64 << 10
	defaultHeaderPairs      = 256
	defaultQueueItems       = 10000
	defaultStreamQueue      = 64
)

func (l Limits) withDefaults() Limits {
	if l.Instances <= 0 {
		l.Instances = goruntime.GOMAXPROCS(0)
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = 1024
	}
	if l.CallDeadline <= 0 {
		l.CallDeadline = 100 * time.Millisecond
	}
	if l.InitDeadline <= 0 {
		l.InitDeadline = 5 * time.Second
	}
	if l.BodyBytes <= 0 {
		l.BodyBytes = 1 << 20
	}
	if l.HTTPCalls <= 0 {
		l.HTTPCalls = 4
	}
	if l.PendingHTTPCalls <= 0 {
		l.PendingHTTPCalls = defaultPendingHTTPCalls
	}
	if l.HeaderBytes <= 0 {
		l.HeaderBytes = defaultHeaderBytes
	}
	if l.HeaderPairs <= 0 {
		l.HeaderPairs = defaultHeaderPairs
	}
	if l.QueueItems <= 0 {
		l.QueueItems = defaultQueueItems
	}
	if l.StreamQueue <= 0 {
		l.StreamQueue = defaultStreamQueue
	}
	return l
}

// PluginConfig is what a plugin is made of besides its module.
type PluginConfig struct {
	// Name is the plugin's name: it is the plugin_name property and names
	// the filter in errors and logs.
	Name string
	// Namespace scopes shared data and shared queues (the edge uses the
	// tenant), so plugins of different namespaces never see each other's.
	Namespace string
	// Config is the plugin configuration (PLUGIN_CONFIGURATION).
	Config []byte
	// VMConfig is the VM configuration (VM_CONFIGURATION).
	VMConfig []byte
	// Limits bound the plugin.
	Limits Limits
	// Logger receives the guest's log lines; the edge tags it with the
	// tenant and filter. Nil: the engine's logger.
	Logger *slog.Logger
	// HTTP serves proxy_http_call. Nil: every call gets BAD_ARGUMENT.
	HTTP HTTPCaller
}

// Plugin is a module started with a configuration: a bounded set of
// instances, each with its root context, that streams are spread over.
type Plugin struct {
	m      *Module
	cfg    PluginConfig
	name   string
	limits Limits
	log    *slog.Logger

	mu     sync.Mutex
	slots  []*instance
	closed bool
	// making[i] is closed when the instance being made for slot i is
	// ready (or failed); nil when none is being made. Guarded by mu,
	// which is never held while an instance is made.
	making []chan struct{}

	failMu  sync.Mutex // a leaf lock: taken under p.mu or an instance's mu
	retryAt time.Time
	lastErr error

	crashes  atomic.Int64
	streak   atomic.Int32
	calls    atomic.Int64 // proxy_http_call not yet answered, all instances
	callsOut atomic.Bool  // a call was refused since calls was last below the limit
	rr       atomic.Uint32
	guestErr atomic.Pointer[string]

	metrics metricSet

	snapMu sync.Mutex
	snap   *pluginSnapshot
}

// pluginSnapshot is a plugin's first instance right after on_configure,
// and what the host holds for its root context, so further instances
// start configured without running the guest at all.
type pluginSnapshot struct {
	snap   *snapshot
	tick   time.Duration
	queues []uint32
}

func (p *Plugin) snapshot() *pluginSnapshot {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	return p.snap
}

// takeSnapshot snapshots in, just started, for the plugin's next
// instances. Only modules whose memory starts empty (data segments
// stripped) are snapshotted this way. Called with in.mu held.
func (p *Plugin) takeSnapshot(in *instance) {
	m := p.m
	if !m.stripped || !m.canSnapshot || p.snapshot() != nil {
		return
	}
	s, err := takeSnapshot(in.mod, nil, m.globals)
	if err != nil {
		p.log.Warn("runtime: no plugin snapshot", "err", err)
		return
	}
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	if p.snap == nil {
		p.snap = &pluginSnapshot{snap: s, tick: in.tickPeriod, queues: append([]uint32(nil), in.queues...)}
	} else if s.fd >= 0 {
		closeSnapshotFile(s.fd)
	}
}

// dropSnapshot releases the plugin's snapshot file.
func (p *Plugin) dropSnapshot() {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	if p.snap != nil && p.snap.snap.fd >= 0 {
		closeSnapshotFile(p.snap.snap.fd)
		p.snap.snap.fd = -1
	}
}

// NewPlugin starts a plugin: it creates the first instance, which runs
// _initialize, on_vm_start and on_configure, so a plugin that refuses its
// configuration or crashes at start is refused here with the reason.
func (e *Engine) NewPlugin(ctx context.Context, m *Module, cfg PluginConfig) (*Plugin, error) {
	if m.eng != e {
		return nil, errors.New("runtime: module belongs to another engine")
	}
	lim := cfg.Limits.withDefaults()
	if m.minMem > lim.MemoryPages {
		return nil, fmt.Errorf("runtime: filter %q: module needs %d memory pages at start, the limit is %d",
			cfg.Name, m.minMem, lim.MemoryPages)
	}
	log := cfg.Logger
	if log == nil {
		log = e.log.With("plugin", cfg.Name)
	}
	p := &Plugin{m: m, cfg: cfg, name: cfg.Name, limits: lim, log: log}
	p.slots = make([]*instance, lim.Instances)
	p.making = make([]chan struct{}, lim.Instances)
	m.ref(func() { m.refs++ })
	in, err := p.newInstance(ctx)
	if err != nil {
		m.unref(func() { m.refs-- })
		return nil, err
	}
	p.slots[0] = in
	e.plugins.Add(1)
	return p, nil
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Instances returns the number of live instances.
func (p *Plugin) Instances() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, in := range p.slots {
		if in != nil && !in.dead.Load() {
			n++
		}
	}
	return n
}

// Crashes returns how many instances have been discarded after a failure.
func (p *Plugin) Crashes() int64 { return p.crashes.Load() }

// Close stops the plugin: new streams are refused, idle instances close
// now, busy ones when their last stream ends.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	slots := p.slots
	p.slots = nil
	p.mu.Unlock()
	for _, in := range slots {
		if in == nil {
			continue
		}
		in.mu.Lock()
		in.retired = true
		if in.active.Load() == 0 {
			in.closeLocked()
		}
		in.mu.Unlock()
	}
	p.dropSnapshot()
	p.m.unref(func() { p.m.refs-- })
	p.m.eng.plugins.Add(-1)
	return nil
}

// acquire picks the instance a new stream is pinned to, creating or
// replacing instances as needed (but not while the plugin is backed off).
// The instance is counted as entered (in.entering); NewStream uncounts it
// once it holds the instance.
//
// An instance is made without the plugin's lock: other streams meanwhile
// use the live instances, or wait for it only as long as their context
// lets them. A stream finds every live instance with StreamQueue streams
// already waiting to enter: it fails at once (Unavailable).
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, &FilterError{Plugin: p.name, Kind: Unavailable, Err: errClosed}
		}
		// Close empties slots: read its length under mu, after the check.
		i := int(p.rr.Add(1)) % len(p.slots)
		in := p.slots[i]
		if in != nil && !in.dead.Load() {
			in, err := p.enter(in)
			p.mu.Unlock()
			return in, err
		}
		p.failMu.Lock()
		retryAt, lastErr := p.retryAt, p.lastErr
		p.failMu.Unlock()
		if time.Now().Before(retryAt) {
			// Backed off: use any live instance, else fail fast.
			if o := p.live(); o != nil {
				in, err := p.enter(o)
				p.mu.Unlock()
				return in, err
			}
			p.mu.Unlock()
			return nil, &FilterError{Plugin: p.name, Kind: Unavailable,
				Err: fmt.Errorf("instances keep failing, next attempt in %v; last failure: %v",
					time.Until(retryAt).Round(time.Millisecond), lastErr)}
		}
		if ch := p.making[i]; ch != nil {
			// Being made by another stream: a live instance will do.
			if o := p.live(); o != nil {
				in, err := p.enter(o)
				p.mu.Unlock()
				return in, err
			}
			p.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, &FilterError{Plugin: p.name, Kind: Unavailable,
					Err: fmt.Errorf("gave up waiting for an instance to start: %w", ctx.Err())}
			}
		}
		ch := make(chan struct{})
		p.making[i] = ch
		p.mu.Unlock()
		// Not cut short by this request's end: the instance serves others.
		fresh, err := p.newInstance(context.WithoutCancel(ctx))
		p.mu.Lock()
		p.making[i] = nil
		close(ch)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		if p.closed {
			p.mu.Unlock()
			fresh.mu.Lock()
			fresh.closeLocked()
			fresh.mu.Unlock()
			return nil, &FilterError{Plugin: p.name, Kind: Unavailable, Err: errClosed}
		}
		p.slots[i] = fresh
		in, err = p.enter(fresh)
		p.mu.Unlock()
		return in, err
	}
}

// live returns a live instance, the one with the fewest streams waiting
// to enter, or nil. Called with p.mu held.
func (p *Plugin) live() *instance {
	var best *instance
	for _, o := range p.slots {
		if o != nil && !o.dead.Load() && (best == nil || o.entering.Load() < best.entering.Load()) {
			best = o
		}
	}
	return best
}

// enter counts a new stream into in, or into the live instance with the
// fewest waiting when in has StreamQueue waiting already; when every one
// has, it fails. Called with p.mu held.
func (p *Plugin) enter(in *instance) (*instance, error) {
	limit := int32(p.limits.StreamQueue)
	if in.entering.Load() >= limit {
		if o := p.live(); o != nil && o.entering.Load() < limit {
			in = o
		} else {
			return nil, &FilterError{Plugin: p.name, Kind: Unavailable,
				Err: fmt.Errorf("every instance is busy, with %d new streams waiting on each", limit)}
		}
	}
	in.entering.Add(1)
	in.active.Add(1)
	return in, nil
}

// noteFailure counts a discarded instance and sets the back-off: the
// first failure in a row is replaced at once, then 50 ms, doubling to 10 s.
func (p *Plugin) noteFailure(in *instance, cause error) {
	p.crashes.Add(1)
	n := p.streak.Add(1)
	p.log.Warn("runtime: instance discarded", "plugin", p.name, "err", cause, "failures_in_a_row", n)
	var wait time.Duration
	if n > 1 {
		wait = min(50*time.Millisecond<<min(n-2, 16), 10*time.Second)
	}
	p.failMu.Lock()
	p.retryAt = time.Now().Add(wait)
	p.lastErr = cause
	p.failMu.Unlock()
}

// noteSuccess resets the failure streak after a stream completed cleanly.
func (p *Plugin) noteSuccess() {
	if p.streak.Load() != 0 {
		p.streak.Store(0)
	}
}

// lastGuestError returns the last error-level line the guest logged,
// formatted to append to a refusal message.
func (p *Plugin) lastGuestError() string {
	if s := p.guestErr.Load(); s != nil {
		return ": " + *s
	}
	return ""
}

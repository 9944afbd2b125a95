package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// Reloader keeps a node's tenant layer in step with the store: it reads
// every tenant, hands the result to Apply, then watches for the next
// change. A node that loses the store keeps serving what it applied last
// and catches up (reads everything again) when the store returns; a
// change Apply refuses leaves the running configuration in place and is
// retried.
type Reloader struct {
	// Store is watched. Required.
	Store store.Store
	// StoreType names it in Status.
	StoreType string
	// Node names this node in the store's record of served revisions.
	Node string
	// Apply makes tenants the node's tenant layer, read at store revision
	// rev. An error leaves the node's configuration as it was.
	Apply func(ctx context.Context, tenants []config.Tenant, rev int64) error
	// Logger receives what happens.
	Logger *slog.Logger
	// Cache, if set, is a file where the last tenant layer applied whole
	// is kept: a node started while its store is unreachable applies it
	// and serves it until the store answers.
	Cache string

	mu    sync.Mutex
	st    Status
	ready chan struct{}
	once  sync.Once
}

// ErrPartial is wrapped by an Apply error when the node applied the tenant
// layer except some tenants, which keep their last good configuration:
// the node is serving (it is ready), but not the whole revision, so the
// reloader reports the error and tries again.
var ErrPartial = errors.New("control: the tenant layer was applied in part")

// Timing of the reloader.
const (
	// listTimeout bounds one read of the whole tenant layer.
	listTimeout = 10 * time.Second
	// probeEvery is how often the store's health is checked while
	// waiting for changes (a watch on a lost etcd just waits).
	probeEvery = 2 * time.Second
	// retryApply is how soon a refused change is tried again.
	retryApply = 5 * time.Second
	// settle gathers the events of a burst of changes into one apply.
	settle = 5 * time.Millisecond
	// maxBackoff bounds the wait between reads of an unreachable store.
	maxBackoff = 5 * time.Second
	// firstListTimeout bounds the first read when a cached layer could
	// be served instead.
	firstListTimeout = 3 * time.Second
)

func (r *Reloader) init() {
	r.once.Do(func() {
		r.ready = make(chan struct{})
		r.st = Status{Node: r.Node, Store: r.StoreType}
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Ready is closed once the first snapshot from the store is active.
func (r *Reloader) Ready() <-chan struct{} {
	r.init()
	return r.ready
}

// Status is the node's view of the tenant layer.
func (r *Reloader) Status() Status {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *Reloader) setStore(ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.StoreOK && !ok {
		r.Logger.Warn("store unreachable: serving the last configuration applied", "revision", r.st.Revision, "err", err)
	} else if !r.st.StoreOK && ok && r.st.Ready {
		r.Logger.Info("store reachable again: catching up")
	}
	r.st.StoreOK = ok
	if err != nil {
		r.st.LastError = err.Error()
	}
}

// Run follows the store until ctx ends.
func (r *Reloader) Run(ctx context.Context) {
	r.init()
	backoff := 100 * time.Millisecond
	var applied int64 = -1
	triedCache := r.Cache == ""
	for ctx.Err() == nil {
		timeout := listTimeout
		if !triedCache {
			timeout = firstListTimeout // a cached layer is waiting
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		kvs, rev, err := r.Store.List(lctx, tenantsPrefix)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.setStore(false, fmt.Errorf("control: read the tenant layer: %w", err))
			if !triedCache {
				triedCache = true
				if rev, ok := r.fromCache(ctx); ok {
					applied = rev
				}
			}
			sleep(ctx, backoff)
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		r.setStore(true, nil)
		r.mu.Lock()
		r.st.seen = rev
		if rev == applied {
			r.st.FromCache = false // the store says the cached layer is current
		}
		r.mu.Unlock()
		failed := false
		if rev != applied {
			if err := r.load(ctx, kvs, rev); err != nil {
				failed = true
				r.Logger.Error("the store's tenant layer was not applied; the node keeps serving its last configuration", "revision", rev, "err", err)
				r.mu.Lock()
				r.st.LastError, r.st.tenantErrs = err.Error(), tenantErrors(err)
				r.mu.Unlock()
			} else {
				applied = rev
			}
		}
		r.wait(ctx, rev, failed)
	}
}

// wait returns when the tenant layer changed after rev, the watch
// failed, the store came back after a loss, or (failed) it is time to
// retry the last apply.
func (r *Reloader) wait(ctx context.Context, rev int64, failed bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := r.Store.Watch(wctx, tenantsPrefix, rev)
	probe := time.NewTicker(probeEvery)
	defer probe.Stop()
	var retry <-chan time.Time
	if failed {
		t := time.NewTimer(retryApply)
		defer t.Stop()
		retry = t.C
	}
	lost := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry:
			return
		case ev, ok := <-events:
			if !ok || ev.Err != nil {
				if ok && !errors.Is(ev.Err, store.ErrCompacted) {
					r.setStore(false, ev.Err)
					sleep(ctx, time.Second)
				}
				return
			}
			// Gather the rest of a burst, then read once.
			t := time.NewTimer(settle)
			for gathering := true; gathering; {
				select {
				case _, ok := <-events:
					gathering = ok
				case <-t.C:
					gathering = false
				}
			}
			t.Stop()
			return
		case <-probe.C:
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			_, err := r.Store.Rev(pctx)
			pcancel()
			switch {
			case err != nil && !lost:
				lost = true
				r.setStore(false, fmt.Errorf("control: store: %w", err))
			case err == nil && lost:
				return // read everything again: the watch may have missed changes
			}
		}
	}
}

// fromCache applies the tenant layer cached on disk, for a node started
// while its store is unreachable, and returns its revision.
func (r *Reloader) fromCache(ctx context.Context) (int64, bool) {
	kvs, c, err := loadLayer(r.Cache)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err == nil {
		var tenants []config.Tenant
		if tenants, err = Tenants(kvs); err == nil {
			err = r.Apply(ctx, tenants, c.Revision)
		}
	}
	if err != nil {
		r.Logger.Error("the tenant layer cached on disk was not applied", "err", err)
		return 0, false
	}
	r.mu.Lock()
	r.st.Revision, r.st.AppliedAt, r.st.FromCache = c.Revision, c.SavedAt, true
	r.mu.Unlock()
	r.markReady()
	r.Logger.Warn("store unreachable at start: serving the tenant layer cached on disk until it answers", "revision", c.Revision, "saved_at", c.SavedAt)
	return c.Revision, true
}

// markReady records that a snapshot of the store's tenant layer is
// active, and closes Ready the first time.
func (r *Reloader) markReady() {
	r.mu.Lock()
	first := !r.st.Ready
	r.st.Ready = true
	r.mu.Unlock()
	if first {
		close(r.ready)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// load turns the tenant layer read at rev into configuration and applies
// it.
func (r *Reloader) load(ctx context.Context, kvs []store.KV, rev int64) error {
	tenants, err := Tenants(kvs)
	if err != nil {
		return err
	}
	if err := r.Apply(ctx, tenants, rev); err != nil {
		if errors.Is(err, ErrPartial) {
			r.markReady()
		}
		return err
	}
	now := time.Now().UTC()
	r.mu.Lock()
	r.st.Revision, r.st.AppliedAt, r.st.LastError, r.st.FromCache, r.st.tenantErrs = rev, now, "", false, nil
	r.mu.Unlock()
	r.markReady()
	if r.Cache != "" {
		if err := saveLayer(r.Cache, kvs, rev, now); err != nil {
			r.Logger.Warn("the tenant layer was applied but not cached on disk", "err", err)
		}
	}
	r.Logger.Info("tenant layer applied", "revision", rev, "tenants", len(tenants))
	if r.Node != "" {
		nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := r.Store.Txn(nctx, nil, []store.Op{{Key: nodeKey(r.Node), Value: jsonOf(nodeDoc{Node: r.Node, Revision: rev, AppliedAt: now})}}); err != nil {
			r.Logger.Debug("could not record the served revision", "err", err)
		}
	}
	return nil
}

// Tenants turns the store's tenants/ keys into node configuration, by
// tenant name. Route filters name "sha256:HEX" modules, for Modules to
// load.
func Tenants(kvs []store.KV) ([]config.Tenant, error) {
	states, errs := parseTenants(kvs)
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]config.Tenant, 0, len(names))
	for _, n := range names {
		t, problems := states[n].config()
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("control: tenant %q: %w", n, p))
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// tenantErrors splits an error of the tenant layer by the tenant each
// part is about: the parts that name one at their start (`tenant "x"
// …`, `control: tenant "x": …`, or a key under tenants/x/), found
// through wrapping and errors.Join. A part that names none (the store,
// the node) is the operator's only.
func tenantErrors(err error) map[string]string {
	out := map[string]string{}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		msg := err.Error()
		multi, _ := err.(interface{ Unwrap() []error })
		if multi != nil && isJoin(msg, multi.Unwrap()) {
			for _, e := range multi.Unwrap() {
				walk(e) // an errors.Join: each part on its own
			}
			return
		}
		if name := tenantOfMsg(msg); name != "" {
			if out[name] != "" {
				msg = out[name] + "\n" + msg
			}
			out[name] = msg
			return
		}
		if multi != nil {
			for _, e := range multi.Unwrap() {
				walk(e)
			}
		} else if u, ok := err.(interface{ Unwrap() error }); ok {
			walk(u.Unwrap())
		}
	}
	walk(err)
	if len(out) == 0 {
		return nil
	}
	return out
}

// isJoin reports whether msg is parts' messages joined by newlines, as
// errors.Join writes them.
func isJoin(msg string, parts []error) bool {
	ms := make([]string, 0, len(parts))
	for _, p := range parts {
		if p != nil {
			ms = append(ms, p.Error())
		}
	}
	return msg == strings.Join(ms, "\n")
}

// tenantOfMsg is the tenant an error message starts by naming, or "".
func tenantOfMsg(msg string) string {
	msg = strings.TrimPrefix(msg, "control: ")
	var rest string
	if r, ok := strings.CutPrefix(msg, "tenant \""); ok {
		rest, _, _ = strings.Cut(r, "\"")
	} else if r, ok := strings.CutPrefix(msg, "key \""+tenantsPrefix); ok {
		rest, _, _ = strings.Cut(r, "/")
	}
	if checkTenantName(rest) != nil {
		return ""
	}
	return rest
}

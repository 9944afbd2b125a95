package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

// pluginKey identifies a started filter: the same tenant, name, module
// bytes, configuration, VM configuration, limits (after the tenant's caps) and call
// allow-list make the same plugin, which a new snapshot keeps rather than
// restarting. A change of the tenant's caps that changes the limits
// restarts the plugin.
type pluginKey struct {
	tenant, name, hash, config, vmConfig, limits, calls string
}

// filterRef is one filter of a route, ready to serve.
type filterRef struct {
	name     string
	plugin   *runtime.Plugin
	failOpen bool
	reqBody  bool     // the module exports proxy_on_request_body or _trailers
	quiet    *logGate // its Unavailable failures' log lines
}

// Filters configures Wasm filters for a Server.
type Filters struct {
	// Engine runs the filters. Nil: a route with filters is refused.
	Engine *runtime.Engine
	// Logger receives the filters' log lines, tagged with tenant and
	// filter.
	Logger *slog.Logger
	// Load returns the bytes of a filter's module, as named by its
	// configuration. Nil: the module is a file path, read from disk.
	Load func(module string) ([]byte, error)
	// Caps are the node's maximums on filter limits (the node file's
	// limits.filters, its defaults applied by the caller). A filter limit
	// left at 0 takes the lower of the runtime's default and the
	// maximum; one set above the maximum (which validation refuses) is
	// lowered to it. A zero field sets no maximum.
	Caps config.FilterCaps
}

// buildFilters starts (or keeps from cur) every filter of every route.
// It returns all problems at once, each naming the route and filter.
func (s *Server) buildFilters(tenants []config.Tenant, cur, snap *Snapshot) ([][][]*filterRef, error) {
	var errs []error
	out := make([][][]*filterRef, len(tenants))
	modules := map[string][]byte{} // path -> bytes read once per build
	for ti := range tenants {
		t := &tenants[ti]
		out[ti] = make([][]*filterRef, len(t.Routes))
		for ri := range t.Routes {
			for fi := range t.Routes[ri].Filters {
				f := &t.Routes[ri].Filters[fi]
				path := fmt.Sprintf("tenants[%d].routes[%d].filters[%d]", ti, ri, fi)
				ref, err := s.startFilter(t, f, modules, cur, snap)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s (filter %q): %w", path, f.Name, err))
					continue
				}
				out[ti][ri] = append(out[ti][ri], ref)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func (s *Server) startFilter(t *config.Tenant, f *config.Filter, modules map[string][]byte, cur, snap *Snapshot) (*filterRef, error) {
	if s.filters.Engine == nil {
		return nil, errors.New("proxy: this node runs no WebAssembly engine")
	}
	bin, ok := modules[f.Module]
	if !ok {
		load := s.filters.Load
		if load == nil {
			load = os.ReadFile
		}
		b, err := load(f.Module)
		if err != nil {
			return nil, fmt.Errorf("proxy: read module: %w", err)
		}
		bin = b
		modules[f.Module] = b
	}
	lim := filterLimits(&f.Limits, &t.Limits, &s.filters.Caps)
	calls := slices.Clone(f.HTTPUpstreams)
	slices.Sort(calls)
	key := pluginKey{
		tenant: t.Name, name: f.Name, hash: runtime.Hash(bin), config: string(f.Config),
		vmConfig: string(f.VMConfig), limits: fmt.Sprintf("%+v", lim), calls: strings.Join(calls, "\x00"),
	}
	ref := &filterRef{name: f.Name, failOpen: f.FailureMode == config.FailOpen, quiet: new(logGate)}
	if p, ok := snap.plugins[key]; ok {
		ref.plugin, ref.reqBody = p, p.SeesRequestBody()
		return ref, nil
	}
	if p, ok := cur.plugins[key]; ok {
		snap.plugins[key] = p
		ref.plugin, ref.reqBody = p, p.SeesRequestBody()
		return ref, nil
	}
	ctx := context.Background()
	m, err := s.filters.Engine.Compile(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer m.Close(ctx) // the plugin holds its own reference
	if !m.HTTPFilter() {
		return nil, notHTTPFilter(m)
	}
	log := s.filters.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := s.filters.Engine.NewPlugin(ctx, m, runtime.PluginConfig{
		Name:      f.Name,
		Namespace: t.Name,
		Config:    []byte(f.Config),
		VMConfig:  []byte(f.VMConfig),
		Limits:    lim,
		Logger:    log.With("tenant", t.Name, "filter", f.Name),
		HTTP:      &poolCaller{tenant: t.Name, allowed: calls, srv: s, timeout: 5 * time.Second},
	})
	if err != nil {
		return nil, err
	}
	snap.plugins[key] = p
	ref.plugin, ref.reqBody = p, p.SeesRequestBody()
	return ref, nil
}

// notHTTPFilter is the refusal of a module that exports no HTTP stream
// callback: nothing of it would run on the route's requests.
func notHTTPFilter(m *runtime.Module) error {
	what := "it cannot run on an HTTP route"
	if m.NetworkFilter() {
		what = "it is a network (TCP) filter and cannot run on an HTTP route"
	}
	return fmt.Errorf("proxy: the module exports no HTTP callbacks (%s); %s",
		strings.Join(runtime.HTTPCallbacks(), ", "), what)
}

// filterLimits are a filter's runtime limits: its own, lowered to the
// node's maximums (n), then tightened by its tenant's caps (t). Each
// maximum or cap c makes a limit the lower of the filter's own (or, left
// at 0, the runtime's default) and c; neither ever raises a limit. A
// limit no maximum or cap lowers stays 0, for the runtime's default.
// config.ValidateTenantWith counts memory the same way.
func filterLimits(f *config.FilterLimits, t *config.TenantLimits, n *config.FilterCaps) runtime.Limits {
	return runtime.Limits{
		Instances:    capped(f.Instances, goruntime.GOMAXPROCS(0), n.MaxInstances),
		MemoryPages:  uint32((capped(f.MaxMemoryBytes, config.RuntimeFilterMemoryBytes, n.MaxMemoryBytes, t.FilterMaxMemoryBytes) + 65535) / 65536),
		CallDeadline: capped(f.CallDeadline.D(), config.RuntimeFilterCallDeadline, n.MaxCallDeadline.D(), t.FilterCallDeadline.D()),
		BodyBytes:    int(capped(f.MaxBodyBytes, config.RuntimeFilterBodyBytes, n.MaxBodyBytes)),
		HTTPCalls:    capped(f.MaxHTTPCalls, config.RuntimeFilterHTTPCalls, n.MaxHTTPCalls),
	}
}

// capped is own (0 = the runtime's default def) lowered to each positive
// cap below it; 0 when no cap lowers a default.
func capped[T int | int64 | time.Duration](own, def T, caps ...T) T {
	v := own
	for _, c := range caps {
		if c > 0 && c < cmp.Or(v, def) {
			v = c
		}
	}
	return v
}

// closeUnused closes the plugins of snap that keep does not use.
func closeUnused(snap, keep *Snapshot) {
	for k, p := range snap.plugins {
		if keep == nil || keep.plugins[k] != p {
			p.Close(context.Background())
		}
	}
}

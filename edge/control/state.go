package control

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// tenantState is one tenant as read from the store in one List: every
// object with the revision that last changed it.
type tenantState struct {
	name      string
	doc       tenantDoc
	rev       int64 // of tenants/NAME/tenant; 0 = no such tenant
	serialRev int64 // of tenants/NAME/serial
	domains   map[string]int64
	tokens    map[string]tokenState
	upstreams map[string]upstreamState
	filters   map[string]filterState
	routes    []rawDoc // as written, each a JSON object
	routesRev int64
	// base is the state this one was cloned from, to be changed: what
	// the quotas compare with. nil: read from the store.
	base *tenantState
}

type tokenState struct {
	doc tokenDoc
	rev int64
}

type upstreamState struct {
	doc Upstream // Revision unset
	rev int64
}

type filterState struct {
	doc filterDoc
	rev int64
}

// rawDoc is one JSON document as a tenant wrote it.
type rawDoc = []byte

func newTenantState(name string) *tenantState {
	return &tenantState{
		name:      name,
		domains:   map[string]int64{},
		tokens:    map[string]tokenState{},
		upstreams: map[string]upstreamState{},
		filters:   map[string]filterState{},
	}
}

// parseTenants groups the keys under tenants/ by tenant. A value that
// does not decode is reported: the API never writes one, so it means the
// store was changed behind the API's back.
func parseTenants(kvs []store.KV) (map[string]*tenantState, []error) {
	out := map[string]*tenantState{}
	var errs []error
	for _, kv := range kvs {
		rest, ok := strings.CutPrefix(kv.Key, tenantsPrefix)
		if !ok {
			continue
		}
		name, sub, ok := strings.Cut(rest, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("control: stray key %q", kv.Key))
			continue
		}
		ts := out[name]
		if ts == nil {
			ts = newTenantState(name)
			out[name] = ts
		}
		if err := ts.add(sub, kv); err != nil {
			errs = append(errs, fmt.Errorf("control: key %q: %w", kv.Key, err))
		}
	}
	for name, ts := range out {
		if ts.rev == 0 { // leftovers of a tenant being deleted
			delete(out, name)
		}
	}
	return out, errs
}

// add records one of the tenant's keys; sub is the key after
// tenants/NAME/.
func (ts *tenantState) add(sub string, kv store.KV) error {
	kind, id, _ := strings.Cut(sub, "/")
	switch kind {
	case "tenant":
		ts.rev = kv.ModRev
		return unjson(kv.Value, &ts.doc)
	case "serial":
		ts.serialRev = kv.ModRev
	case "domains":
		ts.domains[id] = kv.ModRev
	case "tokens":
		var d tokenDoc
		if err := unjson(kv.Value, &d); err != nil {
			return err
		}
		ts.tokens[id] = tokenState{d, kv.ModRev}
	case "upstreams":
		var u Upstream
		if err := unjson(kv.Value, &u); err != nil {
			return err
		}
		u.Name = id
		ts.upstreams[id] = upstreamState{u, kv.ModRev}
	case "filters":
		var f filterDoc
		if err := unjson(kv.Value, &f); err != nil {
			return err
		}
		ts.filters[id] = filterState{f, kv.ModRev}
	case "routes":
		var rs []rawDoc
		if err := unjson(kv.Value, &rs); err != nil {
			return err
		}
		ts.routes, ts.routesRev = rs, kv.ModRev
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}

// clone copies ts deeply enough for a change to edit the copy.
func (ts *tenantState) clone() *tenantState {
	c := *ts
	c.base = ts
	c.domains = maps(ts.domains)
	c.tokens = maps(ts.tokens)
	c.upstreams = maps(ts.upstreams)
	c.filters = maps(ts.filters)
	c.routes = slices.Clone(ts.routes)
	return &c
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// domainList is the tenant's domains, sorted.
func (ts *tenantState) domainList() []string {
	ds := make([]string, 0, len(ts.domains))
	for d := range ts.domains {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// api is the tenant as GET /v1/tenants/{tenant} shows it.
func (ts *tenantState) api() Tenant {
	return Tenant{Name: ts.name, Limits: ts.doc.Limits, Domains: ts.domainList(), Revision: ts.rev}
}

// config turns the tenant into its node configuration. Route filters
// name uploaded filters; they are resolved to their current module
// ("sha256:HEX"). Problems have paths relative to the tenant's documents:
// routes[0].filters[1].module, upstreams[web].endpoints.
func (ts *tenantState) config() (config.Tenant, []*config.FieldError) {
	t := config.Tenant{Name: ts.name, Domains: ts.domainList()}
	ts.doc.Limits.apply(&t)
	var problems []*config.FieldError
	names := make([]string, 0, len(ts.upstreams))
	for n := range ts.upstreams {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		u := ts.upstreams[n].doc
		t.Upstreams = append(t.Upstreams, config.Upstream{Name: n, Endpoints: u.Endpoints, MaxIdleConns: u.MaxIdleConns})
	}
	for i, raw := range ts.routes {
		var r config.Route
		if err := config.DecodeStrict(raw, "", &r); err != nil {
			problems = append(problems, prefixed(fmt.Sprintf("routes[%d]", i), err)...)
			continue
		}
		if len(r.Filters) > 0 {
			r.Filters = slices.Clone(r.Filters)
		}
		for j := range r.Filters {
			f := &r.Filters[j]
			fs, ok := ts.filters[f.Module]
			if !ok {
				if f.Module != "" {
					problems = append(problems, &config.FieldError{
						Path: fmt.Sprintf("routes[%d].filters[%d].module", i, j),
						Msg:  fmt.Sprintf("tenant %q has no filter %q (upload it with PUT /v1/tenants/%s/filters/%s)", ts.name, f.Module, ts.name, f.Module),
					})
				}
				continue
			}
			f.Module = moduleRef(fs.doc.current().SHA256)
		}
		t.Routes = append(t.Routes, r)
	}
	return t, problems
}

// prefixed returns err's problems with path prefixed by p.
func prefixed(p string, err error) []*config.FieldError {
	var out []*config.FieldError
	if ce, ok := err.(*config.Error); ok {
		for _, fe := range ce.Problems {
			c := *fe
			switch {
			case c.Path == "":
				c.Path = p
			case strings.HasPrefix(c.Path, "["):
				c.Path = p + c.Path
			default:
				c.Path = p + "." + c.Path
			}
			out = append(out, &c)
		}
		return out
	}
	return []*config.FieldError{{Path: p, Msg: err.Error()}}
}

// usesFilter lists the paths of route filters that name filter.
func (ts *tenantState) usesFilter(filter string) []string {
	var uses []string
	for i, raw := range ts.routes {
		var r config.Route
		if config.DecodeStrict(raw, "", &r) != nil {
			continue
		}
		for j, f := range r.Filters {
			if f.Module == filter {
				uses = append(uses, fmt.Sprintf("routes[%d].filters[%d]", i, j))
			}
		}
	}
	return uses
}

// usesUpstream lists the paths of routes and route filters that name pool.
func (ts *tenantState) usesUpstream(pool string) []string {
	var uses []string
	for i, raw := range ts.routes {
		var r config.Route
		if config.DecodeStrict(raw, "", &r) != nil {
			continue
		}
		if r.Upstream == pool {
			uses = append(uses, fmt.Sprintf("routes[%d].upstream", i))
		}
		for j, f := range r.Filters {
			for k, u := range f.HTTPUpstreams {
				if u == pool {
					uses = append(uses, fmt.Sprintf("routes[%d].filters[%d].http_upstreams[%d]", i, j, k))
				}
			}
		}
	}
	return uses
}

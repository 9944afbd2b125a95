package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// The tenant's endpoints: filters, upstream pools and routes. The
// operator may use them too.

// objectName is what filter and pool names may be: they are path
// segments and store keys.
var objectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func checkObjectName(kind, name string) error {
	if !objectName.MatchString(name) {
		return errorf(http.StatusBadRequest, "%s name %q: 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit", kind, name)
	}
	return nil
}

// validate checks a candidate tenant as a whole: its documents decode,
// routes name only its own domains, pools and filters, every value is
// valid, and, when filters is set, every route filter compiles and
// starts with its configuration. All problems come back at once, as a
// 400.
func (a *Admin) validate(r *http.Request, cand *tenantState, filters bool) error {
	return a.validateWith(r, cand, filters, nil)
}

// validateWith is validate, with modules not yet in the store: by hex
// SHA-256.
func (a *Admin) validateWith(r *http.Request, cand *tenantState, filters bool, pending map[string][]byte) error {
	if err := a.checkQuotas(cand); err != nil {
		return err
	}
	t, problems := cand.config()
	if err := config.ValidateTenantWith(&t, a.api.FilterCaps); err != nil {
		if ce, ok := err.(*config.Error); ok {
			problems = append(problems, ce.Problems...)
		}
	}
	if err := config.CheckTenantEgress(&t, a.api.Egress); err != nil {
		if ce, ok := err.(*config.Error); ok {
			problems = append(problems, ce.Problems...)
		}
	}
	if len(problems) > 0 {
		names := make([]string, len(t.Upstreams))
		for i, u := range t.Upstreams {
			names[i] = u.Name
		}
		for _, p := range problems {
			p.Path = poolPath(p.Path, names)
		}
		return invalid(fmt.Sprintf("tenant %q: the change is invalid (%d problem(s)); nothing was changed", cand.name, len(problems)), problems)
	}
	if filters && hasRouteFilters(t) {
		// Starting the route filters is an upload check's work: it takes
		// a worker of the pool, unless the request holds one already.
		if r.Context().Value(holdingWorker{}) == nil {
			release, err := a.checkWorker(r.Context())
			if err != nil {
				return err
			}
			defer release()
		}
		if err := a.checkFilters(r.Context(), t, pending); err != nil {
			return errorf(http.StatusBadRequest, "tenant %q: a filter does not start; nothing was changed: %v", cand.name, err)
		}
	}
	return nil
}

// holdingWorker marks a request's context once it holds a worker of the
// upload pool.
type holdingWorker struct{}

// checkWorker takes a worker of the upload pool for a check that
// compiles and starts filters: 429 when the queue is full.
func (a *Admin) checkWorker(ctx context.Context) (release func(), err error) {
	if err := a.uploads.acquire(ctx); err != nil {
		if err == errPoolFull {
			return nil, &apiError{status: http.StatusTooManyRequests, retryAfter: 1,
				msg: fmt.Sprintf("the node is checking %d uploads with %d more waiting: retry; nothing was changed", cap(a.uploads.slots), a.uploads.queue)}
		}
		return nil, errorf(http.StatusServiceUnavailable, "abandoned while waiting to be checked: %v", err)
	}
	return a.uploads.release, nil
}

// hasRouteFilters reports whether any of t's routes has a filter.
func hasRouteFilters(t config.Tenant) bool {
	for _, r := range t.Routes {
		if len(r.Filters) > 0 {
			return true
		}
	}
	return false
}

// poolPath names pools by name, not by their index in the sorted list a
// tenant never wrote: upstreams[2].endpoints[0] → upstreams[web].endpoints[0].
func poolPath(p string, names []string) string {
	rest, ok := strings.CutPrefix(p, "upstreams[")
	if !ok {
		return p
	}
	i := 0
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		i = i*10 + int(rest[n]-'0')
		n++
	}
	if n == 0 || n >= len(rest) || rest[n] != ']' || i >= len(names) {
		return p
	}
	return "upstreams[" + names[i] + "]" + rest[n+1:]
}

// filterAPI is a filter as the API shows it.
func filterAPI(f filterDoc, rev int64) Filter {
	cur := f.current()
	vs := slices.Clone(f.Versions)
	if vs == nil {
		vs = []FilterVersion{}
	}
	return Filter{Name: f.Name, Version: cur.Version, SHA256: cur.SHA256, Size: cur.Size, Versions: vs, Revision: rev}
}

func (a *Admin) listFilters(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	out := struct {
		Filters []Filter `json:"filters"`
	}{[]Filter{}}
	for _, f := range ts.filters {
		out.Filters = append(out.Filters, filterAPI(f.doc, f.rev))
	}
	slices.SortFunc(out.Filters, func(x, y Filter) int { return strings.Compare(x.Name, y.Name) })
	return writeJSON(w, http.StatusOK, out, 0, 0)
}

func (a *Admin) getFilter(w http.ResponseWriter, r *http.Request) error {
	fname := r.PathValue("name")
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	f, ok := ts.filters[fname]
	if !ok {
		return errorf(http.StatusNotFound, "tenant %q has no filter %q", ts.name, fname)
	}
	return writeJSON(w, http.StatusOK, filterAPI(f.doc, f.rev), f.rev, 0)
}

func (a *Admin) putFilter(w http.ResponseWriter, r *http.Request) error {
	name, fname := r.PathValue("tenant"), r.PathValue("name")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	if err := checkObjectName("filter", fname); err != nil {
		return err
	}
	ts0, err := a.existing(r.Context(), name)
	if err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/wasm") && !strings.HasPrefix(ct, "application/octet-stream") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: send the module as application/wasm", ct)
	}
	// A new filter past max_filters is refused before its body is read
	// or compiled (and again, against what it lands on, when written).
	if _, ok := ts0.filters[fname]; !ok {
		cand := ts0.clone()
		cand.filters[fname] = filterState{}
		if err := a.checkQuotas(cand); err != nil {
			return err
		}
	}
	// An upload holds its body in memory and then a worker of the node's
	// upload pool: each tenant has only so many at once, and the pool
	// only so many waiting.
	if limit := a.quotasOf(ts0).MaxConcurrentUploads; !a.uploading.inc(name, limit) {
		return tooManyUploads(name, limit)
	}
	defer a.uploading.dec(name)
	bin, err := readBody(w, r, a.maxUpload())
	if err != nil {
		return err
	}
	release, err := a.checkWorker(r.Context())
	if err != nil {
		return err
	}
	defer release()
	r = r.WithContext(context.WithValue(r.Context(), holdingWorker{}, true))
	if err := a.checkModule(r.Context(), name, fname, bin); err != nil {
		return err
	}
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	var out Filter
	dropped := false // a version fell off the history: its module may be unused
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		cur := ts.filters[fname]
		if err := checkMatch(r, fmt.Sprintf("filter %q", fname), cur.rev); err != nil {
			return nil, err
		}
		if cur.rev != 0 && cur.doc.current().SHA256 == sha {
			out = filterAPI(cur.doc, cur.rev)
			return nil, nil
		}
		doc := cur.doc
		doc.Name = fname
		doc.Versions = slices.Clone(doc.Versions)
		next := 1
		for _, v := range doc.Versions {
			next = max(next, v.Version+1)
		}
		doc.Versions = append(doc.Versions, FilterVersion{Version: next, SHA256: sha, Size: int64(len(bin)), Created: nowUTC()})
		if keep := a.quotasOf(ts).MaxFilterVersions; len(doc.Versions) > keep {
			doc.Versions = doc.Versions[len(doc.Versions)-keep:]
		}
		doc.Current = next
		cand := ts.clone()
		cand.filters[fname] = filterState{doc: doc}
		if err := a.validateWith(r, cand, len(ts.usesFilter(fname)) > 0, map[string][]byte{sha: bin}); err != nil {
			return nil, err
		}
		// Content-addressed, so a retry or a lost race only rewrites
		// the same bytes; the filter's record, which makes the module
		// used, is written after it.
		if _, err := store.PutModule(r.Context(), a.api.Store, bin); err != nil {
			return nil, err
		}
		mrev, err := store.ModuleRev(r.Context(), a.api.Store, sha)
		if err != nil {
			return nil, err
		}
		dropped = len(doc.Versions) < len(cur.doc.Versions)+1
		out = filterAPI(doc, 0)
		// See gc.go: the module must still be stored when the record
		// naming it commits, and a collection running meanwhile stops.
		return &change{
			cmps: []store.Cmp{{Key: filterKey(name, fname), ModRev: cur.rev}, store.ModulePresent(sha, mrev)},
			ops:  []store.Op{{Key: filterKey(name, fname), Value: jsonOf(doc)}, {Key: modRefsKey, Value: []byte("{}")}},
		}, nil
	})
	if err != nil {
		return err
	}
	if dropped {
		a.collectSoon()
	}
	if rev == 0 {
		return writeJSON(w, http.StatusOK, out, out.Revision, 0)
	}
	out.Revision = rev
	return writeJSON(w, http.StatusCreated, out, rev, rev)
}

func (a *Admin) maxUpload() int64 {
	if a.api.MaxUploadBytes > 0 {
		return a.api.MaxUploadBytes
	}
	return config.DefaultAdminMaxUploadBytes
}

func (a *Admin) rollbackFilter(w http.ResponseWriter, r *http.Request) error {
	name, fname := r.PathValue("tenant"), r.PathValue("name")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	var doc rollbackBody
	if _, err := readDoc(w, r, "rollback", &doc, true); err != nil {
		return err
	}
	var out Filter
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		cur, ok := ts.filters[fname]
		if !ok {
			return nil, errorf(http.StatusNotFound, "tenant %q has no filter %q", name, fname)
		}
		if err := checkMatch(r, fmt.Sprintf("filter %q", fname), cur.rev); err != nil {
			return nil, err
		}
		target := doc.Version
		if target == 0 {
			for _, v := range cur.doc.Versions {
				if v.Version < cur.doc.Current {
					target = max(target, v.Version)
				}
			}
			if target == 0 {
				return nil, errorf(http.StatusConflict, "filter %q has no version before %d", fname, cur.doc.Current)
			}
		}
		if !slices.ContainsFunc(cur.doc.Versions, func(v FilterVersion) bool { return v.Version == target }) {
			return nil, errorf(http.StatusNotFound, "filter %q has no version %d (kept: %s)", fname, target, versionList(cur.doc))
		}
		nd := cur.doc
		nd.Current = target
		cand := ts.clone()
		cand.filters[fname] = filterState{doc: nd}
		if err := a.validate(r, cand, len(ts.usesFilter(fname)) > 0); err != nil {
			return nil, err
		}
		out = filterAPI(nd, 0)
		return &change{
			cmps: []store.Cmp{{Key: filterKey(name, fname), ModRev: cur.rev}},
			ops:  []store.Op{{Key: filterKey(name, fname), Value: jsonOf(nd)}},
		}, nil
	})
	if err != nil {
		return err
	}
	out.Revision = rev
	return writeJSON(w, http.StatusOK, out, rev, rev)
}

func versionList(f filterDoc) string {
	var b strings.Builder
	for i, v := range f.Versions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, v.Version)
	}
	return b.String()
}

func (a *Admin) deleteFilter(w http.ResponseWriter, r *http.Request) error {
	return a.deleteObject(w, r, "filter", filterKey, func(ts *tenantState, name string) (int64, bool) {
		f, ok := ts.filters[name]
		return f.rev, ok
	}, (*tenantState).usesFilter)
}

// deleteObject deletes the request's {name}, a filter or a pool (what)
// kept at key: 404 when the tenant has none (rev), 409 when If-Match
// names another revision or routes use it (uses).
func (a *Admin) deleteObject(w http.ResponseWriter, r *http.Request, what string, key func(tenant, name string) string,
	rev func(ts *tenantState, name string) (int64, bool), uses func(ts *tenantState, name string) []string) error {
	name, oname := r.PathValue("tenant"), r.PathValue("name")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	_, wrote, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		cur, ok := rev(ts, oname)
		if !ok {
			return nil, errorf(http.StatusNotFound, "tenant %q has no %s %q", name, what, oname)
		}
		if err := checkMatch(r, fmt.Sprintf("%s %q", what, oname), cur); err != nil {
			return nil, err
		}
		if u := uses(ts, oname); len(u) > 0 {
			return nil, errorf(http.StatusConflict, "%s %q is used by %s; change the routes first", what, oname, strings.Join(u, ", "))
		}
		return &change{ops: []store.Op{{Key: key(name, oname), Delete: true}}}, nil
	})
	if err != nil {
		return err
	}
	if what == "filter" {
		a.collectSoon()
	}
	return noContent(w, wrote)
}

// upstreamBody is the body of PUT …/upstreams/{name}, and an element of
// a tenant config's upstreams.
type upstreamBody struct {
	Name         string   `yaml:"name"`
	Endpoints    []string `yaml:"endpoints"`
	MaxIdleConns int      `yaml:"max_idle_conns"`
}

func (a *Admin) listUpstreams(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	out := struct {
		Upstreams []Upstream `json:"upstreams"`
	}{ts.upstreamList()}
	return writeJSON(w, http.StatusOK, out, 0, 0)
}

// upstreamList is the tenant's pools by name, with their revisions.
func (ts *tenantState) upstreamList() []Upstream {
	out := []Upstream{}
	for _, u := range ts.upstreams {
		v := u.doc
		v.Revision = u.rev
		out = append(out, v)
	}
	slices.SortFunc(out, func(x, y Upstream) int { return strings.Compare(x.Name, y.Name) })
	return out
}

func (a *Admin) getUpstream(w http.ResponseWriter, r *http.Request) error {
	uname := r.PathValue("name")
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	u, ok := ts.upstreams[uname]
	if !ok {
		return errorf(http.StatusNotFound, "tenant %q has no upstream pool %q", ts.name, uname)
	}
	v := u.doc
	v.Revision = u.rev
	return writeJSON(w, http.StatusOK, v, u.rev, 0)
}

func (a *Admin) putUpstream(w http.ResponseWriter, r *http.Request) error {
	name, uname := r.PathValue("tenant"), r.PathValue("name")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	if err := checkObjectName("upstream", uname); err != nil {
		return err
	}
	var doc upstreamBody
	if _, err := readDoc(w, r, "upstream", &doc, false); err != nil {
		return err
	}
	if doc.Name != "" && doc.Name != uname {
		return errorf(http.StatusBadRequest, "upstream: name %q in the body differs from %q in the path", doc.Name, uname)
	}
	u := Upstream{Name: uname, Endpoints: doc.Endpoints, MaxIdleConns: doc.MaxIdleConns}
	created := false
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		cur := ts.upstreams[uname]
		if err := checkMatch(r, fmt.Sprintf("upstream pool %q", uname), cur.rev); err != nil {
			return nil, err
		}
		created = cur.rev == 0
		cand := ts.clone()
		cand.upstreams[uname] = upstreamState{doc: u}
		if err := a.validate(r, cand, false); err != nil {
			return nil, err
		}
		return &change{
			cmps: []store.Cmp{{Key: upstreamKey(name, uname), ModRev: cur.rev}},
			ops:  []store.Op{{Key: upstreamKey(name, uname), Value: jsonOf(u)}},
		}, nil
	})
	if err != nil {
		return err
	}
	u.Revision = rev
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, u, rev, rev)
}

func (a *Admin) deleteUpstream(w http.ResponseWriter, r *http.Request) error {
	return a.deleteObject(w, r, "upstream pool", upstreamKey, func(ts *tenantState, name string) (int64, bool) {
		u, ok := ts.upstreams[name]
		return u.rev, ok
	}, (*tenantState).usesUpstream)
}

func (a *Admin) getRoutes(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Routes{Routes: rawRoutes(ts.routes), Revision: ts.routesRev}, ts.routesRev, 0)
}

func rawRoutes(rs []rawDoc) []json.RawMessage {
	out := make([]json.RawMessage, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// routesBody is the body of PUT …/routes.
type routesBody struct {
	Routes []config.Route `yaml:"routes"`
}

// tenantConfigBody is the body of PUT …/config.
type tenantConfigBody struct {
	Upstreams []upstreamBody `yaml:"upstreams"`
	Routes    []config.Route `yaml:"routes"`
}

// asJSON re-reads a strictly decoded YAML or JSON document and returns
// the given top-level list's elements as JSON, as the tenant wrote them.
func asJSON(body []byte, field string) ([]rawDoc, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	list, _ := doc[field].([]any)
	out := make([]rawDoc, 0, len(list))
	for i, v := range list {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%s[%d]: cannot be written as JSON (a mapping key that is not a string?): %v", field, i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func (a *Admin) putRoutes(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	var doc routesBody
	body, err := readDoc(w, r, "routes", &doc, false)
	if err != nil {
		return err
	}
	raws, err := asJSON(body, "routes")
	if err != nil {
		return err
	}
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		if err := checkMatch(r, fmt.Sprintf("tenant %q's routes", name), ts.routesRev); err != nil {
			return nil, err
		}
		cand := ts.clone()
		cand.routes = raws
		if err := a.validate(r, cand, true); err != nil {
			return nil, err
		}
		return &change{
			cmps: []store.Cmp{{Key: routesKey(name), ModRev: ts.routesRev}},
			ops:  []store.Op{{Key: routesKey(name), Value: jsonOf(raws)}},
		}, nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Routes{Routes: rawRoutes(raws), Revision: rev}, rev, rev)
}

func (a *Admin) getConfig(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, TenantConfig{Upstreams: ts.upstreamList(), Routes: rawRoutes(ts.routes), Revision: ts.serialRev}, ts.serialRev, 0)
}

func (a *Admin) putConfig(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	var doc tenantConfigBody
	body, err := readDoc(w, r, "config", &doc, false)
	if err != nil {
		return err
	}
	raws, err := asJSON(body, "routes")
	if err != nil {
		return err
	}
	pools := map[string]Upstream{}
	var problems []*config.FieldError
	for i, u := range doc.Upstreams {
		p := fmt.Sprintf("upstreams[%d].name", i)
		switch {
		case u.Name == "":
			problems = append(problems, &config.FieldError{Path: p, Msg: "required"})
		case !objectName.MatchString(u.Name):
			problems = append(problems, &config.FieldError{Path: p, Msg: fmt.Sprintf("%q: 1-63 letters, digits, '.', '-' or '_'", u.Name)})
		default:
			if _, dup := pools[u.Name]; dup {
				problems = append(problems, &config.FieldError{Path: p, Msg: fmt.Sprintf("pool %q is listed twice", u.Name)})
			}
			pools[u.Name] = Upstream{Name: u.Name, Endpoints: u.Endpoints, MaxIdleConns: u.MaxIdleConns}
		}
	}
	if len(problems) > 0 {
		return invalid("config: the change is invalid; nothing was changed", problems)
	}
	var out TenantConfig
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		if err := checkMatch(r, fmt.Sprintf("tenant %q's configuration", name), ts.serialRev); err != nil {
			return nil, err
		}
		cand := ts.clone()
		cand.routes = raws
		cand.upstreams = map[string]upstreamState{}
		for n, u := range pools {
			cand.upstreams[n] = upstreamState{doc: u}
			if old, ok := ts.upstreams[n]; ok && slices.Equal(old.doc.Endpoints, u.Endpoints) && old.doc.MaxIdleConns == u.MaxIdleConns {
				cand.upstreams[n] = old // unchanged: keeps its revision
			}
		}
		if err := a.validate(r, cand, true); err != nil {
			return nil, err
		}
		ch := &change{ops: []store.Op{{Key: routesKey(name), Value: jsonOf(raws)}}}
		for n := range ts.upstreams {
			if _, keep := pools[n]; !keep {
				ch.ops = append(ch.ops, store.Op{Key: upstreamKey(name, n), Delete: true})
			}
		}
		for n, u := range pools {
			if cand.upstreams[n].rev == 0 { // new or changed
				ch.ops = append(ch.ops, store.Op{Key: upstreamKey(name, n), Value: jsonOf(u)})
			}
		}
		out = TenantConfig{Upstreams: cand.upstreamList(), Routes: rawRoutes(raws)}
		return ch, nil
	})
	if err != nil {
		return err
	}
	out.Revision = rev
	for i := range out.Upstreams {
		if out.Upstreams[i].Revision == 0 {
			out.Upstreams[i].Revision = rev
		}
	}
	return writeJSON(w, http.StatusOK, out, rev, rev)
}

// Package control is the node's control plane: the admin API (health,
// readiness, status, cache purge, and the tenant layer's tenants,
// domains, tokens, filters, pools and routes), the store it keeps them
// in, and the reloader that turns the store's content into the node's
// configuration, live.
//
// Requests authenticate with "Authorization: Bearer TOKEN". Tokens are
// never stored: the node keeps their SHA-256 and compares in constant
// time. The operator's token acts on every tenant; a tenant's token only
// on that tenant.
package control

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
)

// MaxBodyBytes bounds an admin request body.
const MaxBodyBytes = 64 << 10

// Admin is the admin API handler. Its tenant view is replaced on reload.
type Admin struct {
	operator [32]byte // SHA-256 of the operator token; zero = none
	hasOp    bool
	cache    *cache.Cache
	tenants  atomic.Pointer[tenantView] // the node file's tenants
	mux      *http.ServeMux
	api      *TenantAPI // nil: no tenant layer
	log      *slog.Logger
	patterns []string // registered with handle, for the OpenAPI check
	gc       collector

	// now is the clock of the rate limits and purges; tests set it.
	now func() time.Time
	// quotas are every tenant's defaults (TenantAPI.Quotas).
	quotas config.Quotas
	// neg remembers unknown tokens; authLimit counts them per client
	// address.
	neg       *negCache
	authLimit *buckets
	// purgeLimit is each tenant's purges per minute.
	purgeLimit *buckets
	// lastSweep is when the purges older than purgeKeep were last
	// deleted from the store (UnixNano).
	lastSweep atomic.Int64
	// uploads checks uploaded filters; uploading counts each tenant's
	// uploads in progress.
	uploads   *uploadPool
	uploading counter
}

// tenantView is the node file's tenants as of the last SetTenants.
type tenantView struct {
	byName      map[string]*tenant
	byToken     map[[32]byte]string // token hash → tenant name
	domainOwner map[string]string   // lower-cased domain → tenant name
}

type tenant struct {
	token    [32]byte
	hasToken bool
	domains  []string // lower-cased; "*.x" wildcards kept as written
}

// NewAdmin makes the admin API. operatorToken is the operator's token in
// clear (from the environment) or ""; operatorSHA256 its hex SHA-256 from
// the node file, or "".
func NewAdmin(operatorToken, operatorSHA256 string, c *cache.Cache) (*Admin, error) {
	a := &Admin{cache: c, mux: http.NewServeMux(), now: time.Now,
		neg: newNegCache(negTokensMax), authLimit: newBuckets(authAddrs), purgeLimit: newBuckets(purgeTenantMax)}
	switch {
	case operatorToken != "":
		a.operator, a.hasOp = sha256.Sum256([]byte(operatorToken)), true
	case operatorSHA256 != "":
		b, err := hex.DecodeString(operatorSHA256)
		if err != nil || len(b) != 32 {
			return nil, errors.New("control: admin_token_sha256 is not a hex SHA-256")
		}
		copy(a.operator[:], b)
		a.hasOp = true
	}
	a.tenants.Store(&tenantView{byName: map[string]*tenant{}, byToken: map[[32]byte]string{}, domainOwner: map[string]string{}})
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	a.patterns = append(a.patterns, "GET /healthz")
	a.handle("POST /v1/tenants/{tenant}/purge", a.purge)
	a.handle("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(openAPI)
		return err
	})
	return a, nil
}

// openAPI is the admin API's OpenAPI document, served at
// /v1/openapi.json.
//
//go:embed openapi.json
var openAPI []byte

// EnableTenantAPI serves the tenant layer from api.Store: tenants,
// domains, tokens, filters, pools, routes, status and readiness. Call it
// once, before serving.
func (a *Admin) EnableTenantAPI(api TenantAPI) {
	api.Store = boundedStore{api.Store}
	a.api = &api
	a.quotas = api.Quotas
	u := api.Uploads.WithDefaults()
	a.uploads = newUploadPool(u.Workers, u.Queue)
	a.log = api.Logger
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.handle("GET /readyz", a.readyz)
	a.handle("GET /v1/status", a.status)
	a.handle("GET /v1/nodes", a.nodes)
	a.handle("GET /v1/tenants", a.listTenants)
	a.handle("GET /v1/tenants/{tenant}", a.getTenant)
	a.handle("PUT /v1/tenants/{tenant}", a.putTenant)
	a.handle("DELETE /v1/tenants/{tenant}", a.deleteTenant)
	a.handle("GET /v1/tenants/{tenant}/domains", a.listDomains)
	a.handle("PUT /v1/tenants/{tenant}/domains/{domain}", a.addDomain)
	a.handle("DELETE /v1/tenants/{tenant}/domains/{domain}", a.removeDomain)
	a.handle("POST /v1/tenants/{tenant}/tokens", a.createToken)
	a.handle("GET /v1/tenants/{tenant}/tokens", a.listTokens)
	a.handle("DELETE /v1/tenants/{tenant}/tokens/{id}", a.revokeToken)
	a.handle("GET /v1/tenants/{tenant}/filters", a.listFilters)
	a.handle("GET /v1/tenants/{tenant}/filters/{name}", a.getFilter)
	a.handle("PUT /v1/tenants/{tenant}/filters/{name}", a.putFilter)
	a.handle("DELETE /v1/tenants/{tenant}/filters/{name}", a.deleteFilter)
	a.handle("POST /v1/tenants/{tenant}/filters/{name}/rollback", a.rollbackFilter)
	a.handle("GET /v1/tenants/{tenant}/upstreams", a.listUpstreams)
	a.handle("GET /v1/tenants/{tenant}/upstreams/{name}", a.getUpstream)
	a.handle("PUT /v1/tenants/{tenant}/upstreams/{name}", a.putUpstream)
	a.handle("DELETE /v1/tenants/{tenant}/upstreams/{name}", a.deleteUpstream)
	a.handle("GET /v1/tenants/{tenant}/routes", a.getRoutes)
	a.handle("PUT /v1/tenants/{tenant}/routes", a.putRoutes)
	a.handle("GET /v1/tenants/{tenant}/config", a.getConfig)
	a.handle("PUT /v1/tenants/{tenant}/config", a.putConfig)
}

// SetTenants replaces the tenants the API knows (after a reload).
func (a *Admin) SetTenants(ts []config.Tenant) {
	v := &tenantView{byName: make(map[string]*tenant, len(ts)), byToken: map[[32]byte]string{}, domainOwner: map[string]string{}}
	for _, t := range ts {
		tt := &tenant{}
		if t.TokenSHA256 != "" {
			if b, err := hex.DecodeString(t.TokenSHA256); err == nil && len(b) == 32 { // validated
				copy(tt.token[:], b)
				tt.hasToken = true
				v.byToken[tt.token] = t.Name
			}
		}
		for _, d := range t.Domains {
			d = strings.ToLower(strings.TrimSuffix(d, "."))
			tt.domains = append(tt.domains, d)
			v.domainOwner[d] = t.Name
		}
		v.byName[t.Name] = tt
	}
	a.tenants.Store(v)
}

// ServeHTTP serves the admin API.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// PurgeRequest is the body of POST /v1/tenants/{tenant}/purge: exactly
// one of its fields.
type PurgeRequest struct {
	// URL purges one URL, e.g. "https://shop.example/a?b=1".
	URL string `json:"url,omitempty"`
	// Host purges every entry of a host (with or without port).
	Host string `json:"host,omitempty"`
	// Tag purges every entry whose Surrogate-Key named the tag.
	Tag string `json:"tag,omitempty"`
}

func (a *Admin) purge(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.tenantScope(r, name); err != nil {
		return err
	}
	t := a.tenants.Load().byName[name]
	q := a.quotas.WithDefaults() // the node file's tenants have the defaults
	if t == nil && a.api != nil {
		ts, err := a.existing(r.Context(), name)
		if err != nil {
			return err
		}
		t = &tenant{domains: ts.domainList()}
		q = a.quotas.For(ts.doc.Limits.Quotas)
	}
	if t == nil {
		return noTenant(name)
	}
	// Counted before anything else is done for it: a refused purge costs
	// one read of the tenant, nothing more.
	perMin := float64(q.PurgesPerMinute)
	if ok, wait := a.purgeLimit.take(name, a.now(), perMin/60, perMin); !ok {
		return &apiError{status: http.StatusTooManyRequests, retryAfter: retryAfter(wait),
			msg: fmt.Sprintf("tenant %q: quota purges_per_minute (%d) reached: retry in %ds; nothing was purged", name, q.PurgesPerMinute, retryAfter(wait))}
	}
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	var req PurgeRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "body: %v", err)
	}
	set := 0
	for _, s := range []string{req.URL, req.Host, req.Tag} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return errorf(http.StatusBadRequest, "give exactly one of url, host and tag")
	}
	d := purgeDoc{Tenant: name, At: a.now().UTC()}
	switch {
	case req.URL != "":
		u, err := url.Parse(req.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errorf(http.StatusBadRequest, "url: %q is not an absolute http(s) URL", req.URL)
		}
		if !t.owns(u.Hostname()) {
			return errorf(http.StatusForbidden, "url: host %q is not one of tenant %q's domains", u.Hostname(), name)
		}
		d.Scheme, d.Host, d.URI = u.Scheme, u.Host, u.RequestURI()
	case req.Host != "":
		h := req.Host
		if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
			h = h[:i]
		}
		if !t.owns(h) {
			return errorf(http.StatusForbidden, "host: %q is not one of tenant %q's domains", req.Host, name)
		}
		d.Host = req.Host
	default:
		d.Tag = req.Tag
	}
	// The store first: a purge the fleet cannot get is refused whole,
	// rather than done on this node only.
	fleet := a.api != nil
	var rev int64
	if fleet {
		d.Node = a.api.Status().Node
		var err error
		if rev, err = a.publishPurge(r.Context(), d); err != nil {
			return err
		}
	}
	out := struct {
		Purged int  `json:"purged"`
		Fleet  bool `json:"fleet"`
	}{d.apply(a.cache), fleet}
	return writeJSON(w, http.StatusOK, out, 0, rev)
}

// owns reports whether host is one of the tenant's domains (exact or under
// one of its wildcards).
func (t *tenant) owns(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range t.domains {
		if d == host {
			return true
		}
		if suffix, ok := strings.CutPrefix(d, "*"); ok && strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			return true
		}
	}
	return false
}

// Package control is the node's control plane. For now it serves the
// admin API's health check and cache purge; tenants, uploads, the store
// and live configuration come with the control-plane work.
//
// Requests authenticate with "Authorization: Bearer TOKEN". Tokens are
// never stored: the node keeps their SHA-256 and compares in constant
// time. The operator's token acts on every tenant; a tenant's token only
// on that tenant.
package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

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
	tenants  atomic.Pointer[tenantView]
	mux      *http.ServeMux
}

// tenantView is the tenants as of the last SetTenants.
type tenantView struct {
	byName  map[string]*tenant
	byToken map[[32]byte]string // token hash → tenant name
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
	a := &Admin{cache: c, mux: http.NewServeMux()}
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
	a.tenants.Store(&tenantView{byName: map[string]*tenant{}, byToken: map[[32]byte]string{}})
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	a.mux.HandleFunc("POST /v1/tenants/{tenant}/purge", a.purge)
	return a, nil
}

// SetTenants replaces the tenants the API knows (after a reload).
func (a *Admin) SetTenants(ts []config.Tenant) {
	v := &tenantView{byName: make(map[string]*tenant, len(ts)), byToken: map[[32]byte]string{}}
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
			tt.domains = append(tt.domains, strings.ToLower(strings.TrimSuffix(d, ".")))
		}
		v.byName[t.Name] = tt
	}
	a.tenants.Store(v)
}

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

func (a *Admin) purge(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	v := a.tenants.Load()
	t := v.byName[name]
	if !a.authorize(w, r, v, t) {
		return
	}
	if t == nil {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no tenant %q", name))
		return
	}
	var req PurgeRequest
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeJSONError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	set := 0
	for _, s := range []string{req.URL, req.Host, req.Tag} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		writeJSONError(w, http.StatusBadRequest, "give exactly one of url, host and tag")
		return
	}
	var n int
	switch {
	case req.URL != "":
		u, err := url.Parse(req.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("url: %q is not an absolute http(s) URL", req.URL))
			return
		}
		if !t.owns(u.Hostname()) {
			writeJSONError(w, http.StatusForbidden, fmt.Sprintf("url: host %q is not one of tenant %q's domains", u.Hostname(), name))
			return
		}
		n = a.cache.PurgeURL(name, u.Scheme, u.Host, u.RequestURI())
	case req.Host != "":
		h := req.Host
		if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
			h = h[:i]
		}
		if !t.owns(h) {
			writeJSONError(w, http.StatusForbidden, fmt.Sprintf("host: %q is not one of tenant %q's domains", req.Host, name))
			return
		}
		n = a.cache.PurgeHost(name, req.Host)
	default:
		n = a.cache.PurgeTag(name, req.Tag)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"purged": n})
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

// authorize checks the bearer token: the operator's acts on any tenant, a
// tenant's only on itself. A token nobody holds gets 401; another
// tenant's token gets 403, whether or not the tenant asked for exists.
func (a *Admin) authorize(w http.ResponseWriter, r *http.Request, v *tenantView, t *tenant) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wedge"`)
		writeJSONError(w, http.StatusUnauthorized, "missing bearer token")
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	if a.hasOp && subtle.ConstantTimeCompare(sum[:], a.operator[:]) == 1 {
		return true
	}
	if t != nil && t.hasToken && subtle.ConstantTimeCompare(sum[:], t.token[:]) == 1 {
		return true
	}
	if _, known := v.byToken[sum]; known {
		writeJSONError(w, http.StatusForbidden, "this token may not act on this tenant")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="wedge", error="invalid_token"`)
	writeJSONError(w, http.StatusUnauthorized, "invalid token")
	return false
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": "control: " + msg})
}

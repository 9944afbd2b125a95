package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/edge/egress"
	"github.com/wedgeproxy/wedge/runtime"
)

// TenantAPI configures the tenant layer's part of the admin API: tenants,
// domains, tokens, filters, pools and routes, kept in a Store.
type TenantAPI struct {
	// Store holds the tenant layer. Required.
	Store store.Store
	// StoreType names the store in status ("embedded" or "etcd").
	StoreType string
	// Engine compiles and starts uploaded filters to check them before
	// they are accepted. Required.
	Engine *runtime.Engine
	// Modules fetches and verifies filter modules for route checks.
	// Required.
	Modules *Modules
	// MaxUploadBytes bounds a filter upload; default 32 MiB.
	MaxUploadBytes int64
	// FilterCaps are the node's maximums on tenants' filter limits (the
	// node file's limits.filters): a change that sets a filter limit
	// above one, or puts a tenant's filters over its memory cap, is
	// refused with 400. Zero fields take their defaults.
	FilterCaps config.FilterCaps
	// Egress is the node's egress policy: a change naming an endpoint
	// that is a literal address it refuses is refused with 400, naming
	// the field. (Names are checked when dialled.) nil: none.
	Egress *egress.Policy
	// Quotas are every tenant's default quotas (the node file's
	// limits.quotas); a tenant's limits.quotas may set its own. Zero
	// fields take their defaults.
	Quotas config.Quotas
	// Uploads sizes the pool that checks uploaded filters (the node
	// file's limits.uploads). Zero fields take their defaults.
	Uploads config.Uploads
	// Status reports the node's view (served revision, store health).
	Status func() Status
	// Logger receives the API's log lines.
	Logger *slog.Logger
}

// apiError is an error with the HTTP status and body it answers.
type apiError struct {
	status     int
	msg        string
	problems   []string
	revision   int64
	retryAfter int // seconds, for Retry-After; 0: none
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// invalid is a 400 listing every problem of a document.
func invalid(msg string, problems []*config.FieldError) *apiError {
	e := &apiError{status: http.StatusBadRequest, msg: msg}
	for _, p := range problems {
		e.problems = append(e.problems, p.Error())
	}
	return e
}

// storeError maps a store failure to its status.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "the store is unavailable, nothing was changed: %v", err)
	case errors.Is(err, store.ErrCorrupt):
		return errorf(http.StatusInternalServerError, "%v", err)
	}
	return errorf(http.StatusInternalServerError, "store: %v", err)
}

// handlerFunc is an admin handler that fails by returning an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *Admin) handle(pattern string, h handlerFunc) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
	a.patterns = append(a.patterns, pattern)
}

func (a *Admin) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = storeError(err)
	}
	if ae.status >= 500 && a.log != nil {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "status", ae.status, "err", ae.msg)
	}
	body := struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems,omitempty"`
		Revision int64    `json:"revision,omitempty"`
	}{"control: " + ae.msg, ae.problems, ae.revision}
	w.Header().Set("Content-Type", "application/json")
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wedge"`)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(body)
}

// writeJSON answers v. rev > 0 sets ETag (the object's revision); wrote >
// 0 sets X-Wedge-Revision (the store revision a write committed at).
func writeJSON(w http.ResponseWriter, status int, v any, rev, wrote int64) error {
	w.Header().Set("Content-Type", "application/json")
	if rev > 0 {
		w.Header().Set("ETag", `"`+strconv.FormatInt(rev, 10)+`"`)
	}
	if wrote > 0 {
		w.Header().Set("X-Wedge-Revision", strconv.FormatInt(wrote, 10))
	}
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// noContent answers 204 to a write that committed at store revision rev
// (X-Wedge-Revision).
func noContent(w http.ResponseWriter, rev int64) error {
	w.Header().Set("X-Wedge-Revision", strconv.FormatInt(rev, 10))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ifMatch reads If-Match: a revision ("12", 12 or W/"12"). ok is false
// without the header.
func ifMatch(r *http.Request) (rev int64, ok bool, err error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, false, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	rev, err = strconv.ParseInt(h, 10, 64)
	if err != nil || rev < 0 {
		return 0, false, errorf(http.StatusBadRequest, "If-Match: %q is not a revision", r.Header.Get("If-Match"))
	}
	return rev, true, nil
}

// checkMatch answers 409 when If-Match names another revision than cur,
// the object's (0 when it does not exist).
func checkMatch(r *http.Request, what string, cur int64) error {
	want, ok, err := ifMatch(r)
	if err != nil || !ok || want == cur {
		return err
	}
	if cur == 0 {
		return &apiError{status: http.StatusConflict, msg: fmt.Sprintf("%s does not exist (If-Match: %d)", what, want)}
	}
	return &apiError{status: http.StatusConflict, msg: fmt.Sprintf("%s changed since revision %d (now %d): read it again and retry", what, want, cur), revision: cur}
}

// readBody reads a request body of at most max bytes: more is 413.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", max)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "body: %v", err)
	}
	return b, nil
}

// readDoc reads a request body of at most MaxBodyBytes and decodes it
// with decodeDoc; it returns the body as read.
func readDoc(w http.ResponseWriter, r *http.Request, what string, v any, emptyOK bool) ([]byte, error) {
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return body, decodeDoc(body, what, v, emptyOK)
}

// decodeDoc decodes a YAML or JSON body strictly into v. An empty body
// leaves v as it is when empty is allowed.
func decodeDoc(body []byte, what string, v any, emptyOK bool) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		if emptyOK {
			return nil
		}
		return errorf(http.StatusBadRequest, "%s: empty body", what)
	}
	if err := config.DecodeStrict(body, what, v); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return invalid(fmt.Sprintf("%s: %d problem(s)", what, len(ce.Problems)), ce.Problems)
		}
		return errorf(http.StatusBadRequest, "%s: %v", what, err)
	}
	return nil
}

// principal is who a request's token belongs to.
type principal struct {
	operator bool
	tenant   string // for a tenant token
}

// caller identifies the bearer token: the operator, a tenant of the store
// or of the node file. Unknown or missing: 401.
//
// An unknown token costs at most one store read: its hash is then
// remembered (negCache) until the tenant layer changes. The client
// address that sends it is charged one of its authBurst; an address with
// none left gets 429 for any token the node must ask the store about,
// without asking.
func (a *Admin) caller(r *http.Request) (principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return principal{}, errorf(http.StatusUnauthorized, "missing bearer token")
	}
	sum := sha256.Sum256([]byte(tok))
	if a.hasOp && subtle.ConstantTimeCompare(sum[:], a.operator[:]) == 1 {
		return principal{operator: true}, nil
	}
	if name, ok := a.tenants.Load().byToken[sum]; ok {
		return principal{tenant: name}, nil
	}
	addr, now := clientKey(r.RemoteAddr), a.now()
	if empty, wait := a.authLimit.empty(addr, now, authRate, authBurst); empty {
		return principal{}, a.tooManyUnknown(wait)
	}
	if a.api != nil {
		gen := a.api.Status().seen
		if !a.neg.has(sum, gen) {
			hexSum := hex.EncodeToString(sum[:])
			kv, err := a.api.Store.Get(r.Context(), tokenIndexKey(hexSum))
			switch {
			case err == nil:
				var ix tokenIndex
				if unjson(kv.Value, &ix) == nil {
					return principal{tenant: ix.Tenant}, nil
				}
			case !errors.Is(err, store.ErrNotFound):
				return principal{}, storeError(err)
			}
			a.neg.add(sum, gen)
		}
	}
	if ok, wait := a.authLimit.take(addr, now, authRate, authBurst); !ok {
		return principal{}, a.tooManyUnknown(wait)
	}
	return principal{}, errorf(http.StatusUnauthorized, "invalid token")
}

// tooManyUnknown is the 429 of a client address that sent too many
// unknown tokens.
func (a *Admin) tooManyUnknown(wait time.Duration) error {
	s := retryAfter(wait)
	return &apiError{status: http.StatusTooManyRequests, retryAfter: s,
		msg: fmt.Sprintf("too many unknown tokens from this address (at most %d, then %g a second): retry in %ds", authBurst, authRate, s)}
}

// operatorOnly lets only the operator through.
func (a *Admin) operatorOnly(r *http.Request) error {
	p, err := a.caller(r)
	if err != nil {
		return err
	}
	if !p.operator {
		return errorf(http.StatusForbidden, "this needs the operator's token")
	}
	return nil
}

// tenantScope lets the operator or the tenant's own token through.
func (a *Admin) tenantScope(r *http.Request, tenant string) error {
	p, err := a.caller(r)
	if err != nil {
		return err
	}
	if !p.operator && p.tenant != tenant {
		return errorf(http.StatusForbidden, "this token may not act on tenant %q", tenant)
	}
	return nil
}

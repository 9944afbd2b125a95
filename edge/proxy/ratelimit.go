package proxy

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// limiter is a tenant's request rate on this node: a token bucket of
// burst requests refilled at rate per second, kept as the generic cell
// rate algorithm's theoretical arrival time (one atomic word, updated
// with compare-and-swap: no lock, no allocation).
//
// A limiter lives as long as its tenant's rate and burst are unchanged:
// Build hands it from one snapshot to the next.
type limiter struct {
	rate  float64
	burst int

	interval int64 // nanoseconds per request: 1/rate
	window   int64 // burst * interval: how far tat may run ahead of now
	tat      atomic.Int64
	now      func() int64 // monotonic nanoseconds

	// The 429 response, made once.
	body   []byte
	length []string
}

// newLimiter returns the limiter of tenant t, or nil when it has no
// request rate. l is validated: 0.001 <= rate <= 1e6, burst <= 1e6.
func newLimiter(tenant string, l config.TenantLimits, now func() int64) *limiter {
	if !(l.RequestRate > 0) {
		return nil
	}
	burst := l.RequestBurst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(l.RequestRate)))
	}
	interval := max(1, int64(math.Round(float64(time.Second)/l.RequestRate)))
	body := fmt.Appendf(nil, "wedge: tenant %q is over its request rate (%s/s, burst %d)\n",
		tenant, strconv.FormatFloat(l.RequestRate, 'f', -1, 64), burst)
	return &limiter{
		rate: l.RequestRate, burst: l.RequestBurst,
		interval: interval, window: int64(burst) * interval, now: now,
		body: body, length: []string{strconv.Itoa(len(body))},
	}
}

// same reports whether lim is the limiter that l asks for.
func (lim *limiter) same(l config.TenantLimits) bool {
	return lim.rate == l.RequestRate && lim.burst == l.RequestBurst
}

// allow takes one request from the bucket. When the bucket is empty it
// reports false and how long until a request would be allowed.
func (lim *limiter) allow() (ok bool, wait time.Duration) {
	now := lim.now()
	for {
		tat := lim.tat.Load()
		next := max(tat, now) + lim.interval
		if ahead := next - now; ahead > lim.window {
			return false, time.Duration(ahead - lim.window)
		}
		if lim.tat.CompareAndSwap(tat, next) {
			return true, 0
		}
	}
}

// Shared 429 header values; never mutated.
var (
	hdrTextPlain = []string{"text/plain; charset=utf-8"}
	hdrNosniff   = []string{"nosniff"}
	hdrNoStore   = []string{"no-store"}
)

// refuse answers 429 with Retry-After: wait in whole seconds, rounded up.
func (lim *limiter) refuse(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int64((wait+time.Second-1)/time.Second))
	h := w.Header()
	h["Content-Type"] = hdrTextPlain
	h["X-Content-Type-Options"] = hdrNosniff
	h["Cache-Control"] = hdrNoStore
	h["Content-Length"] = lim.length
	h["Retry-After"] = []string{strconv.FormatInt(secs, 10)}
	w.WriteHeader(http.StatusTooManyRequests)
	if r.Method != http.MethodHead {
		w.Write(lim.body)
	}
}

// buildLimiters returns the limiters of tenants that have a request rate:
// cur's where the rate and burst are unchanged, so a tenant's bucket
// carries over a snapshot swap, and new ones otherwise.
func buildLimiters(tenants []config.Tenant, cur *Snapshot, now func() int64) map[string]*limiter {
	var out map[string]*limiter
	for i := range tenants {
		t := &tenants[i]
		if !(t.Limits.RequestRate > 0) {
			continue
		}
		if out == nil {
			out = map[string]*limiter{}
		}
		if lim := cur.limiters[t.Name]; lim != nil && lim.same(t.Limits) {
			out[t.Name] = lim
		} else {
			out[t.Name] = newLimiter(t.Name, t.Limits, now)
		}
	}
	return out
}

// monotonic is the limiters' clock: nanoseconds on the monotonic clock
// since the process started.
func monotonic() int64 { return int64(time.Since(clockStart)) }

var clockStart = time.Now()

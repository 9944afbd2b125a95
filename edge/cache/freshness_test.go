package cache

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// RFC 9111 §4.2: freshness lifetime and age. Each case stores a response
// at t0, advances the clock, and checks whether the second request is a
// hit. The clock is the cache's; the origin's Date comes from it too.
func TestFreshness(t *testing.T) {
	type hdrs = []string
	tests := []struct {
		name    string
		status  int
		resp    func(now time.Time) hdrs
		policy  Policy
		req     hdrs // on the second request
		advance time.Duration
		hit     bool
	}{
		{"max-age fresh", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, nil, 59 * time.Second, true},
		{"max-age stale", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, nil, 60 * time.Second, false},
		{"s-maxage over max-age", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=10, s-maxage=100"} }, Policy{}, nil, 50 * time.Second, true},
		{"s-maxage shorter", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=100, s-maxage=10"} }, Policy{}, nil, 50 * time.Second, false},
		{"max-age over Expires", 200, func(n time.Time) hdrs {
			return hdrs{"Cache-Control", "max-age=100", "Expires", httpDate(n.Add(10 * time.Second))}
		}, Policy{}, nil, 50 * time.Second, true},
		{"Expires minus Date fresh", 200, func(n time.Time) hdrs { return hdrs{"Expires", httpDate(n.Add(100 * time.Second))} }, Policy{}, nil, 99 * time.Second, true},
		{"Expires minus Date stale", 200, func(n time.Time) hdrs { return hdrs{"Expires", httpDate(n.Add(100 * time.Second))} }, Policy{}, nil, 100 * time.Second, false},
		{"invalid Expires is stale", 200, func(time.Time) hdrs { return hdrs{"Expires", "0"} }, Policy{DefaultTTL: time.Hour}, nil, 0, false},
		{"invalid max-age is stale", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=soon"} }, Policy{DefaultTTL: time.Hour}, nil, 0, false},
		{"heuristic 10% of Last-Modified", 200, func(n time.Time) hdrs {
			return hdrs{"Last-Modified", httpDate(n.Add(-1000 * time.Second))} // 100s lifetime
		}, Policy{}, nil, 99 * time.Second, true},
		{"heuristic expired", 200, func(n time.Time) hdrs { return hdrs{"Last-Modified", httpDate(n.Add(-1000 * time.Second))} }, Policy{}, nil, 101 * time.Second, false},
		{"heuristic capped at 24h", 200, func(n time.Time) hdrs {
			return hdrs{"Last-Modified", httpDate(n.Add(-100 * 24 * time.Hour))}
		}, Policy{}, nil, 24*time.Hour + time.Second, false},
		{"heuristic not for 302", 302, func(n time.Time) hdrs {
			return hdrs{"Location", "/x", "Last-Modified", httpDate(n.Add(-1000 * time.Second))}
		}, Policy{}, nil, 1 * time.Second, false},
		{"DefaultTTL replaces heuristic", 200, func(n time.Time) hdrs {
			return hdrs{"Last-Modified", httpDate(n.Add(-1000 * time.Second))}
		}, Policy{DefaultTTL: 10 * time.Second}, nil, 20 * time.Second, false},
		{"DefaultTTL not over explicit", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=5"} }, Policy{DefaultTTL: time.Hour}, nil, 10 * time.Second, false},
		{"Age from upstream counts", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60", "Age", "50"} }, Policy{}, nil, 11 * time.Second, false},
		{"Age from upstream fresh", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60", "Age", "50"} }, Policy{}, nil, 9 * time.Second, true},
		{"apparent age from old Date", 200, func(n time.Time) hdrs {
			return hdrs{"Cache-Control", "max-age=60", "Date", httpDate(n.Add(-55 * time.Second))}
		}, Policy{}, nil, 6 * time.Second, false},
		{"no-cache response always revalidates", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60, no-cache"} }, Policy{}, nil, 0, false},
		{"request max-age", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "max-age=5"}, 10 * time.Second, false},
		{"request max-age ok", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "max-age=15"}, 10 * time.Second, true},
		{"request min-fresh", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "min-fresh=30"}, 40 * time.Second, false},
		{"request min-fresh ok", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "min-fresh=30"}, 20 * time.Second, true},
		{"request max-stale=N", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "max-stale=30"}, 80 * time.Second, true},
		{"request max-stale=N exceeded", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "max-stale=30"}, 100 * time.Second, false},
		{"request max-stale any", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "max-stale"}, time.Hour, true},
		{"max-stale vs must-revalidate", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60, must-revalidate"} }, Policy{}, hdrs{"Cache-Control", "max-stale"}, 80 * time.Second, false},
		{"max-stale vs proxy-revalidate", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60, proxy-revalidate"} }, Policy{}, hdrs{"Cache-Control", "max-stale"}, 80 * time.Second, false},
		{"max-stale vs s-maxage", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "s-maxage=60"} }, Policy{}, hdrs{"Cache-Control", "max-stale"}, 80 * time.Second, false},
		{"request no-cache", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "no-cache"}, 0, false},
		{"request Pragma no-cache", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Pragma", "no-cache"}, 0, false},
		{"request no-store", 200, func(time.Time) hdrs { return hdrs{"Cache-Control", "max-age=60"} }, Policy{}, hdrs{"Cache-Control", "no-store"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			e = newEnv(t, tt.policy, func(w http.ResponseWriter, r *http.Request) {
				for i, h := 0, tt.resp(e.clk.now()); i+1 < len(h); i += 2 {
					w.Header().Set(h[i], h[i+1])
				}
				w.WriteHeader(tt.status)
				w.Write([]byte("x"))
			})
			e.get("/f")
			e.clk.advance(tt.advance)
			r := e.get("/f", tt.req...)
			if isHit(r) != tt.hit {
				t.Fatalf("hit = %v (%q), want %v", isHit(r), r.cs(), tt.hit)
			}
		})
	}
}

// RFC 9111 §4.2.3, §5.1: the Age of a hit is corrected_initial_age plus
// resident time, in whole seconds.
func TestAge(t *testing.T) {
	tests := []struct {
		name    string
		hdr     func(now time.Time) []string
		advance time.Duration
		wantAge int
	}{
		{"fresh store", func(time.Time) []string { return nil }, 0, 0},
		{"resident time", func(time.Time) []string { return nil }, 7 * time.Second, 7},
		{"fractional seconds floor", func(time.Time) []string { return nil }, 7900 * time.Millisecond, 7},
		{"upstream Age added", func(time.Time) []string { return []string{"Age", "30"} }, 5 * time.Second, 35},
		{"apparent age over Age", func(n time.Time) []string {
			return []string{"Age", "3", "Date", httpDate(n.Add(-20 * time.Second))}
		}, 5 * time.Second, 25},
		{"Age over apparent age", func(n time.Time) []string {
			return []string{"Age", "40", "Date", httpDate(n.Add(-20 * time.Second))}
		}, 5 * time.Second, 45},
		{"Date in the future", func(n time.Time) []string { return []string{"Date", httpDate(n.Add(time.Hour))} }, 2 * time.Second, 2},
		{"invalid Age ignored", func(time.Time) []string { return []string{"Age", "abc"} }, 2 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			e = newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				for i, h := 0, tt.hdr(e.clk.now()); i+1 < len(h); i += 2 {
					w.Header().Set(h[i], h[i+1])
				}
				w.Write([]byte("x"))
			})
			e.get("/a")
			e.clk.advance(tt.advance)
			r := e.get("/a")
			if !isHit(r) {
				t.Fatalf("not a hit: %q", r.cs())
			}
			if got := r.header.Get("Age"); got != strconv.Itoa(tt.wantAge) {
				t.Fatalf("Age = %q, want %d", got, tt.wantAge)
			}
		})
	}
}

// A response delay (request to response time) counts in the age
// (response_delay of §4.2.3): the origin advances the clock while it
// answers.
func TestAgeResponseDelay(t *testing.T) {
	var e *env
	e = newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Age", "10")
		e.clk.advance(4 * time.Second) // Date was taken before: apparent age 4
		w.Write([]byte("x"))
	})
	e.get("/d")
	r := e.get("/d")
	if got := r.header.Get("Age"); got != "14" {
		t.Fatalf("Age = %q, want 14 (Age 10 + response delay 4)", got)
	}
}

// TestAncientDate pins the review finding that Date: year 1 overflowed the
// age arithmetic: the entry stayed fresh forever and every hit panicked.
func TestAncientDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	date := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	ia := initialAge(http.Header{"Age": {"99999999999"}}, date, now, now)
	if ia != maxAge {
		t.Fatalf("initialAge = %v, want the cap %v", ia, maxAge)
	}
	e := &entry{initialAge: ia, responseTime: now}
	if a := e.age(now.Add(100 * 365 * 24 * time.Hour)); a != maxAge {
		t.Fatalf("age = %v, want the cap %v", a, maxAge)
	}
	if v := ageHeader(-time.Second); v[0] != "0" {
		t.Fatalf("ageHeader(-1s) = %q", v)
	}
	if v := ageHeader(maxAge); v[0] != "2147483648" {
		t.Fatalf("ageHeader(max) = %q", v)
	}
}

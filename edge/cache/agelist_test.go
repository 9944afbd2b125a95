package cache

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestAgeList (issue 17 item 1): an Age with a list value, or repeated, is
// read as its largest valid member (RFC 9111 §5.1 says the first; never
// fresher than any member claims). On the code before, "7200, 0" failed
// to parse and counted as 0: a response an hour stale was a fresh hit.
func TestAgeList(t *testing.T) {
	tests := []struct {
		name    string
		age     []string // Age lines from the origin, max-age=3600
		hit     bool     // the second request, 1s later
		wantAge int      // the hit's Age
	}{
		{"list, stale first member", []string{"7200, 0"}, false, 0},
		{"list, stale later member", []string{"0, 7200"}, false, 0},
		{"list without spaces", []string{"7200,0"}, false, 0},
		{"two lines", []string{"0", "7200"}, false, 0},
		{"list, fresh members", []string{"100, 30"}, true, 101},
		{"invalid member skipped", []string{"abc, 7200"}, false, 0},
		{"invalid member, fresh rest", []string{"20, 1.5"}, true, 21},
		{"empty members", []string{", 50 ,"}, true, 51},
		{"single value", []string{"3598"}, true, 3599},
		{"single value stale", []string{"3599"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Header()["Age"] = tt.age
				w.Write([]byte("x"))
			})
			if r := e.get("/a"); r.status != 200 || isHit(r) {
				t.Fatalf("first request: %d %q", r.status, r.cs())
			}
			e.clk.advance(time.Second)
			r := e.get("/a")
			if isHit(r) != tt.hit {
				t.Fatalf("hit = %v (%q), want %v", isHit(r), r.cs(), tt.hit)
			}
			if tt.hit {
				if got := r.header.Get("Age"); got != strconv.Itoa(tt.wantAge) {
					t.Fatalf("Age = %q, want %d", got, tt.wantAge)
				}
			}
			if got := e.origin.hits.Load(); got != map[bool]int64{true: 1, false: 2}[tt.hit] {
				t.Fatalf("origin hits = %d", got)
			}
		})
	}
}

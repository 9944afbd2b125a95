package cache

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		v          string
		size       int64
		start, end int64
		res        int
	}{
		{"bytes=0-4", 10, 0, 4, rangeOK},
		{"bytes=5-", 10, 5, 9, rangeOK},
		{"bytes=-3", 10, 7, 9, rangeOK},
		{"bytes=-30", 10, 0, 9, rangeOK},
		{"bytes=2-100", 10, 2, 9, rangeOK},
		{"BYTES=1-1", 10, 1, 1, rangeOK},
		{"bytes= 1 - 2 ", 10, 1, 2, rangeOK},
		{"bytes=10-", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=10-20", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=-0", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=0-0", 0, 0, 0, rangeUnsatisfiable},
		{"bytes=-5", 0, 0, 0, rangeUnsatisfiable},
		{"bytes=5-2", 10, 0, 0, rangeIgnore},
		{"bytes=0-1,3-4", 10, 0, 0, rangeIgnore},
		{"items=0-1", 10, 0, 0, rangeIgnore},
		{"bytes=", 10, 0, 0, rangeIgnore},
		{"bytes=-", 10, 0, 0, rangeIgnore},
		{"bytes=a-b", 10, 0, 0, rangeIgnore},
		{"bytes=99999999999999999999-", 10, 0, 0, rangeIgnore},
	}
	for _, tt := range tests {
		s, e, res := parseRange(tt.v, tt.size)
		if res != tt.res || res == rangeOK && (s != tt.start || e != tt.end) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %d; want %d, %d, %d", tt.v, tt.size, s, e, res, tt.start, tt.end, tt.res)
		}
	}
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=5-", "bytes=-3", "bytes=0-1,2-3", "bytes=-0", "bytes=9-1"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		s, e, res := parseRange(v, size)
		if res == rangeOK && !(0 <= s && s <= e && e < size) {
			t.Fatalf("parseRange(%q, %d) = %d-%d: out of bounds", v, size, s, e)
		}
	})
}

// RFC 9110 §14: ranges answered from a stored 200; a miss forwards the
// Range and does not store the 206.
func TestRangeRequests(t *testing.T) {
	const body = "0123456789"
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	})
	// A miss with Range: forwarded as is, 206 not stored.
	r := e.get("/f", "Range", "bytes=0-1")
	if r.status != 206 || r.body != "01" {
		t.Fatalf("miss with range: %d %q", r.status, r.body)
	}
	if e.origin.lastRequest().Header.Get("Range") != "bytes=0-1" {
		t.Fatal("the miss did not forward the Range")
	}
	r = e.get("/f", "Range", "bytes=0-1")
	if r.status != 206 || isHit(r) || e.origin.hits.Load() != 2 {
		t.Fatalf("a 206 was stored as a whole entry: %d %q hits=%d", r.status, r.cs(), e.origin.hits.Load())
	}
	// Store the full response, then serve ranges from it.
	if r = e.get("/f"); r.status != 200 || r.body != body {
		t.Fatalf("full: %d %q", r.status, r.body)
	}
	tests := []struct {
		hdr          []string
		status       int
		body, crange string
	}{
		{[]string{"Range", "bytes=2-4"}, 206, "234", "bytes 2-4/10"},
		{[]string{"Range", "bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{[]string{"Range", "bytes=-2"}, 206, "89", "bytes 8-9/10"},
		{[]string{"Range", "bytes=20-"}, 416, "", "bytes */10"},
		{[]string{"Range", "bytes=0-1,4-5"}, 200, body, ""},                             // multiple ranges: ignored
		{[]string{"Range", "bytes=0-1", "If-Range", `"v1"`}, 206, "01", "bytes 0-1/10"}, // If-Range honoured
		{[]string{"Range", "bytes=0-1", "If-Range", `"v0"`}, 200, body, ""},
		{[]string{"Range", "bytes=0-1", "If-Range", `W/"v1"`}, 200, body, ""}, // weak never matches
	}
	before := e.origin.hits.Load()
	for _, tt := range tests {
		r := e.get("/f", tt.hdr...)
		if r.status != tt.status || r.body != tt.body || r.header.Get("Content-Range") != tt.crange {
			t.Errorf("%q: got %d %q %q, want %d %q %q", tt.hdr, r.status, r.body, r.header.Get("Content-Range"), tt.status, tt.body, tt.crange)
		}
		if !isHit(r) {
			t.Errorf("%q: not a hit: %q", tt.hdr, r.cs())
		}
		if cl := r.header.Get("Content-Length"); tt.status != 416 && cl != strconv.Itoa(len(tt.body)) {
			t.Errorf("%q: Content-Length %q", tt.hdr, cl)
		}
	}
	if n := e.origin.hits.Load() - before; n != 0 {
		t.Errorf("ranges on a stored entry went upstream %d times", n)
	}
}

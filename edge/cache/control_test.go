package cache

import (
	"testing"
)

func TestParseCacheControl(t *testing.T) {
	none := directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1, swr: -1, sie: -1}
	with := func(f func(d *directives)) directives { d := none; f(&d); return d }
	tests := []struct {
		in   []string
		want directives
	}{
		{nil, none},
		{[]string{""}, none},
		{[]string{"max-age=60"}, with(func(d *directives) { d.maxAge = 60 })},
		{[]string{"MAX-AGE=60"}, with(func(d *directives) { d.maxAge = 60 })},
		{[]string{`max-age="60"`}, with(func(d *directives) { d.maxAge = 60 })},
		{[]string{"max-age=60, max-age=10"}, with(func(d *directives) { d.maxAge = 10 })}, // most restrictive
		{[]string{"max-age=10", "max-age=60"}, with(func(d *directives) { d.maxAge = 10 })},
		{[]string{"max-age=abc"}, with(func(d *directives) { d.flags = ccBadMaxAge })},
		{[]string{"max-age=-1"}, with(func(d *directives) { d.flags = ccBadMaxAge })},
		{[]string{"max-age"}, with(func(d *directives) { d.flags = ccBadMaxAge })},
		{[]string{"max-age=99999999999999999999"}, with(func(d *directives) { d.maxAge = maxDelta })},
		{[]string{"s-maxage=5, public"}, with(func(d *directives) { d.sMaxAge = 5; d.flags = ccPublic })},
		{[]string{"no-store,no-cache ,  private"}, with(func(d *directives) { d.flags = ccNoStore | ccNoCache | ccPrivate })},
		{[]string{`no-cache="Set-Cookie, X-Foo", max-age=5`}, with(func(d *directives) { d.flags = ccNoCache; d.maxAge = 5 })},
		{[]string{`private="a,b"`}, with(func(d *directives) { d.flags = ccPrivate })},
		{[]string{`foo="bar, max-age=5", max-age=7`}, with(func(d *directives) { d.maxAge = 7 })},
		{[]string{`x="\"quoted, max-age=1\"", max-age=9`}, with(func(d *directives) { d.maxAge = 9 })},
		{[]string{"max-stale"}, with(func(d *directives) { d.flags = ccMaxStaleAny })},
		{[]string{"max-stale=30"}, with(func(d *directives) { d.maxStale = 30 })},
		{[]string{"max-stale=x"}, none},
		{[]string{"min-fresh=5, min-fresh=10"}, with(func(d *directives) { d.minFresh = 10 })},
		{[]string{"min-fresh=abc"}, none},
		{[]string{"stale-while-revalidate=30, stale-if-error=600"}, with(func(d *directives) { d.swr = 30; d.sie = 600 })},
		{[]string{"only-if-cached"}, with(func(d *directives) { d.flags = ccOnlyIfCached })},
		{[]string{"must-revalidate, proxy-revalidate, immutable, no-transform, must-understand"},
			with(func(d *directives) {
				d.flags = ccMustRevalidate | ccProxyRevalidate | ccImmutable | ccNoTransform | ccMustUnderstand
			})},
		{[]string{"max-age=60 junk, public"}, with(func(d *directives) { d.flags = ccPublic })}, // garbage drops the directive
		{[]string{"max-age = 60"}, with(func(d *directives) { d.maxAge = 60 })},
		{[]string{",,, ,max-age=1,,"}, with(func(d *directives) { d.maxAge = 1 })},
		{[]string{`max-age="6`}, with(func(d *directives) { d.maxAge = 6 })}, // unterminated quote
		{[]string{"unknown-ext=1, public"}, with(func(d *directives) { d.flags = ccPublic })},
	}
	for _, tt := range tests {
		if got := parseCacheControl(tt.in); got != tt.want {
			t.Errorf("parseCacheControl(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseCacheControlNoAlloc(t *testing.T) {
	in := []string{`max-age=60, s-maxage=30, no-cache="Set-Cookie", stale-while-revalidate=5, public`}
	if n := testing.AllocsPerRun(100, func() { parseCacheControl(in) }); n != 0 {
		t.Fatalf("parseCacheControl allocates %v times", n)
	}
}

// FuzzCacheControl checks that the parser never panics, that values stay
// in range, and that formatting the result and parsing it again is a
// fixed point.
func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60", "s-maxage=5, public", "no-store", "no-cache", `no-cache="Set-Cookie"`,
		"private", `private="X-Foo, X-Bar"`, "must-revalidate", "proxy-revalidate", "max-stale",
		"max-stale=10", "min-fresh=5", "only-if-cached", "stale-while-revalidate=30, stale-if-error=86400",
		"public, max-age=31536000, immutable", `max-age="10"`, "MAX-AGE=1, No-Store",
		"no-transform, must-understand, no-store", `ext="a\"b", max-age=3`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseCacheControl([]string{s})
		for _, v := range []int64{d.maxAge, d.sMaxAge, d.maxStale, d.minFresh, d.swr, d.sie} {
			if v < -1 || v > maxDelta {
				t.Fatalf("%q: value %d out of range: %+v", s, v, d)
			}
		}
		again := parseCacheControl([]string{d.String()})
		if again != d {
			t.Fatalf("%q: parsed %+v, formatted %q, reparsed %+v", s, d, d.String(), again)
		}
	})
}

// TestCacheControlFailsClosed pins the review finding that a malformed
// field dropped its private or no-store and let the response be shared.
func TestCacheControlFailsClosed(t *testing.T) {
	for _, v := range []string{"private max-age=60", "private;max-age=60", "max-age=60 ;private", "no-store max-age=60", `NO-CACHE="x" junk`} {
		d := parseCacheControl([]string{v})
		if !d.has(ccPrivate) && !d.has(ccNoStore) && !d.has(ccNoCache) {
			t.Errorf("%q: no restrictive directive kept", v)
		}
	}
	// A restrictive word inside another token is not one.
	if d := parseCacheControl([]string{"x-private-thing=1 junk, max-age=5"}); d.has(ccPrivate) {
		t.Error("x-private-thing read as private")
	}
}

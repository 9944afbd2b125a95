package main

import (
	"testing"
)

func benchPlugin(b *testing.B, c *config) *plugin {
	p, err := c.compile()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkVerifyHS256 is the first verification of an HS256 token with a
// claim to forward: decoding, MAC, claims.
func BenchmarkVerifyHS256(b *testing.B) {
	p := benchPlugin(b, &config{Keys: []keyConfig{{Secret: secret}}, Forward: []forwardConfig{{"sub", "x-user"}}})
	tok := hs(valid(nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.v.verifyFresh(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRS256 is the first verification of an RS256 token.
func BenchmarkVerifyRS256(b *testing.B) {
	rsaKeys(b)
	p := benchPlugin(b, &config{Keys: []keyConfig{{PublicKey: pemA}}})
	tok := token(map[string]any{"alg": "RS256"}, valid(nil), rsaA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.v.verifyFresh(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is a token seen before: the common case of a
// client that reuses its token.
func BenchmarkVerifyCached(b *testing.B) {
	p := benchPlugin(b, &config{Keys: []keyConfig{{Secret: secret}}, Forward: []forwardConfig{{"sub", "x-user"}}})
	tok := hs(valid(nil))
	if _, err := p.v.verify(tok, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.v.verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyCachedAllocs pins the cache hit at zero allocations.
func TestVerifyCachedAllocs(t *testing.T) {
	if n := testing.Benchmark(BenchmarkVerifyCached).AllocsPerOp(); n != 0 {
		t.Errorf("a cached verification allocates %d times, want 0", n)
	}
}

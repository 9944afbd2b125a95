package abi

import (
	"bytes"
	"slices"
	"testing"
)

type kv struct{ k, v string }

func appendKVs(dst []byte, pairs []kv) []byte {
	return AppendPairs(dst, len(pairs), func(i int) (string, string) { return pairs[i].k, pairs[i].v })
}

func parseKVs(b []byte) ([]kv, error) {
	var out []kv
	err := ParsePairs(b, func(k, v string) { out = append(out, kv{k, v}) })
	return out, err
}

func TestPairsSpecExample(t *testing.T) {
	// The specification's example: {{"a": "1"}, {"b": "22"}}.
	want := []byte{
		2, 0, 0, 0,
		1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
		'a', 0, '1', 0, 'b', 0, '2', '2', 0,
	}
	got := appendKVs(nil, []kv{{"a", "1"}, {"b", "22"}})
	if !bytes.Equal(got, want) {
		t.Fatalf("serialized % x\nwant        % x", got, want)
	}
	if n := SerializedSize(2, 5); n != len(want) {
		t.Errorf("SerializedSize = %d, want %d", n, len(want))
	}
}

func TestPairsRoundTrip(t *testing.T) {
	tests := [][]kv{
		nil,
		{{"a", "1"}},
		{{":path", "/x?y=1"}, {"x-empty", ""}, {"", "nameless"}, {"dup", "1"}, {"dup", "2"}},
		{{"binary", "a\x00b\xff"}},
	}
	for _, pairs := range tests {
		b := appendKVs([]byte("prefix"), pairs)
		got, err := parseKVs(b[len("prefix"):])
		if err != nil {
			t.Fatalf("%v: %v", pairs, err)
		}
		if !slices.Equal(got, pairs) {
			t.Errorf("round trip %v -> %v", pairs, got)
		}
		if CountPairs(b[len("prefix"):]) != len(pairs) {
			t.Errorf("CountPairs(%v) = %d", pairs, CountPairs(b[len("prefix"):]))
		}
	}
}

func TestParsePairsMalformed(t *testing.T) {
	valid := appendKVs(nil, []kv{{"ab", "cd"}})
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"empty", nil, true},
		{"single zero byte", []byte{0}, true},
		{"zero count", []byte{0, 0, 0, 0}, true},
		{"short count", []byte{1, 0}, false},
		{"count past the end", []byte{9, 0, 0, 0, 1, 0, 0, 0}, false},
		{"huge count", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"truncated data", valid[:len(valid)-1], false},
		{"key length past the end", func() []byte { b := slices.Clone(valid); b[4] = 200; return b }(), false},
		{"value length wraps", func() []byte { b := slices.Clone(valid); b[8], b[9], b[10], b[11] = 0xff, 0xff, 0xff, 0xff; return b }(), false},
		{"missing NUL after key", func() []byte { b := slices.Clone(valid); b[len(b)-4] = 'x'; return b }(), false},
		{"missing NUL after value", func() []byte { b := slices.Clone(valid); b[len(b)-1] = 'x'; return b }(), false},
		{"valid", valid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseKVs(tt.b)
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// FuzzParsePairs: parsing never panics, and whatever parses serializes back
// to a map that parses the same.
func FuzzParsePairs(f *testing.F) {
	f.Add(appendKVs(nil, []kv{{"a", "1"}, {"b", "22"}}))
	f.Add(appendKVs(nil, []kv{{":status", "200"}, {"x", ""}}))
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := parseKVs(b)
		if err != nil {
			return
		}
		if CountPairs(b) < len(pairs) {
			t.Fatalf("CountPairs %d < %d parsed", CountPairs(b), len(pairs))
		}
		again, err := parseKVs(appendKVs(nil, pairs))
		if err != nil || !slices.Equal(again, pairs) {
			t.Fatalf("re-serialized %v -> %v, %v", pairs, again, err)
		}
	})
}

func TestStatusString(t *testing.T) {
	if StatusCASMismatch.String() != "CAS_MISMATCH" || Status(99).String() != "status 99" {
		t.Errorf("got %q and %q", StatusCASMismatch.String(), Status(99).String())
	}
}

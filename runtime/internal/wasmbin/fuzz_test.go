package wasmbin

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzExportMutableGlobals checks, on any input, that ExportMutableGlobals
// does not panic or modify its input, that an error is one of the package's,
// and that an output differs from the input only by the new exports, parses
// again and keeps those exports when rewritten with another prefix.
func FuzzExportMutableGlobals(f *testing.F) {
	for _, c := range rewriteCases() {
		f.Add(c.in)
	}
	for _, c := range errorCases() {
		f.Add(c.in)
	}
	f.Add(richModule())

	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, names, err := ExportMutableGlobals(in, "a.")
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrImportedMutableGlobal) && !errors.Is(err, ErrPrefixTaken) {
				t.Fatalf("error %v is none of the package's", err)
			}
			return
		}
		if len(names) == 0 && !bytes.Equal(out, in) {
			t.Fatalf("no new export, yet the output differs:\n% x\n% x", in, out)
		}
		if !slices.EqualFunc(sectionsBut(t, in, secExport), sectionsBut(t, out, secExport), bytes.Equal) {
			t.Fatalf("sections other than exports changed:\n% x\n% x", in, out)
		}
		before, after := exportsOf(t, in), exportsOf(t, out)
		if len(after) != len(before)+len(names) || !slices.Equal(after[:len(before)], before) {
			t.Fatalf("exports %v, then %v", before, after)
		}
		for i, n := range names {
			if e := after[len(before)+i]; e.name != n || e.kind != kindGlobal {
				t.Fatalf("new export %+v, name %q", e, n)
			}
		}

		out2, names2, err := ExportMutableGlobals(out, "b.")
		if err != nil {
			if errors.Is(err, ErrPrefixTaken) && slices.ContainsFunc(before, func(e export) bool {
				return strings.HasPrefix(e.name, "b.")
			}) {
				return
			}
			t.Fatalf("output does not rewrite again: %v\n% x", err, out)
		}
		if !slices.Equal(exportsOf(t, out2)[:len(after)], after) {
			t.Fatalf("second rewrite lost exports: %v, then %v", after, exportsOf(t, out2))
		}
		if len(names2) != len(names) {
			t.Fatalf("names %q, then %q", names, names2)
		}
		for i := range names {
			if names2[i] != "b."+strings.TrimPrefix(names[i], "a.") {
				t.Fatalf("names %q, then %q", names, names2)
			}
		}
	})
}

// sectionsBut returns every section of a valid module but those with the
// given id, header included, in order.
func sectionsBut(t *testing.T, bin []byte, id byte) [][]byte {
	t.Helper()
	var secs [][]byte
	d := decoder{b: bin, pos: 8, end: len(bin)}
	for !d.done() {
		start := d.pos
		c, _ := d.byte()
		size, err := d.u32()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.skip(int(size)); err != nil {
			t.Fatal(err)
		}
		if c != id {
			secs = append(secs, bin[start:d.pos])
		}
	}
	return secs
}

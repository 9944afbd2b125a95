package wasmbin

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// rewriteCase is a module ExportMutableGlobals(in, "g") accepts.
type rewriteCase struct {
	name      string
	in        []byte
	want      []byte // nil: the same as in
	wantNames []string
}

func rewriteCases() []rewriteCase {
	mutI32 := sec(secGlobal, vec(glob(i32, true, i32c(1)...)))
	// 130 immutable globals then a mutable one: index 130 needs a two-byte LEB.
	many := make([][]byte, 131)
	for i := range 130 {
		many[i] = glob(i32, false, i32c(int32(i))...)
	}
	many[130] = glob(i64, true, i64c(-1)...)

	return []rewriteCase{{
		name:      "no export section: inserted after the global section",
		in:        mod(typeSec, funcSec, mutI32, codeSec),
		want:      mod(typeSec, funcSec, mutI32, sec(secExport, vec(exp("g0", kindGlobal, 0))), codeSec),
		wantNames: []string{"g0"},
	}, {
		name: "appended to the export section",
		in: mod(typeSec, funcSec, sec(secMemory, vec([]byte{0x00, 0x01})), mutI32,
			sec(secExport, vec(exp("run", kindFunc, 0), exp("memory", kindMemory, 0))), codeSec),
		want: mod(typeSec, funcSec, sec(secMemory, vec([]byte{0x00, 0x01})), mutI32,
			sec(secExport, vec(exp("run", kindFunc, 0), exp("memory", kindMemory, 0), exp("g0", kindGlobal, 0))), codeSec),
		wantNames: []string{"g0"},
	}, {
		name: "imported globals come first in the index space",
		in: mod(typeSec,
			sec(secImport, vec(
				imp("env", "f", kindFunc, 0x00),
				imp("env", "t", kindTable, funcref, 0x01, 0x01, 0x10),
				imp("env", "m", kindMemory, 0x07, 0x01, 0x80, 0x80, 0x04), // shared, 64-bit, with maximum
				imp("env", "a", kindGlobal, i32, 0x00),
				imp("env", "tag", kindTag, 0x00, 0x00),
				imp("env", "b", kindGlobal, extern, 0x00),
			)),
			sec(secGlobal, vec(
				glob(i32, false, i32c(1)...),
				glob(i32, true, 0x23, 0x00),
				glob(f32, false, 0x43, 0, 0, 0x80, 0x3f),
				glob(i64, true, i64c(1<<40)...),
			))),
		want: mod(typeSec,
			sec(secImport, vec(
				imp("env", "f", kindFunc, 0x00),
				imp("env", "t", kindTable, funcref, 0x01, 0x01, 0x10),
				imp("env", "m", kindMemory, 0x07, 0x01, 0x80, 0x80, 0x04),
				imp("env", "a", kindGlobal, i32, 0x00),
				imp("env", "tag", kindTag, 0x00, 0x00),
				imp("env", "b", kindGlobal, extern, 0x00),
			)),
			sec(secGlobal, vec(
				glob(i32, false, i32c(1)...),
				glob(i32, true, 0x23, 0x00),
				glob(f32, false, 0x43, 0, 0, 0x80, 0x3f),
				glob(i64, true, i64c(1<<40)...),
			)),
			sec(secExport, vec(exp("g3", kindGlobal, 3), exp("g5", kindGlobal, 5)))),
		wantNames: []string{"g3", "g5"},
	}, {
		name: "every constant expression",
		in: mod(sec(secGlobal, vec(
			glob(i32, true, i32c(-1<<31)...),
			glob(i64, true, i64c(-1<<63)...),
			glob(f32, true, 0x43, 1, 2, 3, 4),
			glob(f64, true, 0x44, 1, 2, 3, 4, 5, 6, 7, 8),
			glob(v128, true, cat([]byte{0xfd, 0x0c}, make([]byte, 16))...),
			glob(i32, true, 0x23, 0x00),
			glob(funcref, true, 0xd0, funcref),
			glob(extern, true, 0xd0, extern),
			glob(funcref, true, 0xd2, 0x00),
			glob(i32, true, cat(i32c(1), i32c(2), []byte{0x6a}, i32c(3), []byte{0x6b}, i32c(4), []byte{0x6c})...),
			glob(i64, true, cat(i64c(1), i64c(2), []byte{0x7c}, i64c(3), []byte{0x7d}, i64c(4), []byte{0x7e})...),
			glob(i32, true, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07), // max s32, five bytes
			glob(i32, true, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78), // min s32, five bytes
		))),
		want: mod(sec(secGlobal, vec(
			glob(i32, true, i32c(-1<<31)...),
			glob(i64, true, i64c(-1<<63)...),
			glob(f32, true, 0x43, 1, 2, 3, 4),
			glob(f64, true, 0x44, 1, 2, 3, 4, 5, 6, 7, 8),
			glob(v128, true, cat([]byte{0xfd, 0x0c}, make([]byte, 16))...),
			glob(i32, true, 0x23, 0x00),
			glob(funcref, true, 0xd0, funcref),
			glob(extern, true, 0xd0, extern),
			glob(funcref, true, 0xd2, 0x00),
			glob(i32, true, cat(i32c(1), i32c(2), []byte{0x6a}, i32c(3), []byte{0x6b}, i32c(4), []byte{0x6c})...),
			glob(i64, true, cat(i64c(1), i64c(2), []byte{0x7c}, i64c(3), []byte{0x7d}, i64c(4), []byte{0x7e})...),
			glob(i32, true, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07),
			glob(i32, true, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78),
		)), sec(secExport, vec(
			exp("g0", kindGlobal, 0), exp("g1", kindGlobal, 1), exp("g2", kindGlobal, 2), exp("g3", kindGlobal, 3),
			exp("g4", kindGlobal, 4), exp("g5", kindGlobal, 5), exp("g6", kindGlobal, 6), exp("g7", kindGlobal, 7),
			exp("g8", kindGlobal, 8), exp("g9", kindGlobal, 9), exp("g10", kindGlobal, 10), exp("g11", kindGlobal, 11),
			exp("g12", kindGlobal, 12)))),
		wantNames: []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "g10", "g11", "g12"},
	}, {
		name: "custom sections stay in place, export goes before start, data count and code",
		in: mod(custom("a", 1, 2), typeSec, custom("b"), funcSec, sec(secTag, vec([]byte{0, 0})), mutI32, custom("c", 3),
			startSec, sec(secElement, vec()), sec(secDataCount, uleb(0)), codeSec, sec(secData, vec()), custom("name", 4)),
		want: mod(custom("a", 1, 2), typeSec, custom("b"), funcSec, sec(secTag, vec([]byte{0, 0})), mutI32,
			sec(secExport, vec(exp("g0", kindGlobal, 0))), custom("c", 3),
			startSec, sec(secElement, vec()), sec(secDataCount, uleb(0)), codeSec, sec(secData, vec()), custom("name", 4)),
		wantNames: []string{"g0"},
	}, {
		name:      "global section last",
		in:        mod(typeSec, mutI32, custom("name")),
		want:      mod(typeSec, mutI32, sec(secExport, vec(exp("g0", kindGlobal, 0))), custom("name")),
		wantNames: []string{"g0"},
	}, {
		name: "non-minimal LEBs are kept, except the export section's count and size",
		in: mod(
			[]byte{secType, 0x85, 0x80, 0x80, 0x80, 0x00, 0x81, 0x00, 0x60, 0x00, 0x00}, // padded size and count
			mutI32,
			[]byte{secExport, 0x87, 0x00, 0x81, 0x80, 0x00, 0x01, 'x', kindGlobal, 0x00}), // padded size and count
		want: mod(
			[]byte{secType, 0x85, 0x80, 0x80, 0x80, 0x00, 0x81, 0x00, 0x60, 0x00, 0x00},
			mutI32,
			sec(secExport, vec(exp("x", kindGlobal, 0), exp("g0", kindGlobal, 0)))),
		wantNames: []string{"g0"},
	}, {
		name:      "index past 127",
		in:        mod(sec(secGlobal, vec(many...))),
		want:      mod(sec(secGlobal, vec(many...)), sec(secExport, vec(exp("g130", kindGlobal, 130)))),
		wantNames: []string{"g130"},
	}, {
		name: "no mutable global: unchanged",
		in:   mod(typeSec, sec(secGlobal, vec(glob(i32, false, i32c(1)...))), sec(secExport, vec(exp("x", kindGlobal, 0)))),
	}, {
		name: "empty module: unchanged",
		in:   mod(),
	}}
}

func TestExportMutableGlobals(t *testing.T) {
	for _, tt := range rewriteCases() {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.in)
			out, names, err := ExportMutableGlobals(in, "g")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, tt.in) {
				t.Error("input modified")
			}
			want := tt.want
			if want == nil {
				want = tt.in
			} else if len(out) > 0 && len(in) > 0 && &out[0] == &in[0] {
				t.Error("output shares memory with the input")
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output\n got % x\nwant % x", out, want)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("names = %q, want %q", names, tt.wantNames)
			}
		})
	}
}

// errorCase is a call of ExportMutableGlobals that fails.
type errorCase struct {
	name    string
	in      []byte
	prefix  string
	wantErr error  // nil: any error
	wantMsg string // substring
}

func errorCases() []errorCase {
	glob1 := func(g []byte) []byte { return mod(sec(secGlobal, vec(g))) }
	return []errorCase{
		{"empty input", nil, "g", ErrMalformed, "header"},
		{"short header", header[:7], "g", ErrMalformed, "header"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), "g", ErrMalformed, "magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "g", ErrUnsupported, "version"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "g", ErrUnsupported, "version"},
		{"section past the end", mod([]byte{secType, 0x05, 0x00}), "g", ErrMalformed, "section id 1 claims 5 bytes"},
		{"truncated section size", mod([]byte{secType, 0x80}), "g", ErrMalformed, "truncated LEB128"},
		{"section size over u32", mod([]byte{secType, 0xff, 0xff, 0xff, 0xff, 0x1f}), "g", ErrMalformed, "too large for u32"},
		{"section size six bytes", mod([]byte{secType, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), "g", ErrMalformed, "too long"},
		{"unknown section", mod(sec(14)), "g", ErrMalformed, "unknown section id 14"},
		{"out of order", mod(sec(secGlobal, vec()), sec(secMemory, vec())), "g", ErrMalformed, "memory section out of order"},
		{"repeated", mod(typeSec, typeSec), "g", ErrMalformed, "type section out of order or repeated"},
		{"data count after code", mod(sec(secCode, vec()), sec(secDataCount, uleb(0))), "g", ErrMalformed, "data count section out of order"},
		{"custom name too long", mod(sec(secCustom, uleb(5), []byte("ab"))), "g", ErrMalformed, "custom section name"},
		{"custom section empty", mod(sec(secCustom)), "g", ErrMalformed, "custom section name"},

		{"imported mutable global", mod(sec(secImport, vec(imp("env", "g", kindGlobal, i32, 0x01)))), "g", ErrImportedMutableGlobal, `import 0 ("env" "g") is global 0`},
		{"imported mutable global after another", mod(sec(secImport, vec(imp("env", "a", kindGlobal, i32, 0x00), imp("env", "f", kindFunc, 0), imp("env", "b", kindGlobal, i64, 0x01)))), "g", ErrImportedMutableGlobal, `import 2 ("env" "b") is global 1`},
		{"import kind 5", mod(sec(secImport, vec(imp("env", "x", 5, 0)))), "g", ErrMalformed, "unknown import kind 0x05"},
		{"import limits flags 0x08", mod(sec(secImport, vec(imp("env", "m", kindMemory, 0x08, 0x01, 0x10)))), "g", ErrUnsupported, "limits flags 0x08"},
		{"import table of GC type", mod(sec(secImport, vec(imp("env", "t", kindTable, 0x64, 0x00, 0x00, 0x01)))), "g", ErrUnsupported, "reference type 0x64"},
		{"import tag attribute 1", mod(sec(secImport, vec(imp("env", "t", kindTag, 0x01, 0x00)))), "g", ErrMalformed, "tag attribute"},
		{"import count beyond section", mod(sec(secImport, uleb(0xffffffff), imp("a", "b", kindFunc, 0))), "g", ErrMalformed, "cannot fit"},
		{"import name past section", mod(sec(secImport, uleb(1), uleb(100), []byte("abc"))), "g", ErrMalformed, "bytes needed"},
		{"import memory64 minimum over u64", mod(sec(secImport, vec(imp("env", "m", kindMemory, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)))), "g", ErrMalformed, "u64"},
		{"bytes after the last import", mod(sec(secImport, vec(imp("env", "f", kindFunc, 0)), []byte{0})), "g", ErrMalformed, "after the last import"},

		{"mutability 2", glob1([]byte{i32, 0x02, 0x41, 0x00, end}), "g", ErrMalformed, "mutability flag 0x02"},
		{"GC value type", glob1(glob(0x64, true, 0xd0, funcref)), "g", ErrUnsupported, "value type 0x64"},
		{"local.get in init", glob1(glob(i32, true, 0x20, 0x00)), "g", ErrUnsupported, "opcode 0x20"},
		{"init without end", mod(sec(secGlobal, vec([]byte{i32, 0x01, 0x41, 0x00}))), "g", ErrMalformed, "without end"},
		{"i32.const six bytes", glob1(glob(i32, true, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), "g", ErrMalformed, "s32"},
		{"i32.const over s32", glob1(glob(i32, true, 0x41, 0xff, 0xff, 0xff, 0xff, 0x0f)), "g", ErrMalformed, "s32"},
		{"i32.const under s32", glob1(glob(i32, true, 0x41, 0x80, 0x80, 0x80, 0x80, 0x70)), "g", ErrMalformed, "s32"},
		{"i64.const eleven bytes", glob1(glob(i64, true, 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), "g", ErrMalformed, "s64"},
		{"f64.const truncated", mod(sec(secGlobal, vec([]byte{f64, 0x01, 0x44, 1, 2, 3}))), "g", ErrMalformed, "bytes needed"},
		{"SIMD op other than v128.const", glob1(glob(v128, true, 0xfd, 0x0d)), "g", ErrUnsupported, "0xfd 13"},
		{"ref.null of GC type", glob1(glob(funcref, true, 0xd0, 0x63)), "g", ErrUnsupported, "reference type 0x63"},
		{"global count beyond section", mod(sec(secGlobal, uleb(0xffffffff), glob(i32, true, i32c(0)...))), "g", ErrMalformed, "cannot fit"},
		{"bytes after the last global", mod(sec(secGlobal, vec(glob(i32, true, i32c(0)...)), []byte{0})), "g", ErrMalformed, "after the last global"},

		{"prefix taken", mod(sec(secExport, vec(exp("run", kindFunc, 0), exp("wedge.g0", kindFunc, 0)))), "wedge.g", ErrPrefixTaken, `export 1 is named "wedge.g0"`},
		{"prefix taken, no mutable global", mod(sec(secExport, vec(exp("gx", kindFunc, 0)))), "g", ErrPrefixTaken, `"gx"`},
		{"export kind 5", mod(sec(secExport, vec(exp("x", 5, 0)))), "g", ErrMalformed, "unknown export kind"},
		{"export count beyond section", mod(sec(secExport, uleb(1000), exp("x", kindFunc, 0))), "g", ErrMalformed, "cannot fit"},
		{"bytes after the last export", mod(sec(secExport, vec(exp("x", kindFunc, 0)), []byte{0})), "g", ErrMalformed, "after the last export"},

		{"empty prefix", mod(), "", nil, "empty export name prefix"},
		{"prefix not UTF-8", mod(), "g\xff", nil, "not valid UTF-8"},
	}
}

func TestExportMutableGlobalsErrors(t *testing.T) {
	for _, tt := range errorCases() {
		t.Run(tt.name, func(t *testing.T) {
			out, names, err := ExportMutableGlobals(tt.in, tt.prefix)
			if err == nil {
				t.Fatalf("no error; output % x, names %q", out, names)
			}
			if out != nil || names != nil {
				t.Errorf("output % x, names %q with an error", out, names)
			}
			if !strings.HasPrefix(err.Error(), "wasmbin: ") {
				t.Errorf("error %q lacks the wasmbin: prefix", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestHasStart(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want bool
	}{
		{mod(), false},
		{mod(typeSec, funcSec, codeSec), false},
		{mod(typeSec, funcSec, startSec, codeSec, custom("name")), true},
	} {
		got, err := HasStart(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("HasStart(% x) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := HasStart(mod(startSec, startSec)); !errors.Is(err, ErrMalformed) {
		t.Errorf("two start sections: error %v", err)
	}
}

// richModule uses every section kind and every import kind.
func richModule() []byte {
	return mod(custom("a", 1), typeSec,
		sec(secImport, vec(
			imp("env", "f", kindFunc, 0x00),
			imp("env", "t", kindTable, extern, 0x00, 0x01),
			imp("env", "m", kindMemory, 0x01, 0x01, 0x02),
			imp("env", "g", kindGlobal, f64, 0x00),
			imp("env", "e", kindTag, 0x00, 0x00))),
		funcSec, sec(secTable, vec([]byte{funcref, 0x00, 0x01})), sec(secTag, vec([]byte{0, 0})),
		sec(secGlobal, vec(glob(i32, true, i32c(300)...), glob(f64, true, 0x23, 0x00), glob(v128, false, cat([]byte{0xfd, 0x0c}, make([]byte, 16))...))),
		sec(secExport, vec(exp("run", kindFunc, 1), exp("mem", kindMemory, 0))),
		sec(secElement, vec()), sec(secDataCount, uleb(1)), codeSec,
		sec(secData, vec(cat([]byte{0x01}, name("hi")))), custom("name", 0, 1, 0))
}

// TestTruncated cuts a module at every length: a cut between sections is a
// valid (smaller) module, any other cut must be an error, never a panic.
func TestTruncated(t *testing.T) {
	bin := richModule()
	if _, _, err := ExportMutableGlobals(bin, "g"); err != nil {
		t.Fatal(err)
	}
	boundaries := map[int]bool{8: true}
	for d := (decoder{b: bin, pos: 8, end: len(bin)}); !d.done(); {
		d.pos++
		size, _ := d.u32()
		d.pos += int(size)
		boundaries[d.pos] = true
	}
	for n := range len(bin) {
		out, _, err := ExportMutableGlobals(bin[:n], "g")
		switch {
		case err == nil && !boundaries[n]:
			t.Errorf("cut at %d of %d inside a section: no error, output % x", n, len(bin), out)
		case err != nil && boundaries[n]:
			t.Errorf("cut at %d of %d between sections: %v", n, len(bin), err)
		case err != nil && !errors.Is(err, ErrMalformed):
			t.Errorf("cut at %d: %v is not ErrMalformed", n, err)
		}
	}
}

// TestGarbage feeds random bytes and randomly damaged modules: errors are
// fine, panics are not, and every error is one of the package's.
func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	valid := richModule()
	for i := range 20000 {
		var in []byte
		if i%2 == 0 {
			in = make([]byte, 8+rng.IntN(64))
			copy(in, header[:])
			for j := 8; j < len(in); j++ {
				in[j] = byte(rng.UintN(256))
			}
		} else {
			in = bytes.Clone(valid)
			for range 1 + rng.IntN(4) {
				in[8+rng.IntN(len(in)-8)] = byte(rng.UintN(256))
			}
		}
		out, _, err := ExportMutableGlobals(in, "g")
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrImportedMutableGlobal) && !errors.Is(err, ErrPrefixTaken) {
				t.Fatalf("% x: unexpected error %v", in, err)
			}
			continue
		}
		if _, _, err := ExportMutableGlobals(out, "h"); err != nil && !errors.Is(err, ErrPrefixTaken) {
			t.Fatalf("% x: output does not parse again: %v", in, err)
		}
	}
}

// TestHugeCounts checks that a count far larger than its section fails
// before anything is allocated for it.
func TestHugeCounts(t *testing.T) {
	for _, in := range [][]byte{
		mod(sec(secImport, uleb(0xffffffff))),
		mod(sec(secGlobal, uleb(0xffffffff))),
		mod(sec(secExport, uleb(0xffffffff))),
		mod(sec(secGlobal, vec(glob(i32, true, i32c(0)...))), sec(secExport, uleb(0xffffffff), exp("x", kindFunc, 0))),
		mod(sec(secImport, vec(imp("env", "m", kindMemory, 0x00, 0x00))), sec(secGlobal, uleb(0xffffffff), glob(i32, true, i32c(0)...))),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, _, err := ExportMutableGlobals(in, "g"); !errors.Is(err, ErrMalformed) {
				t.Fatalf("% x: error %v", in, err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("% x: %d bytes allocated by 10 failed calls", in, n)
		}
	}
}

// TestAllocs pins the allocations of a rewrite: the output, the names slice
// and one string holding every name.
func TestAllocs(t *testing.T) {
	in := richModule()
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ExportMutableGlobals(in, "wedge.g"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 3 {
		t.Errorf("%v allocations per rewrite, want 3", allocs)
	}
}

// export is one entry of an export section, for checking outputs.
type export struct {
	name string
	kind byte
	idx  uint32
}

// exportsOf lists the exports of a module already accepted by
// ExportMutableGlobals.
func exportsOf(t testing.TB, bin []byte) []export {
	t.Helper()
	l, err := scan(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !l.exports.present() {
		return nil
	}
	d := decoder{b: bin, pos: l.exports.body, end: l.exports.end}
	n, err := d.u32()
	if err != nil {
		t.Fatal(err)
	}
	var exps []export
	for range n {
		nm, err1 := d.name()
		kind, err2 := d.byte()
		idx, err3 := d.u32()
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		exps = append(exps, export{string(nm), kind, idx})
	}
	return exps
}

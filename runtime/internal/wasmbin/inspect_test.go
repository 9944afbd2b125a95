package wasmbin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// filterModule is a small valid module shaped like a Proxy-Wasm filter:
// an ABI marker, a memory and an allocator, and two env imports.
func filterModule(extra ...[]byte) []byte {
	voidType := []byte{0x60, 0x00, 0x00}
	allocType := []byte{0x60, 0x01, i32, 0x01, i32}
	return mod(cat(
		sec(secType, vec(voidType, allocType)),
		sec(secImport, vec(
			imp("env", "proxy_log", kindFunc, 0x00),
			imp("wasi_snapshot_preview1", "fd_write", kindFunc, 0x01))),
		sec(secFunction, vec([]byte{0x00}, []byte{0x01})),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(
			exp("proxy_abi_version_0_2_1", kindFunc, 2),
			exp("proxy_on_memory_allocate", kindFunc, 3),
			exp("memory", kindMemory, 0))),
		sec(secCode, vec(
			cat(uleb(2), []byte{0x00, end}),
			cat(uleb(4), []byte{0x00, 0x41, 0x00, end}))),
		cat(extra...)))
}

func TestInspect(t *testing.T) {
	it, err := Inspect(filterModule(custom("big", make([]byte, 1<<20)...)))
	if err != nil {
		t.Fatal(err)
	}
	wantImports := []Import{{"env", "proxy_log", KindFunc}, {"wasi_snapshot_preview1", "fd_write", KindFunc}}
	wantExports := []Export{{"proxy_abi_version_0_2_1", KindFunc}, {"proxy_on_memory_allocate", KindFunc}, {"memory", KindMemory}}
	if !slices.Equal(it.Imports, wantImports) || !slices.Equal(it.Exports, wantExports) {
		t.Fatalf("Inspect = %+v", it)
	}
	if !it.Exported("memory", KindMemory) || it.Exported("memory", KindFunc) || it.Exported("nope", KindFunc) {
		t.Error("Exported is wrong")
	}

	rich, err := Inspect(richModule())
	if err != nil {
		t.Fatal(err)
	}
	kinds := ""
	for _, im := range rich.Imports {
		kinds += im.Kind.String() + " "
	}
	if kinds != "func table memory global tag " || !slices.Equal(rich.Exports, []Export{{"run", KindFunc}, {"mem", KindMemory}}) || rich.TableElements != 1 {
		t.Errorf("rich module: %+v", rich)
	}

	// Table sizes add up, 64-bit and with an initialiser too.
	tables := mod(sec(secTable, vec(
		[]byte{funcref, 0x00, 0x05},
		cat([]byte{extern, 0x05}, uleb(1<<40), uleb(1<<41)),
		cat([]byte{0x40, 0x00, funcref, 0x01, 0x02, 0x03}, []byte{0xd0, funcref, end}))))
	if it, err := Inspect(tables); err != nil || it.TableElements != 5+1<<40+2 {
		t.Errorf("Inspect(tables) = %+v, %v", it, err)
	}
	// A module with neither section has neither.
	if it, err := Inspect(mod(typeSec)); err != nil || len(it.Imports) != 0 || len(it.Exports) != 0 {
		t.Errorf("Inspect(no imports or exports) = %+v, %v", it, err)
	}
	// The code is not decoded: a function body of garbage goes unnoticed.
	garbage := mod(typeSec, funcSec, sec(secExport, vec(exp("f", kindFunc, 0))), sec(secCode, vec(cat(uleb(4), []byte{0x00, 0xff, 0xff, end}))))
	if it, err := Inspect(garbage); err != nil || !it.Exported("f", KindFunc) {
		t.Errorf("Inspect(garbage code) = %+v, %v", it, err)
	}
	// The framing errors of ExportMutableGlobals are Inspect's too.
	framing := 0
	for _, c := range errorCases() {
		if strings.Contains(c.name, "global") || strings.Contains(c.name, "import") || strings.Contains(c.name, "export") ||
			c.prefix != "g" {
			continue
		}
		framing++
		if _, err := Inspect(c.in); !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.wantMsg) {
			t.Errorf("%s: Inspect = %v, want %v with %q", c.name, err, c.wantErr, c.wantMsg)
		}
	}
	if framing < 8 {
		t.Errorf("only %d framing error cases", framing)
	}
	// Bad import and export entries.
	for _, in := range [][]byte{
		mod(sec(secImport, vec(imp("env", "f", 0x09, 0x00)))),
		mod(sec(secImport, vec(imp("env", "f", kindFunc, 0x00)), []byte{0x00})),
		mod(sec(secExport, vec(exp("f", 0x09, 0)))),
		mod(sec(secExport, vec(exp("f", kindFunc, 0)), []byte{0x00})),
		mod(sec(secExport, uleb(1<<20))),
	} {
		if _, err := Inspect(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("Inspect(% x) = %v, want ErrMalformed", in, err)
		}
	}
}

// FuzzInspect checks, on any input, that Inspect does not panic or modify
// its input, that its errors are the package's, and that where wazero also
// decodes the module, both agree on the function and memory imports and
// exports. wazero compiles only what Inspect accepts, so the fuzzer also
// finds counts that make wazero exhaust memory which Inspect lets through.
func FuzzInspect(f *testing.F) {
	f.Add(filterModule())
	f.Add(filterModule(custom("name", 1, 2, 3)))
	f.Add(filterModule(custom("name", 1, 5, 1, 2, 1, 'f', 0)))
	// The hand-written test modules, when built (make fuzz builds them).
	if wats, _ := filepath.Glob("../../../bin/wat/*.wasm"); len(wats) > 0 {
		for _, w := range wats {
			if b, err := os.ReadFile(w); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(richModule())
	for _, c := range rewriteCases() {
		f.Add(c.in)
	}
	for _, c := range errorCases() {
		f.Add(c.in)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		it, err := Inspect(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error %v is none of the package's", err)
		}
		if err != nil {
			// wazero is not given what Inspect refuses: it may
			// exhaust memory on counts the bytes do not back.
			return
		}
		cm, werr := rt.CompileModule(ctx, in)
		if werr != nil {
			return
		}
		defer cm.Close(ctx)
		var funcs, mems []string
		var ifuncs, imems [][2]string
		for _, e := range it.Exports {
			switch e.Kind {
			case KindFunc:
				funcs = append(funcs, e.Name)
			case KindMemory:
				mems = append(mems, e.Name)
			}
		}
		for _, im := range it.Imports {
			switch im.Kind {
			case KindFunc:
				ifuncs = append(ifuncs, [2]string{im.Module, im.Name})
			case KindMemory:
				imems = append(imems, [2]string{im.Module, im.Name})
			}
		}
		slices.Sort(funcs)
		slices.Sort(mems)
		if got := sortedKeys(cm.ExportedFunctions()); !slices.Equal(got, funcs) {
			t.Fatalf("function exports: wazero %q, Inspect %q", got, funcs)
		}
		if got := sortedKeys(cm.ExportedMemories()); !slices.Equal(got, mems) {
			t.Fatalf("memory exports: wazero %q, Inspect %q", got, mems)
		}
		var wfuncs, wmems [][2]string
		for _, d := range cm.ImportedFunctions() {
			m, n, _ := d.Import()
			wfuncs = append(wfuncs, [2]string{m, n})
		}
		for _, d := range cm.ImportedMemories() {
			m, n, _ := d.Import()
			wmems = append(wmems, [2]string{m, n})
		}
		if !slices.Equal(wfuncs, ifuncs) || !slices.Equal(wmems, imems) {
			t.Fatalf("imports: wazero %q %q, Inspect %q %q", wfuncs, wmems, ifuncs, imems)
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestInspectHugeCounts refuses modules of a few bytes whose vectors claim
// far more elements than they hold; wazero, given them, allocates from the
// count and the process dies out of memory.
func TestInspectHugeCounts(t *testing.T) {
	big := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 2³²-1
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"imports", mod(sec(secImport, big)), "import section: malformed module at offset 0xf: 4294967295 imports cannot fit"},
		{"types", mod(sec(secType, big)), "4294967295 types cannot fit"},
		{"parameters", mod(sec(secType, vec(cat([]byte{0x60}, big)))), "type 0: malformed module at offset 0x11: 4294967295 parameters cannot fit"},
		{"functions", mod(typeSec, sec(secFunction, big)), "4294967295 functions cannot fit"},
		{"tables", mod(sec(secTable, big)), "4294967295 tables cannot fit"},
		{"memories", mod(sec(secMemory, big)), "4294967295 memories cannot fit"},
		{"globals", mod(sec(secGlobal, big)), "4294967295 globals cannot fit"},
		{"element segments", mod(sec(secElement, big)), "4294967295 element segments cannot fit"},
		{"element entries", mod(typeSec, funcSec, sec(secElement, vec(cat([]byte{0x01, 0x00}, big))), codeSec), "segment 0: malformed module at offset 0x1d: 4294967295 function indices cannot fit"},
		{"bodies", mod(typeSec, funcSec, sec(secCode, big)), "4294967295 function bodies cannot fit"},
		{"locals", mod(typeSec, funcSec, sec(secCode, vec(cat(uleb(8), []byte{0x01}, big, []byte{i32, end})))), "body 0: offset 0x1e: unsupported: more than 50000 locals"},
		{"data segments", mod(sec(secData, big)), "4294967295 data segments cannot fit"},
		{"data bytes", mod(sec(secData, vec(cat([]byte{0x01}, big)))), "segment 0: malformed module"},
		{"function names", mod(typeSec, funcSec, codeSec, custom("name", cat([]byte{1, 5}, big)...)), "name section: subsection 1: malformed module at offset 0x29: 4294967295 names cannot fit"},
		{"local name maps", mod(typeSec, funcSec, codeSec, custom("name", cat([]byte{2, 5}, big)...)), "4294967295 functions with local names cannot fit"},
		{"local names", mod(typeSec, funcSec, codeSec, custom("name", cat([]byte{2, 7, 1, 0}, big)...)), "4294967295 names cannot fit"},
		{"module name", mod(typeSec, funcSec, codeSec, custom("name", cat([]byte{0, 5}, big)...)), "subsection 0: malformed module"},
		{"subsection past the end", mod(typeSec, funcSec, codeSec, custom("name", 1, 9, 0)), "subsection 1: malformed module"},
	}
	for _, tt := range tests {
		_, err := Inspect(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Inspect = %v, want %q", tt.name, err, tt.want)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v is none of the package's errors", tt.name, err)
		}
	}
	// Well-formed names, and subsections compilers do not read, are fine.
	subsection := func(id byte, body []byte) []byte { return cat([]byte{id}, uleb(uint64(len(body))), body) }
	names := custom("name", cat(
		subsection(0, name("mod")),
		subsection(1, vec(cat(uleb(0), name("f")))),
		subsection(2, vec(cat(uleb(0), vec(cat(uleb(0), name("x")))))),
		subsection(9, []byte{0xff, 0xff}))...)
	if _, err := Inspect(mod(typeSec, funcSec, codeSec, names)); err != nil {
		t.Errorf("good name section: %v", err)
	}
	// At the bound, locals are fine.
	body := cat([]byte{0x01}, uleb(MaxLocals), []byte{i32, 0x41, 0x00, end})
	ok := mod(typeSec, funcSec, sec(secCode, vec(cat(uleb(uint64(len(body))), body))))
	if _, err := Inspect(ok); err != nil {
		t.Errorf("%d locals: %v", MaxLocals, err)
	}
}

package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Modules Engine.Compile must refuse, each with a message that says what
// is wrong. Most are built here by a tiny assembler (wasmModule) so each
// differs from a loadable module in exactly one way; the control case
// shows the assembler's output does load.

// Value types and section ids of the binary format.
const (
	wI32 = 0x7f
	wI64 = 0x7e
	wF32 = 0x7d
	wF64 = 0x7c
)

// wfunc is one function of an assembled module: imported when module is
// set, else defined with a body that returns zeros and exported as export
// (when set).
type wfunc struct {
	module, name    string // import
	export          string
	params, results []byte
}

// wmem is the module's memory: none when pages < 0.
type wmem struct {
	pages    int
	export   string // "" leaves it unexported
	imported bool
}

func wUleb(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func wname(s string) []byte { return append(wUleb(uint64(len(s))), s...) }

func wsection(id byte, entries ...[]byte) []byte {
	body := wUleb(uint64(len(entries)))
	for _, e := range entries {
		body = append(body, e...)
	}
	return append(append([]byte{id}, wUleb(uint64(len(body)))...), body...)
}

// wasmModule assembles a module with one type per function, imports first
// (as the index space wants), then the memory, exports and bodies.
func wasmModule(mem wmem, list ...wfunc) []byte {
	var funcs []wfunc // function index order: imports, then definitions
	for _, f := range list {
		if f.module != "" {
			funcs = append(funcs, f)
		}
	}
	for _, f := range list {
		if f.module == "" {
			funcs = append(funcs, f)
		}
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types, imports, decls, exports, code [][]byte
	for i, f := range funcs {
		ty := append([]byte{0x60}, wUleb(uint64(len(f.params)))...)
		ty = append(ty, f.params...)
		ty = append(ty, wUleb(uint64(len(f.results)))...)
		types = append(types, append(ty, f.results...))
		if f.module != "" {
			imports = append(imports, append(append(wname(f.module), wname(f.name)...), 0x00, byte(i)))
		}
	}
	if mem.pages >= 0 && mem.imported {
		imports = append(imports, append(append(wname("env"), wname("memory")...), 0x02, 0x00, byte(mem.pages)))
	}
	for i, f := range funcs {
		if f.module != "" {
			continue
		}
		decls = append(decls, wUleb(uint64(i)))
		if f.export != "" {
			exports = append(exports, append(wname(f.export), 0x00, byte(i)))
		}
		var body []byte
		for _, r := range f.results {
			switch r {
			case wI32:
				body = append(body, 0x41, 0x00)
			case wI64:
				body = append(body, 0x42, 0x00)
			case wF32:
				body = append(body, 0x43, 0, 0, 0, 0)
			case wF64:
				body = append(body, 0x44, 0, 0, 0, 0, 0, 0, 0, 0)
			}
		}
		body = append(append([]byte{0x00}, body...), 0x0b) // no locals ... end
		code = append(code, append(wUleb(uint64(len(body))), body...))
	}
	if mem.pages >= 0 && mem.export != "" {
		exports = append(exports, append(wname(mem.export), 0x02, 0x00))
	}
	out = append(out, wsection(1, types...)...)
	if len(imports) > 0 {
		out = append(out, wsection(2, imports...)...)
	}
	out = append(out, wsection(3, decls...)...)
	if mem.pages >= 0 && !mem.imported {
		out = append(out, wsection(5, append([]byte{0x00}, wUleb(uint64(mem.pages))...))...)
	}
	out = append(out, wsection(7, exports...)...)
	return append(out, wsection(10, code...)...)
}

// loadable is what a minimal loadable filter has: the ABI marker, an
// allocator and its memory, exported as "memory".
var loadable = []wfunc{
	{export: "proxy_abi_version_0_2_1"},
	{export: "proxy_on_memory_allocate", params: []byte{wI32}, results: []byte{wI32}},
}

var exportedMemory = wmem{pages: 1, export: "memory"}

// loadableWith returns loadable (minus the functions named in drop) plus more.
func loadableWith(drop []string, more ...wfunc) []wfunc {
	var out []wfunc
	for _, f := range loadable {
		if !slices.Contains(drop, f.export) {
			out = append(out, f)
		}
	}
	return append(out, more...)
}

// TestCompileRefusesBadModules: each module is refused by Compile with an
// error that starts "runtime: " and names the problem.
func TestCompileRefusesBadModules(t *testing.T) {
	i32 := []byte{wI32}
	tests := []struct {
		name string
		wasm []byte
		want []string // substrings of the error; nil: Compile succeeds
	}{
		{"control: minimal loadable module", wasmModule(exportedMemory, loadable...), nil},
		{"control: unknown env import is stubbed", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{module: "env", name: "proxy_not_in_any_spec", params: []byte{wF64}, results: []byte{wI64}})...), nil},
		{"empty", nil, []string{"invalid WebAssembly module"}},
		{"text", []byte("(module)"), []string{"invalid WebAssembly module"}},
		{"ELF", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), []string{"invalid WebAssembly module"}},
		{"wasm version 2", []byte("\x00asm\x02\x00\x00\x00"), []string{"invalid WebAssembly module"}},
		{"no_abi.wat", readBuilt(t, "wat", "no_abi"),
			[]string{"no supported Proxy-Wasm ABI marker", "proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0", "found: none"}},
		{"ABI 0.1.0 only", wasmModule(exportedMemory, loadableWith([]string{"proxy_abi_version_0_2_1"},
			wfunc{export: "proxy_abi_version_0_1_0"})...),
			[]string{"no supported Proxy-Wasm ABI marker", "want proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0", "found: proxy_abi_version_0_1_0"}},
		{"unknown_module.wat", readBuilt(t, "wat", "unknown_module"),
			[]string{`unknown host module "not_env"`, "not_env.proxy_log"}},
		{"unknown WASI function", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{module: "wasi_snapshot_preview1", name: "sock_teleport", params: i32, results: i32})...),
			[]string{"unknown WASI function sock_teleport"}},
		{"import with a wrong signature", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{module: "env", name: "proxy_log", params: []byte{wI32, wI32}, results: i32})...),
			[]string{"import env.proxy_log has signature (i32,i32)->(i32), want (i32,i32,i32)->(i32)"}},
		{"i64 metric import taken as i32", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{module: "env", name: "proxy_increment_metric", params: []byte{wI32, wI32}, results: i32})...),
			[]string{"import env.proxy_increment_metric has signature (i32,i32)->(i32), want (i32,i64)->(i32)"}},
		{"import without its result", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{module: "env", name: "proxy_get_header_map_value", params: []byte{wI32, wI32, wI32, wI32, wI32}})...),
			[]string{"import env.proxy_get_header_map_value has signature (i32,i32,i32,i32,i32)->(), want (i32,i32,i32,i32,i32)->(i32)"}},
		{"callback with a wrong signature", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{export: "proxy_on_request_headers", params: []byte{wI32, wI32}, results: i32})...),
			[]string{"export proxy_on_request_headers has signature (i32,i32)->(i32), want (i32,i32,i32)->(i32)"}},
		{"callback with a result it must not have", wasmModule(exportedMemory,
			loadableWith(nil, wfunc{export: "proxy_on_delete", params: i32, results: i32})...),
			[]string{"export proxy_on_delete has signature (i32)->(i32), want (i32)->()"}},
		{"allocator with a wrong signature", wasmModule(exportedMemory,
			loadableWith([]string{"proxy_on_memory_allocate"}, wfunc{export: "proxy_on_memory_allocate", params: []byte{wI64}, results: []byte{wI64}})...),
			[]string{"export proxy_on_memory_allocate has signature (i64)->(i64), want (i32)->(i32)"}},
		{"no allocator", wasmModule(exportedMemory, loadableWith([]string{"proxy_on_memory_allocate"})...),
			[]string{"neither proxy_on_memory_allocate nor malloc"}},
		{"imported memory", wasmModule(wmem{pages: 1, imported: true}, loadable...),
			[]string{"imports its memory"}},
		// Regression: a module with no memory made NewPlugin panic (nil
		// memory in the snapshot), and one whose memory was not exported
		// escaped the page limit (a 200-page memory under a 64-page limit).
		{"no memory", wasmModule(wmem{pages: -1}, loadable...),
			[]string{`does not export its memory as "memory"`}},
		{"memory not exported", wasmModule(wmem{pages: 200}, loadable...),
			[]string{`does not export its memory as "memory"`}},
		{"memory exported under another name", wasmModule(wmem{pages: 1, export: "mem"}, loadable...),
			[]string{`does not export its memory as "memory"`}},
	}
	ctx := context.Background()
	e := newTestEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.Compile(ctx, tt.wasm)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				m.Close(ctx)
				return
			}
			if err == nil {
				m.Close(ctx)
				t.Fatalf("Compile accepted the module; want an error containing %q", tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "runtime: ") {
				t.Errorf("error %q does not start with the package prefix", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

// TestCompileRefusesTruncatedModules cuts real modules (the Go SDK filter
// and a hand-written one) at a few offsets inside their sections: each cut
// is an invalid module, refused with wazero's reason, and the engine still
// compiles the whole module afterwards.
func TestCompileRefusesTruncatedModules(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	for _, name := range []struct{ dir, name string }{{"filters", "headers"}, {"wat", "add_header"}} {
		bin := readBuilt(t, name.dir, name.name)
		bounds := sectionBounds(t, bin)
		cuts := []int{9, 10, 11, len(bin) / 3, len(bin) / 2, len(bin) - 100, len(bin) - 1}
		for _, cut := range cuts {
			for bounds[cut] { // a cut between sections is a valid, shorter module
				cut++
			}
			t.Run(fmt.Sprintf("%s/%d of %d", name.name, cut, len(bin)), func(t *testing.T) {
				m, err := e.Compile(ctx, bin[:cut])
				if err == nil {
					m.Close(ctx)
					t.Fatal("Compile accepted a truncated module")
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "runtime: invalid WebAssembly module: ") {
					t.Errorf("error %q, want runtime: invalid WebAssembly module: <reason>", msg)
				}
			})
		}
		m, err := e.Compile(ctx, bin)
		if err != nil {
			t.Fatalf("%s after the truncated ones: %v", name.name, err)
		}
		m.Close(ctx)
	}
}

// sectionBounds returns the offsets at which a section of bin starts or
// the module ends.
func sectionBounds(t *testing.T, bin []byte) map[int]bool {
	t.Helper()
	bounds := map[int]bool{8: true, len(bin): true}
	for off := 8; off < len(bin); {
		size, n := binary.Uvarint(bin[off+1:])
		if n <= 0 {
			t.Fatalf("bad section header at %d", off)
		}
		off += 1 + n + int(size)
		bounds[off] = true
	}
	return bounds
}

// TestNewPluginRefusesMemoryOverLimit: a module whose memory starts larger
// than the plugin's page limit is refused before anything is instantiated.
func TestNewPluginRefusesMemoryOverLimit(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, wasmModule(wmem{pages: 100, export: "memory"}, loadable...))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "big", Limits: Limits{MemoryPages: 64}})
	if err == nil {
		p.Close(ctx)
		t.Fatal("NewPlugin accepted a module starting at 100 pages with a 64-page limit")
	}
	if want := "needs 100 memory pages at start, the limit is 64"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if n := liveInstances(m); n != 0 {
		t.Errorf("%d instances live after the refusal", n)
	}
	p, err = e.NewPlugin(ctx, m, PluginConfig{Name: "big", Limits: Limits{MemoryPages: 100}})
	if err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	p.Close(ctx)
}

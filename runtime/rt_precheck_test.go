package runtime

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// withCustom appends a custom section of size payload bytes to a module.
func withCustom(bin []byte, name string, size int) []byte {
	body := append(wname(name), make([]byte, size)...)
	out := append(slices.Clip(bin), 0x00)
	out = append(out, wUleb(uint64(len(body)))...)
	return append(out, body...)
}

const markerError = "runtime: module exports no supported Proxy-Wasm ABI marker (want proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0; found: none)"

// TestCompileLargeModuleWithoutMarker: a 25 MB module without an ABI
// marker is refused with the marker error (issue 10: it used to be
// compiled first, for seconds).
func TestCompileLargeModuleWithoutMarker(t *testing.T) {
	e := newTestEngine(t)
	bin := withCustom(wasmModule(exportedMemory, loadableWith([]string{"proxy_abi_version_0_2_1"})...), "big", 25<<20)
	_, err := e.Compile(context.Background(), bin)
	if err == nil || err.Error() != markerError {
		t.Fatalf("Compile = %v, want %s", err, markerError)
	}
}

// TestCompileChecksExportsBeforeCompiling: modules whose code wazero would
// refuse, but that lack what a filter must export, are refused for the
// missing exports: those are checked before anything is compiled. The
// same modules with the exports are refused as invalid, so their code is
// indeed what wazero refuses.
func TestCompileChecksExportsBeforeCompiling(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	// badCode replaces the body of the last function with one that
	// returns nothing where an i32 is wanted: it decodes, but does not
	// validate.
	badCode := func(bin []byte) []byte {
		out := slices.Clone(bin)
		// The last body is "0x00 0x41 0x00 0x0b" (no locals,
		// i32.const 0, end): make it "0x00 0x01 0x01 0x0b" (nop nop).
		n := len(out)
		if !slices.Equal(out[n-4:], []byte{0x00, 0x41, 0x00, 0x0b}) {
			t.Fatalf("unexpected module tail % x", out[n-4:])
		}
		copy(out[n-3:], []byte{0x01, 0x01})
		return out
	}
	tests := []struct {
		name  string
		funcs []wfunc
		mem   wmem
		want  string
	}{
		{"no marker", loadableWith([]string{"proxy_abi_version_0_2_1"}, wfunc{export: "f", results: []byte{wI32}}), exportedMemory, markerError},
		{"no allocator", loadableWith([]string{"proxy_on_memory_allocate"}, wfunc{export: "f", results: []byte{wI32}}), exportedMemory,
			"runtime: module exports neither proxy_on_memory_allocate nor malloc"},
		{"no memory export", loadableWith(nil, wfunc{export: "f", results: []byte{wI32}}), wmem{pages: 1}, `runtime: module does not export its memory as "memory"`},
		{"imported memory", loadableWith(nil, wfunc{export: "f", results: []byte{wI32}}), wmem{pages: 1, imported: true},
			"runtime: module imports its memory; a filter must define its own"},
		{"unknown host module", loadableWith(nil, wfunc{module: "evil", name: "f"}, wfunc{export: "f", results: []byte{wI32}}), exportedMemory,
			`runtime: module imports evil.f: unknown host module "evil" (want env or wasi_snapshot_preview1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Compile(ctx, badCode(wasmModule(tt.mem, tt.funcs...)))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Compile = %v, want %s", err, tt.want)
			}
		})
	}
	_, err := e.Compile(ctx, badCode(wasmModule(exportedMemory, loadableWith(nil, wfunc{export: "f", results: []byte{wI32}})...)))
	if err == nil || !strings.HasPrefix(err.Error(), "runtime: invalid WebAssembly module: ") {
		t.Fatalf("Compile(bad code, good exports) = %v, want invalid WebAssembly module", err)
	}
}

// TestCompileHugeCounts: modules of a few bytes whose vectors claim 2³²-1
// entries are refused as invalid. Given to wazero, each made the process
// die out of memory (a fatal error, not a panic: the whole node).
func TestCompileHugeCounts(t *testing.T) {
	e := newTestEngine(t)
	hdr := []byte("\x00asm\x01\x00\x00\x00")
	big := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	section := func(id byte, body ...byte) []byte {
		return append(append([]byte{id}, wUleb(uint64(len(body)))...), body...)
	}
	typ := section(1, 1, 0x60, 0, 0)
	fn := section(3, 1, 0)
	for _, tt := range []struct {
		name string
		bin  []byte
	}{
		{"imports", slices.Concat(hdr, section(2, big...))},
		{"globals", slices.Concat(hdr, section(6, big...))},
		{"tables", slices.Concat(hdr, section(4, big...))},
		{"element entries", slices.Concat(hdr, typ, fn, section(9, append([]byte{1, 1, 0}, big...)...))},
		{"function bodies", slices.Concat(hdr, typ, fn, section(10, big...))},
		{"data segments", slices.Concat(hdr, section(11, big...))},
		{"parameters", slices.Concat(hdr, section(1, append([]byte{1, 0x60}, big...)...))},
		{"locals", slices.Concat(hdr, typ, fn, section(10, append(append([]byte{1, 8, 1}, big...), 0x7f, 0x0b)...))},
		{"function names", slices.Concat(hdr, typ, fn, section(10, 1, 2, 0, 0x0b), section(0, append([]byte{4, 'n', 'a', 'm', 'e', 1, 5}, big...)...))},
		{"local names", slices.Concat(hdr, typ, fn, section(10, 1, 2, 0, 0x0b), section(0, append([]byte{4, 'n', 'a', 'm', 'e', 2, 5}, big...)...))},
	} {
		_, err := e.Compile(context.Background(), tt.bin)
		if err == nil || !strings.HasPrefix(err.Error(), "runtime: invalid WebAssembly module: ") {
			t.Errorf("%s: Compile = %v, want invalid WebAssembly module", tt.name, err)
		}
	}
}

// TestModuleHTTPFilter: a module exporting only network (TCP) stream
// callbacks is not an HTTP filter; the HTTP test modules are.
func TestModuleHTTPFilter(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	for _, tt := range []struct {
		dir, name     string
		http, network bool
	}{
		{"wat", "rt_tcp_only", false, true},
		{"wat", "add_header", true, false},
		{"wat", "config_echo", true, false},
		{"filters", "headers", true, false}, // the SDK exports the HTTP callbacks only
	} {
		m, err := e.Compile(ctx, readBuilt(t, tt.dir, tt.name))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if m.HTTPFilter() != tt.http || m.NetworkFilter() != tt.network {
			t.Errorf("%s: HTTPFilter %v, NetworkFilter %v; want %v, %v", tt.name, m.HTTPFilter(), m.NetworkFilter(), tt.http, tt.network)
		}
		m.Close(ctx)
	}
	// A module exporting only the allocator and marker is neither.
	m, err := e.Compile(ctx, wasmModule(exportedMemory, loadable...))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if m.HTTPFilter() || m.NetworkFilter() {
		t.Errorf("a module with no stream callback: HTTPFilter %v, NetworkFilter %v", m.HTTPFilter(), m.NetworkFilter())
	}
	if cbs := HTTPCallbacks(); len(cbs) != 6 || cbs[0] != "proxy_on_request_headers" {
		t.Errorf("HTTPCallbacks() = %q", cbs)
	}
}

// withTable inserts a table section (one funcref table of min elements)
// into an assembled module, in its place before the memory section.
func withTable(bin []byte, min uint64) []byte {
	table := append([]byte{0x01, 0x70, 0x00}, wUleb(min)...)
	sec := append(append([]byte{0x04}, wUleb(uint64(len(table)))...), table...)
	pos := 8
	for pos < len(bin) {
		id := bin[pos]
		size, n := binary.Uvarint(bin[pos+1:])
		if id > 4 {
			break
		}
		pos += 1 + n + int(size)
	}
	return slices.Concat(bin[:pos], sec, bin[pos:])
}

// TestCompileHugeTables: a module whose tables start with more than a
// million elements is refused; every instance would allocate them (8
// bytes each, outside the memory limit: 1 GiB for wazero's largest).
func TestCompileHugeTables(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	base := wasmModule(exportedMemory, loadable...)
	m, err := e.Compile(ctx, withTable(base, maxTableElements))
	if err != nil {
		t.Fatalf("a table of %d elements: %v", maxTableElements, err)
	}
	m.Close(ctx)
	_, err = e.Compile(ctx, withTable(base, 1<<27))
	if want := "runtime: module's tables start with 134217728 elements; at most 1048576"; err == nil || err.Error() != want {
		t.Fatalf("Compile = %v, want %s", err, want)
	}
}

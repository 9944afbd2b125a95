package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wedgeproxy/wedge/runtime/internal/wasmbin"
)

// globalPrefix names the exports the snapshot adds for mutable globals.
const globalPrefix = "__wedge_global_"

// Module is a compiled, validated filter module. Plugins built from one
// Module share its compiled code and its initialised-memory snapshot.
type Module struct {
	eng     *Engine
	rt      wazero.Runtime // the module's own: its "env" is built for its imports
	hash    [32]byte
	abi     string
	cm      wazero.CompiledModule
	env     api.Module
	globals []string
	initFn  string // "_initialize", "_start" or ""
	http    bool   // exports an HTTP stream callback
	network bool   // exports a network (TCP) stream callback
	reqBody bool   // exports proxy_on_request_body or proxy_on_request_trailers
	hasMain bool
	minMem  uint32 // pages the module's memory starts with

	refs     int  // Compile callers and plugins holding it; guarded by eng.mu
	live     int  // instances not yet closed; guarded by eng.mu
	released bool // guarded by eng.mu

	snapMu      sync.Mutex
	canSnapshot bool
	snap        *snapshot
	stripped    bool              // data segments are the host's to write
	segs        []wasmbin.Segment // until the first snapshot is taken
}

// ABI returns the ABI marker the module exports.
func (m *Module) ABI() string { return m.abi }

// HTTPCallbacks are the guest exports that make a module an HTTP filter:
// the host calls them on an HTTP stream.
var httpCallbacks = []string{
	"proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
	"proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers",
}

// networkCallbacks are the guest exports of a network (TCP) filter.
var networkCallbacks = []string{
	"proxy_on_new_connection", "proxy_on_downstream_data", "proxy_on_upstream_data",
	"proxy_on_downstream_connection_close", "proxy_on_upstream_connection_close",
}

// HTTPFilter reports whether the module exports at least one HTTP stream
// callback (proxy_on_request_headers, proxy_on_request_body,
// proxy_on_request_trailers, proxy_on_response_headers,
// proxy_on_response_body or proxy_on_response_trailers). A module that
// exports none does nothing on an HTTP stream but get
// proxy_on_context_create, proxy_on_log, proxy_on_done and
// proxy_on_delete.
func (m *Module) HTTPFilter() bool { return m.http }

// NetworkFilter reports whether the module exports at least one network
// (TCP) stream callback (proxy_on_new_connection,
// proxy_on_downstream_data, proxy_on_upstream_data,
// proxy_on_downstream_connection_close or
// proxy_on_upstream_connection_close).
func (m *Module) NetworkFilter() bool { return m.network }

// HTTPCallbacks lists the exports HTTPFilter looks for, for messages.
func HTTPCallbacks() []string { return slices.Clone(httpCallbacks) }

// Hash returns the hex sha256 of the module's bytes.
func (m *Module) Hash() string { return fmt.Sprintf("%x", m.hash) }

// Close releases the module once no caller of Compile and no plugin holds
// it and its last instance has closed. Plugins built from it keep working
// until they are closed.
func (m *Module) Close(ctx context.Context) error {
	m.unref(func() { m.refs-- })
	return nil
}

// unref applies change under the engine lock and releases the module's
// runtime when nothing uses it any more.
func (m *Module) unref(change func()) {
	e := m.eng
	e.mu.Lock()
	change()
	last := m.refs <= 0 && m.live <= 0 && !m.released
	if m.refs <= 0 && e.modules[m.hash] == m {
		delete(e.modules, m.hash)
	}
	if last {
		m.released = true
	}
	e.mu.Unlock()
	if last {
		m.release(context.Background())
	}
}

func (m *Module) ref(change func()) {
	m.eng.mu.Lock()
	change()
	m.eng.mu.Unlock()
}

func (m *Module) release(ctx context.Context) {
	m.rt.Close(ctx)
	m.snapMu.Lock()
	if m.snap != nil && m.snap.fd >= 0 {
		closeSnapshotFile(m.snap.fd)
		m.snap.fd = -1
	}
	m.snapMu.Unlock()
}

// callbackSigs are the signatures of the guest exports the host calls;
// an export with another signature refuses the module.
var callbackSigs = map[string]sig{
	"_initialize":                 {nil, nil},
	"_start":                      {nil, nil},
	"main":                        {i32s(2), i32s(1)},
	"proxy_on_memory_allocate":    {i32s(1), i32s(1)},
	"malloc":                      {i32s(1), i32s(1)},
	"proxy_on_context_create":     {i32s(2), nil},
	"proxy_on_vm_start":           {i32s(2), i32s(1)},
	"proxy_on_configure":          {i32s(2), i32s(1)},
	"proxy_on_tick":               {i32s(1), nil},
	"proxy_on_request_headers":    {i32s(3), i32s(1)},
	"proxy_on_request_body":       {i32s(3), i32s(1)},
	"proxy_on_request_trailers":   {i32s(2), i32s(1)},
	"proxy_on_response_headers":   {i32s(3), i32s(1)},
	"proxy_on_response_body":      {i32s(3), i32s(1)},
	"proxy_on_response_trailers":  {i32s(2), i32s(1)},
	"proxy_on_done":               {i32s(1), i32s(1)},
	"proxy_on_log":                {i32s(1), nil},
	"proxy_on_delete":             {i32s(1), nil},
	"proxy_on_http_call_response": {i32s(5), nil},
	"proxy_on_queue_ready":        {i32s(2), nil},
}

type sig struct{ params, results []api.ValueType }

func i32s(n int) []api.ValueType {
	out := make([]api.ValueType, n)
	for i := range out {
		out[i] = api.ValueTypeI32
	}
	return out
}

func (s sig) String() string {
	str := func(ts []api.ValueType) string {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(names, ",") + ")"
	}
	return str(s.params) + "->" + str(s.results)
}

func (s sig) matches(params, results []api.ValueType) bool {
	return slices.Equal(s.params, params) && slices.Equal(s.results, results)
}

// compileModule does the work of Engine.Compile.
func compileModule(ctx context.Context, e *Engine, wasm []byte, sum [32]byte, seq uint64) (*Module, error) {
	// The imports and exports are checked before anything is compiled: a
	// module that could never run is refused at the cost of reading its
	// section headers, whatever its size, and a module whose counts the
	// bytes do not back never reaches the compiler (see wasmbin.Inspect).
	iface, err := wasmbin.Inspect(wasm)
	if err != nil {
		return nil, fmt.Errorf("runtime: invalid WebAssembly module: %w", err)
	}
	if err := precheck(iface); err != nil {
		return nil, err
	}
	bin, globals, rewriteErr := wasmbin.ExportMutableGlobals(wasm, globalPrefix)
	var segs []wasmbin.Segment
	stripped := false
	if rewriteErr != nil {
		bin = wasm // wazero gives the precise error if the module is invalid
	} else if out, s, err := wasmbin.StripData(bin); err == nil {
		// Instances start from a snapshot of memory; the host writes
		// the data segments once, for the first.
		bin, segs, stripped = out, s, true
	}
	// Each module gets its own wazero runtime (they share the compilation
	// cache), so its "env" host module can be shaped to its imports.
	rt := wazero.NewRuntimeWithConfig(ctx, e.rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("runtime: wasi: %w", err)
	}
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil && stripped {
		// The code names data segments (memory.init, data.drop): keep them.
		bin, _, _ = wasmbin.ExportMutableGlobals(wasm, globalPrefix)
		segs, stripped = nil, false
		cm, err = rt.CompileModule(ctx, bin)
	}
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("runtime: invalid WebAssembly module: %w", err)
	}
	m := &Module{eng: e, rt: rt, hash: sum, cm: cm, globals: globals, segs: segs, stripped: stripped}
	if err := m.check(ctx, seq); err != nil {
		m.release(ctx)
		return nil, err
	}
	m.canSnapshot = rewriteErr == nil
	return m, nil
}

// precheck refuses, from its import and export sections alone, a module
// check would refuse once compiled: no ABI marker, no allocator, no
// "memory" export, an imported memory, an import from an unknown host
// module (the errors are check's); and tables that start with more than
// maxTableElements elements.
func precheck(it *wasmbin.Interface) error {
	funcs := map[string]bool{}
	for _, e := range it.Exports {
		if e.Kind == wasmbin.KindFunc {
			funcs[e.Name] = true
		}
	}
	if _, err := abiMarker(funcs); err != nil {
		return err
	}
	if err := allocator(funcs); err != nil {
		return err
	}
	for _, im := range it.Imports {
		if im.Kind == wasmbin.KindMemory {
			return errImportedMemory
		}
	}
	if !it.Exported("memory", wasmbin.KindMemory) {
		return errNoMemory
	}
	for _, im := range it.Imports {
		if im.Kind != wasmbin.KindFunc {
			continue
		}
		if err := hostModule(im.Module, im.Name); err != nil {
			return err
		}
	}
	// The host allocates every instance's tables outside its linear
	// memory, so outside the memory limit: 8 bytes an element.
	if it.TableElements > maxTableElements {
		return fmt.Errorf("runtime: module's tables start with %d elements; at most %d", it.TableElements, maxTableElements)
	}
	return nil
}

// maxTableElements bounds the elements a module's tables start with
// (8 MiB of host memory an instance): a standard-Go filter's table has
// about as many elements as the module has functions, tens of thousands.
const maxTableElements = 1 << 20

var (
	errImportedMemory = errors.New("runtime: module imports its memory; a filter must define its own")
	// The ABI has the host reach guest memory through the "memory"
	// export; without it instances have no memory the host can use
	// (and a hidden one would escape the page limit checked from it).
	errNoMemory = errors.New(`runtime: module does not export its memory as "memory"`)
)

// abiMarker returns the first ABI marker among the exported functions.
func abiMarker[V any](exports map[string]V) (string, error) {
	for _, mk := range abiMarkers {
		if _, ok := exports[mk]; ok {
			return mk, nil
		}
	}
	var found []string
	for name := range exports {
		if strings.HasPrefix(name, "proxy_abi_version_") {
			found = append(found, name)
		}
	}
	slices.Sort(found)
	desc := "none"
	if len(found) > 0 {
		desc = strings.Join(found, ", ")
	}
	return "", fmt.Errorf("runtime: module exports no supported Proxy-Wasm ABI marker (want %s; found: %s)",
		strings.Join(abiMarkers, " or "), desc)
}

func allocator[V any](exports map[string]V) error {
	if _, ok := exports["proxy_on_memory_allocate"]; !ok {
		if _, ok := exports["malloc"]; !ok {
			return fmt.Errorf("runtime: module exports neither proxy_on_memory_allocate nor malloc")
		}
	}
	return nil
}

// hostModule refuses an import from a module other than env and
// wasi_snapshot_preview1.
func hostModule(mod, name string) error {
	switch mod {
	case "env", "wasi_snapshot_preview1":
		return nil
	}
	return fmt.Errorf("runtime: module imports %s.%s: unknown host module %q (want env or wasi_snapshot_preview1)",
		mod, name, mod)
}

// check validates the ABI marker, exports and imports, and builds the
// module's "env" host module.
func (m *Module) check(ctx context.Context, seq uint64) error {
	exports := m.cm.ExportedFunctions()
	abi, err := abiMarker(exports)
	if err != nil {
		return err
	}
	m.abi = abi
	m.http = slices.ContainsFunc(httpCallbacks, func(n string) bool { _, ok := exports[n]; return ok })
	m.network = slices.ContainsFunc(networkCallbacks, func(n string) bool { _, ok := exports[n]; return ok })
	_, body := exports["proxy_on_request_body"]
	_, trailers := exports["proxy_on_request_trailers"]
	m.reqBody = body || trailers
	for name, want := range callbackSigs {
		def, ok := exports[name]
		if !ok {
			continue
		}
		if !want.matches(def.ParamTypes(), def.ResultTypes()) {
			got := sig{def.ParamTypes(), def.ResultTypes()}
			return fmt.Errorf("runtime: export %s has signature %s, want %s", name, got, want)
		}
	}
	if _, ok := exports["_initialize"]; ok {
		m.initFn = "_initialize"
		_, m.hasMain = exports["main"]
	} else if _, ok := exports["_start"]; ok {
		m.initFn = "_start"
	}
	if err := allocator(exports); err != nil {
		return err
	}
	if len(m.cm.ImportedMemories()) > 0 {
		return errImportedMemory
	}
	mem, ok := m.cm.ExportedMemories()["memory"]
	if !ok {
		return errNoMemory
	}
	m.minMem = mem.Min()

	wasi := m.rt.Module("wasi_snapshot_preview1").ExportedFunctionDefinitions()
	b := m.rt.NewHostModuleBuilder("env")
	seen := map[string]bool{}
	for _, def := range m.cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case "env":
			if seen[name] {
				continue
			}
			seen[name] = true
			if hf, ok := hostFuncs[name]; ok {
				if !hf.sig.matches(def.ParamTypes(), def.ResultTypes()) {
					got := sig{def.ParamTypes(), def.ResultTypes()}
					return fmt.Errorf("runtime: import env.%s has signature %s, want %s", name, got, hf.sig)
				}
				b.NewFunctionBuilder().WithGoModuleFunction(hf.fn, hf.sig.params, hf.sig.results).
					WithName(name).Export(name)
				continue
			}
			b.NewFunctionBuilder().
				WithGoModuleFunction(unimplemented(def.ResultTypes()), def.ParamTypes(), def.ResultTypes()).
				WithName(name).Export(name)
		case "wasi_snapshot_preview1":
			if _, ok := wasi[name]; !ok {
				return fmt.Errorf("runtime: module imports unknown WASI function %s", name)
			}
		default:
			return hostModule(mod, name)
		}
	}
	env, err := b.Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("runtime: link host functions: %w", err)
	}
	m.env = env
	return nil
}

// unimplemented is the host function behind an env import we do not
// know: it returns UNIMPLEMENTED (or zeros), so the module links and a
// filter that probes for optional features keeps working.
func unimplemented(results []api.ValueType) api.GoModuleFunc {
	n := len(results)
	first := api.ValueType(0)
	if n > 0 {
		first = results[0]
	}
	return func(_ context.Context, _ api.Module, stack []uint64) {
		for i := 0; i < n && i < len(stack); i++ {
			stack[i] = 0
		}
		if n > 0 && (first == api.ValueTypeI32 || first == api.ValueTypeI64) {
			stack[0] = uint64(statusUnimplemented)
		}
	}
}

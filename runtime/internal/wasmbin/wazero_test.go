package wasmbin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

var engines = []struct {
	name   string
	config func() wazero.RuntimeConfig
}{
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
	{"default", wazero.NewRuntimeConfig}, // the compiler where wazero has one
}

// TestWazero compiles a rewritten hand-assembled module with wazero, reads
// the exported globals and sets one that the module's code then sees.
func TestWazero(t *testing.T) {
	provider := mod(
		sec(secGlobal, vec(glob(i32, false, i32c(7)...))),
		sec(secExport, vec(exp("base", kindGlobal, 0))))
	f32c := binary.LittleEndian.AppendUint32([]byte{0x43}, math.Float32bits(1.5))
	f64c := binary.LittleEndian.AppendUint64([]byte{0x44}, math.Float64bits(2.5))
	bin := mod(typeSec,
		sec(secImport, vec(imp("env", "base", kindGlobal, i32, 0x00))),
		funcSec,
		sec(secGlobal, vec(
			glob(i32, true, i32c(42)...), // 1
			glob(i64, true, i64c(-1)...), // 2
			glob(f32, false, f32c...),    // 3: immutable, not exported
			glob(f64, true, f64c...),     // 4
			glob(i32, true, 0x23, 0x00),  // 5: the imported global's value
		)),
		sec(secExport, vec(exp("get1", kindFunc, 0))),
		sec(secCode, vec(cat(uleb(4), []byte{0x00, 0x23, 0x01, end}))))

	out, names, err := ExportMutableGlobals(bin, "wedge.g")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"wedge.g1", "wedge.g2", "wedge.g4", "wedge.g5"}; !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, e.config())
			defer r.Close(ctx)
			if _, err := r.InstantiateWithConfig(ctx, provider, wazero.NewModuleConfig().WithName("env")); err != nil {
				t.Fatal(err)
			}
			m, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				typ api.ValueType
				val uint64
			}{
				"wedge.g1": {api.ValueTypeI32, 42},
				"wedge.g2": {api.ValueTypeI64, math.MaxUint64},
				"wedge.g4": {api.ValueTypeF64, math.Float64bits(2.5)},
				"wedge.g5": {api.ValueTypeI32, 7},
			}
			for _, n := range names {
				g, ok := m.ExportedGlobal(n).(api.MutableGlobal)
				if !ok {
					t.Fatalf("%s: %v is not an exported mutable global", n, m.ExportedGlobal(n))
				}
				if g.Type() != want[n].typ || g.Get() != want[n].val {
					t.Errorf("%s = %s %#x, want %s %#x", n, api.ValueTypeName(g.Type()), g.Get(),
						api.ValueTypeName(want[n].typ), want[n].val)
				}
			}
			if g := m.ExportedGlobal("wedge.g3"); g != nil {
				t.Errorf("immutable global 3 exported: %v", g)
			}
			m.ExportedGlobal("wedge.g1").(api.MutableGlobal).Set(99)
			res, err := m.ExportedFunction("get1").Call(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res[0] != 99 {
				t.Errorf("get1() after setting wedge.g1 to 99 = %d", res[0])
			}
		})
	}
}

// TestGoModule rewrites a real standard-Go c-shared module, checks that
// wazero still compiles and initialises it, and that restoring linear memory
// and the exported globals of an initialised instance into a fresh one gives
// a working instance with the same state, which is what the runtime's
// snapshots rely on.
func TestGoModule(t *testing.T) {
	bin := buildGoModule(t)
	if start, err := HasStart(bin); err != nil || start {
		t.Fatalf("HasStart = %v, %v; a c-shared module has no start section", start, err)
	}
	out, names, err := ExportMutableGlobals(bin, "wedge.g")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no mutable global in a Go module")
	}
	before, after := exportsOf(t, bin), exportsOf(t, out)
	if !slices.Equal(after[:len(before)], before) || len(after) != len(before)+len(names) {
		t.Fatalf("exports %v, then %v", before, after)
	}
	for i, n := range names {
		if e := after[len(before)+i]; e.name != n || e.kind != kindGlobal || n != fmt.Sprintf("wedge.g%d", e.idx) {
			t.Errorf("new export %d = %+v, name %q", i, e, n)
		}
	}
	t.Logf("%d bytes, %d exports, %d mutable globals: %s", len(bin), len(before), len(names), strings.Join(names, " "))

	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, e.config())
			defer r.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, r)
			compiled, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			instance := func(name string, initialise bool) api.Module {
				t.Helper()
				m, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(name).WithStartFunctions())
				if err != nil {
					t.Fatal(err)
				}
				if initialise {
					if _, err := m.ExportedFunction("_initialize").Call(ctx); err != nil {
						t.Fatalf("_initialize: %v", err)
					}
				}
				return m
			}
			bump := func(m api.Module) uint64 {
				t.Helper()
				res, err := m.ExportedFunction("bump").Call(ctx)
				if err != nil {
					t.Fatalf("%s: bump: %v", m.Name(), err)
				}
				return res[0]
			}

			a := instance("a", true)
			if got := bump(a); got != 42 {
				t.Fatalf("bump() after _initialize = %d, want 42", got)
			}
			if got := bump(instance("control", true)); got != 42 {
				t.Fatalf("bump() on another initialised instance = %d, want 42", got)
			}

			// Snapshot a, restore it into a fresh instance b that never ran
			// _initialize.
			mem, ok := a.Memory().Read(0, a.Memory().Size())
			if !ok {
				t.Fatal("reading memory")
			}
			globals := make([]uint64, len(names))
			for i, n := range names {
				globals[i] = a.ExportedGlobal(n).Get()
			}
			b := instance("b", false)
			if _, ok := b.Memory().Grow((a.Memory().Size() - b.Memory().Size()) / 65536); !ok {
				t.Fatal("growing memory")
			}
			if !b.Memory().Write(0, mem) {
				t.Fatal("writing memory")
			}
			for i, n := range names {
				b.ExportedGlobal(n).(api.MutableGlobal).Set(globals[i])
			}
			if got := bump(b); got != 44 {
				t.Errorf("bump() on the restored instance = %d, want 44 (a's state plus one call)", got)
			}
			if got := bump(a); got != 44 {
				t.Errorf("bump() on a again = %d, want 44", got)
			}
		})
	}
}

func BenchmarkExportMutableGlobals(b *testing.B) {
	bin := buildGoModule(b)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ExportMutableGlobals(bin, "wedge.g"); err != nil {
			b.Fatal(err)
		}
	}
}

var goModule struct {
	once sync.Once
	dir  string
	bin  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goModule.dir != "" {
		os.RemoveAll(goModule.dir)
	}
	os.Exit(code)
}

// buildGoModule builds testdata/gofilter for wasip1 as a c-shared module,
// once per test binary. There is no skipping: without a go command the
// tests that need it fail.
func buildGoModule(tb testing.TB) []byte {
	tb.Helper()
	goModule.once.Do(func() {
		goModule.bin, goModule.err = build()
	})
	if goModule.err != nil {
		tb.Fatal(goModule.err)
	}
	return goModule.bin
}

func build() ([]byte, error) {
	gocmd, err := goCommand()
	if err != nil {
		return nil, err
	}
	goModule.dir, err = os.MkdirTemp("", "wasmbin-test-")
	if err != nil {
		return nil, err
	}
	wasm := filepath.Join(goModule.dir, "gofilter.wasm")
	cmd := exec.Command(gocmd, "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join("testdata", "gofilter")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", cmd, err, out)
	}
	return os.ReadFile(wasm)
}

// goCommand finds the go command: in $GOROOT/bin (go test sets GOROOT for
// the test binary), else on PATH.
func goCommand() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	return "", errors.New("no go command in $GOROOT/bin or on PATH: it is needed to build the wasip1 test module")
}

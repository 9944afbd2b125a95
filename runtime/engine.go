// Package runtime is Wedge's WebAssembly host: it compiles filter modules
// with wazero, checks them against the Proxy-Wasm ABI (0.2.1, and 0.2.0),
// runs each plugin in a bounded set of sandboxed instances, and implements
// the Proxy-Wasm host functions. It knows nothing of routing or tenants:
// the edge drives it through Engine, Module, Plugin and Stream.
package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// Config configures an Engine.
type Config struct {
	// CacheDir holds wazero's compilation cache, so a module compiled once
	// compiles from disk after a restart. Empty: in memory only.
	CacheDir string
	// Logger receives guest log lines and instance failures. Nil: discard.
	Logger *slog.Logger
	// WatchInterval is how often the deadline watchdog looks at running
	// guest calls. Zero: 5 ms.
	WatchInterval time.Duration
}

// Engine compiles modules and owns what plugins share: the wazero runtime,
// the compilation cache, shared data and queues, and the deadline watchdog.
// It is safe for concurrent use.
type Engine struct {
	rc     wazero.RuntimeConfig
	cache  wazero.CompilationCache
	log    *slog.Logger
	shared *sharedStore
	watch  *watchdog

	mu      sync.Mutex
	modules map[[32]byte]*Module
	seq     uint64
	plugins atomic.Int64 // started and not closed
}

// Stats counts what an engine holds.
type Stats struct {
	// Modules are the compiled modules still held (by a caller of
	// Compile, a plugin or an instance).
	Modules int
	// Plugins are the plugins started and not closed.
	Plugins int
	// Instances are the instances not yet closed, of every plugin.
	Instances int
}

// Stats returns what the engine holds now: after plugins are closed and
// their streams end, it comes back down.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{Plugins: int(e.plugins.Load())}
	for _, m := range e.modules {
		if !m.released {
			st.Modules++
			st.Instances += m.live
		}
	}
	return st
}

// NewEngine starts an engine.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(65536)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	iv := cfg.WatchInterval
	if iv <= 0 {
		iv = 5 * time.Millisecond
	}
	e := &Engine{
		rc:      rc,
		cache:   cache,
		log:     log,
		shared:  newSharedStore(),
		watch:   newWatchdog(iv),
		modules: make(map[[32]byte]*Module),
	}
	return e, nil
}

// Close stops the engine and releases every module and instance.
func (e *Engine) Close(ctx context.Context) error {
	e.watch.stop()
	e.mu.Lock()
	mods := make([]*Module, 0, len(e.modules))
	for _, m := range e.modules {
		if !m.released {
			m.released = true
			mods = append(mods, m)
		}
	}
	e.modules = map[[32]byte]*Module{}
	e.mu.Unlock()
	for _, m := range mods {
		m.release(ctx)
	}
	if e.cache != nil {
		return e.cache.Close(ctx)
	}
	return nil
}

// Compile validates and compiles a module, or returns the one already
// compiled from the same bytes. Every call must be paired with
// Module.Close.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	sum := sha256.Sum256(wasm)
	e.mu.Lock()
	if m, ok := e.modules[sum]; ok && !m.released {
		m.refs++
		e.mu.Unlock()
		return m, nil
	}
	e.seq++
	seq := e.seq
	e.mu.Unlock()

	m, err := compileModule(ctx, e, wasm, sum, seq)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if other, ok := e.modules[sum]; ok && !other.released { // lost a race: keep the first
		other.refs++
		go m.release(context.Background())
		return other, nil
	}
	m.refs = 1
	e.modules[sum] = m
	return m, nil
}

// Hash is the hex sha256 of wasm, the key modules are stored under.
func Hash(wasm []byte) string {
	s := sha256.Sum256(wasm)
	return hex.EncodeToString(s[:])
}

package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// Modules gives nodes the bytes of filter modules by SHA-256: from a
// local directory when it holds them, otherwise from the store, whose
// copy is verified and then kept in the directory. Every copy is checked
// against its hash before use, wherever it came from.
type Modules struct {
	store    store.Store
	dir      string // "" = no local copies
	maxBytes int64
}

// NewModules returns a module source over st, keeping verified copies in
// dir ("" keeps none). maxBytes bounds a module.
func NewModules(st store.Store, dir string, maxBytes int64) *Modules {
	return &Modules{store: st, dir: dir, maxBytes: maxBytes}
}

// Get returns the module whose hex SHA-256 is sha.
func (m *Modules) Get(ctx context.Context, sha string) ([]byte, error) {
	if len(sha) != 64 {
		return nil, fmt.Errorf("control: module %q: not a SHA-256", sha)
	}
	if _, err := hex.DecodeString(sha); err != nil {
		return nil, fmt.Errorf("control: module %q: not a SHA-256", sha)
	}
	path := ""
	if m.dir != "" {
		path = filepath.Join(m.dir, sha+".wasm")
		if b, err := os.ReadFile(path); err == nil {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) == sha {
				return b, nil
			}
			os.Remove(path) // damaged: fetch it again
		}
	}
	b, err := store.GetModule(ctx, m.store, sha, m.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("control: module sha256:%s: %w", sha, err)
	}
	if path != "" {
		m.keep(path, b)
	}
	return b, nil
}

// keep writes a verified module to path atomically; failures only cost
// a later fetch.
func (m *Modules) keep(path string, b []byte) {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(m.dir, ".module-*")
	if err != nil {
		return
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// Loader adapts Get to proxy.Filters.Load: a module named "sha256:HEX"
// comes from here; any other name is refused, since a tenant's route may
// not read the node's files.
func (m *Modules) Loader(ctx context.Context) func(string) ([]byte, error) {
	return func(ref string) ([]byte, error) {
		sha, ok := refSHA(ref)
		if !ok {
			return nil, fmt.Errorf("control: module %q is not an uploaded filter", ref)
		}
		return m.Get(ctx, sha)
	}
}

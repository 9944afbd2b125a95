package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// Module blobs are shared by content, across filters and tenants, so a
// blob is deleted only when no version of any filter of any tenant
// names it. Two writes race with that, and both lose safely:
//
//   - an upload commits its filter record with a Cmp that its module is
//     still stored (ModulePresent), so a collection that deleted the
//     module first makes the upload retry, storing the module again;
//   - every upload also writes modRefsKey, and a collection deletes only
//     while modRefsKey is as it was before it read the references, so an
//     upload committed meanwhile stops the collection.
const modRefsKey = "modrefs"

// gcTimeout bounds one collection.
const gcTimeout = time.Minute

// collectModules deletes the stored modules no filter version names and
// returns how many.
func (a *Admin) collectModules(ctx context.Context) (int, error) {
	s := a.api.Store
	var mark int64
	switch kv, err := s.Get(ctx, modRefsKey); {
	case err == nil:
		mark = kv.ModRev
	case !errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("control: collect modules: %w", err)
	}
	kvs, _, err := s.List(ctx, tenantsPrefix)
	if err != nil {
		return 0, fmt.Errorf("control: collect modules: %w", err)
	}
	states, errs := parseTenants(kvs)
	if len(errs) > 0 {
		// A record that does not decode may name a module: keep them all.
		return 0, fmt.Errorf("control: collect modules: %w", errors.Join(errs...))
	}
	used := map[string]bool{}
	for _, ts := range states {
		for _, f := range ts.filters {
			for _, v := range f.doc.Versions {
				used[v.SHA256] = true
			}
		}
	}
	shas, err := store.ListModules(ctx, s)
	if err != nil {
		return 0, fmt.Errorf("control: collect modules: %w", err)
	}
	n := 0
	for _, sha := range shas {
		if used[sha] {
			continue
		}
		switch err := store.DeleteModule(ctx, s, sha, store.Cmp{Key: modRefsKey, ModRev: mark}); {
		case err == nil:
			n++
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			return n, nil // an upload meanwhile: the next collection goes on
		default:
			return n, fmt.Errorf("control: collect modules: %w", err)
		}
	}
	return n, nil
}

// collector runs collectModules in the background, one at a time, again
// if asked while it ran.
type collector struct {
	mu      sync.Mutex
	running bool
	again   bool
	wg      sync.WaitGroup
}

// collectSoon asks for a collection after a write that may have left a
// module unused (a filter or tenant deleted, a version dropped).
func (a *Admin) collectSoon() {
	c := &a.gc
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.again = true
		return
	}
	c.running = true
	c.wg.Go(func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), gcTimeout)
			n, err := a.collectModules(ctx)
			cancel()
			switch {
			case err != nil:
				a.log.Warn("unused filter modules not deleted", "err", err)
			case n > 0:
				a.log.Info("unused filter modules deleted", "count", n)
			}
			c.mu.Lock()
			if !c.again {
				c.running = false
				c.mu.Unlock()
				return
			}
			c.again = false
			c.mu.Unlock()
		}
	})
}

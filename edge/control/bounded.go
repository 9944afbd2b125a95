package control

import (
	"context"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// storeTimeout bounds each use of the store by an API request: a lost
// etcd answers 503 in seconds rather than hang the caller.
const storeTimeout = 10 * time.Second

// boundedStore gives each store call of the API its own deadline. A
// request as a whole has none besides its client's: checking an upload
// compiles and starts the module, which on a busy node may take longer
// than any sensible bound on a store round trip, and must not be
// reported as the store being unavailable.
type boundedStore struct {
	store.Store
}

func (s boundedStore) Get(ctx context.Context, key string) (store.KV, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return s.Store.Get(ctx, key)
}

func (s boundedStore) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return s.Store.List(ctx, prefix)
}

func (s boundedStore) Txn(ctx context.Context, cmps []store.Cmp, ops []store.Op) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return s.Store.Txn(ctx, cmps, ops)
}

func (s boundedStore) Rev(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return s.Store.Rev(ctx)
}

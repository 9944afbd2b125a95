package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"testing"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

func shaHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func stored(t *testing.T, s store.Store, sha string) bool {
	t.Helper()
	shas, err := store.ListModules(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(shas, sha)
}

// TestUnusedModulesAreCollected: a module goes when the last filter
// version of any tenant naming it goes, and not before.
func TestUnusedModulesAreCollected(t *testing.T) {
	f := newAPI(t, 0)
	f.tenant("acme", "acme.test")
	f.tenant("globex", "globex.test")
	shared, own := readModule(t, "bin/wat/add_header.wasm"), readModule(t, "bin/wat/config_echo.wasm")
	wasm := []string{"Content-Type", "application/wasm"}
	f.must(201, "PUT", "/v1/tenants/acme/filters/shared", opToken, string(shared), wasm...)
	f.must(201, "PUT", "/v1/tenants/globex/filters/same", opToken, string(shared), wasm...)
	f.must(201, "PUT", "/v1/tenants/acme/filters/own", opToken, string(own), wasm...)

	f.must(204, "DELETE", "/v1/tenants/acme/filters/own", opToken, "")
	eventually(t, "the module only acme/own used is deleted", func() bool { return !stored(t, f.store, shaHex(own)) })
	f.must(204, "DELETE", "/v1/tenants/acme/filters/shared", opToken, "")
	f.admin.gc.wg.Wait()
	if !stored(t, f.store, shaHex(shared)) {
		t.Fatal("a module globex still uses was deleted")
	}
	f.must(204, "DELETE", "/v1/tenants/globex", opToken, "")
	eventually(t, "the module of the deleted tenant is deleted", func() bool { return !stored(t, f.store, shaHex(shared)) })
	// Uploaded again, it is stored again.
	f.must(201, "PUT", "/v1/tenants/acme/filters/shared", opToken, string(shared), wasm...)
	if _, err := store.GetModule(context.Background(), f.store, shaHex(shared), 0); err != nil {
		t.Fatal(err)
	}
}

// hooked is a real store that runs a function once, at the first call
// matching when.
type hooked struct {
	store.Store
	once   sync.Once
	onList func(prefix string) bool
	onTxn  func(ops []store.Op) bool
	run    func()
}

func (h *hooked) fire() { h.once.Do(h.run) }

func (h *hooked) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if h.onList != nil && h.onList(prefix) {
		h.fire()
	}
	return h.Store.List(ctx, prefix)
}

func (h *hooked) Txn(ctx context.Context, cmps []store.Cmp, ops []store.Op) (int64, error) {
	if h.onTxn != nil && h.onTxn(ops) {
		h.fire()
	}
	return h.Store.Txn(ctx, cmps, ops)
}

// TestCollectionStopsForAnUploadMeanwhile: a collection that read the
// references before an upload committed does not delete the module the
// upload made used.
func TestCollectionStopsForAnUploadMeanwhile(t *testing.T) {
	var f *apiFixture
	mod := readModule(t, "bin/wat/add_header.wasm")
	h := &hooked{onList: func(prefix string) bool { return prefix == "modules/" }}
	h.run = func() {
		// Between the collection's read of the filters and its deletes.
		f.must(201, "PUT", "/v1/tenants/acme/filters/late", opToken, string(mod), "Content-Type", "application/wasm")
	}
	f = newAPIWith(t, 0, func(s store.Store) store.Store { h.Store = s; return h })
	f.tenant("acme", "acme.test")
	// An orphan, as an upload leaves between storing its module and
	// committing its record.
	if _, err := store.PutModule(context.Background(), f.store, mod); err != nil {
		t.Fatal(err)
	}
	n, err := f.admin.collectModules(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("collection: %d deleted, %v; want none: an upload committed meanwhile", n, err)
	}
	if _, err := store.GetModule(context.Background(), f.store, shaHex(mod), 0); err != nil {
		t.Fatalf("the uploaded filter's module: %v", err)
	}
	// With nothing racing, the next collection keeps it: it is used.
	if n, err := f.admin.collectModules(context.Background()); err != nil || n != 0 {
		t.Fatalf("collection: %d, %v", n, err)
	}
}

// TestUploadSurvivesACollectionMeanwhile: an upload whose module a
// collection deleted between storing it and committing the filter record
// stores it again, and its record never names a missing module.
func TestUploadSurvivesACollectionMeanwhile(t *testing.T) {
	var f *apiFixture
	mod := readModule(t, "bin/wat/add_header.wasm")
	h := &hooked{onTxn: func(ops []store.Op) bool {
		return slices.ContainsFunc(ops, func(op store.Op) bool { return op.Key == modRefsKey })
	}}
	h.run = func() {
		n, err := f.admin.collectModules(context.Background())
		if err != nil || n != 1 {
			t.Errorf("the collection meanwhile: %d deleted, %v; want the upload's module", n, err)
		}
	}
	f = newAPIWith(t, 0, func(s store.Store) store.Store { h.Store = s; return h })
	f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/filters/f", opToken, string(mod), "Content-Type", "application/wasm")
	if _, err := store.GetModule(context.Background(), f.store, shaHex(mod), 0); err != nil {
		t.Fatalf("the filter's module after the upload: %v", err)
	}
}

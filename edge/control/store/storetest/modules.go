package storetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// The module layout module.go documents, which these tests damage on
// purpose.
func metaKey(sha string) string         { return "modules/" + sha }
func chunkKey(sha string, i int) string { return fmt.Sprintf("modules/%s/%06d", sha, i) }

func shaOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// random returns n reproducible bytes that do not compress.
func random(n int) []byte {
	r := rand.NewChaCha8([32]byte{1})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func testModuleRoundTrip(t *testing.T, s store.Store) {
	// Three 3.5 MiB round trips, through TLS for one etcd suite: on a
	// loaded 2-core machine under -race they passed the suite's 10 s (a
	// hang guard, not a speed goal), so this one gets more.
	ctx, cancel := context.WithTimeout(context.Background(), 6*waitFor)
	t.Cleanup(cancel)
	for _, n := range []int{0, 1, 3<<20 + 512<<10} {
		data := random(n)
		sha, err := store.PutModule(ctx, s, data)
		if err != nil {
			t.Fatalf("PutModule(%d bytes): %v", n, err)
		}
		if sha != shaOf(data) {
			t.Fatalf("PutModule returned %s, want %s", sha, shaOf(data))
		}
		if ok, err := store.HasModule(ctx, s, sha); !ok || err != nil {
			t.Fatalf("HasModule after PutModule: %v, %v", ok, err)
		}
		got, err := store.GetModule(ctx, s, sha, int64(n))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetModule(%d bytes): %d bytes, %v", n, len(got), err)
		}
		// Upper case is the same module.
		if _, err := store.GetModule(ctx, s, strings.ToUpper(sha), 0); err != nil {
			t.Fatalf("GetModule(upper case): %v", err)
		}
		// Putting it again writes nothing.
		before := rev(t, s)
		if sha2, err := store.PutModule(ctx, s, data); sha2 != sha || err != nil {
			t.Fatalf("second PutModule: %s, %v", sha2, err)
		}
		if after := rev(t, s); after != before {
			t.Errorf("second PutModule moved the revision from %d to %d", before, after)
		}
	}
	// 3.5 MiB that does not compress makes several chunks.
	kvs, _, err := s.List(ctx, "modules/"+shaOf(random(3<<20+512<<10))+"/")
	if err != nil || len(kvs) < 7 {
		t.Errorf("3.5 MiB module in %d chunks (%v), want at least 7 of at most 512 KiB", len(kvs), err)
	}
	for _, kv := range kvs {
		if len(kv.Value) > 512<<10 {
			t.Errorf("chunk %s is %d bytes, more than 512 KiB", kv.Key, len(kv.Value))
		}
	}
}

func testModuleMissing(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	sha := shaOf([]byte("never stored"))
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetModule of a missing module: %v, want ErrNotFound", err)
	}
	if ok, err := store.HasModule(ctx, s, sha); ok || err != nil {
		t.Errorf("HasModule of a missing module: %v, %v", ok, err)
	}
	// Chunks without their meta are an unfinished put: still missing.
	txn(t, s, nil, store.Op{Key: chunkKey(sha, 0), Value: gz(t, []byte("never stored"))})
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetModule of a module without meta: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), "sha256:" + sha} {
		if _, err := store.GetModule(ctx, s, bad, 0); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetModule(%q): %v, want an invalid-name error", bad, err)
		}
	}
}

func testModuleTooLarge(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	data := random(1000)
	sha, err := store.PutModule(ctx, s, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetModule(ctx, s, sha, 999); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("GetModule with a limit below its size: %v, want ErrTooLarge", err)
	}
	if _, err := store.GetModule(ctx, s, sha, 1000); err != nil {
		t.Errorf("GetModule with a limit of its size: %v", err)
	}
}

func testModuleCorruptChunk(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	data := random(1 << 20)
	sha, err := store.PutModule(ctx, s, data)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := s.Get(ctx, chunkKey(sha, 1))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(kv.Value)
	bad[len(bad)/2] ^= 0x55
	txn(t, s, nil, store.Op{Key: kv.Key, Value: bad})
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("GetModule with a damaged chunk: %v, want ErrCorrupt", err)
	}
	// A lost chunk is damage too.
	txn(t, s, nil, store.Op{Key: kv.Key, Delete: true})
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("GetModule with a missing chunk: %v, want ErrCorrupt", err)
	}
	// A chunk too short for the meta.
	txn(t, s, nil, store.Op{Key: kv.Key, Value: kv.Value[:10]})
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("GetModule with a short chunk: %v, want ErrCorrupt", err)
	}
	// Damaged meta.
	txn(t, s, nil, store.Op{Key: metaKey(sha), Value: []byte(`{"size":`)})
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("GetModule with damaged meta: %v, want ErrCorrupt", err)
	}
}

// testModuleHashMismatch stores, under one module's name, chunks that
// decompress cleanly to other bytes of the same size.
func testModuleHashMismatch(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	data := bytes.Repeat([]byte("wasm"), 256)
	sha, err := store.PutModule(ctx, s, data)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte("WASM"), 256)
	comp := gz(t, other)
	txn(t, s, nil,
		store.Op{Key: chunkKey(sha, 0), Value: comp},
		store.Op{Key: metaKey(sha), Value: fmt.Appendf(nil, `{"size":%d,"compressed":%d,"chunks":1,"codec":"gzip"}`, len(other), len(comp))})
	_, err = store.GetModule(ctx, s, sha, 0)
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("GetModule of the wrong bytes: %v, want ErrCorrupt", err)
	}
	if msg := err.Error(); !strings.Contains(msg, sha) || !strings.Contains(msg, shaOf(other)) {
		t.Errorf("error %q does not name both hashes (%s, %s)", msg, sha, shaOf(other))
	}
}

// testModuleBomb stores a module whose chunks decompress to far more
// than its meta says.
func testModuleBomb(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const claimed = 64 << 10
	sha := shaOf(make([]byte, claimed))
	comp := gz(t, make([]byte, 4<<20)) // 4 MiB of zeros in about 4 KiB
	txn(t, s, nil,
		store.Op{Key: chunkKey(sha, 0), Value: comp},
		store.Op{Key: metaKey(sha), Value: fmt.Appendf(nil, `{"size":%d,"compressed":%d,"chunks":1,"codec":"gzip"}`, claimed, len(comp))})
	if _, err := store.GetModule(ctx, s, sha, 1<<30); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("GetModule of a bomb: %v, want ErrCorrupt", err)
	}
}

func testModuleDelete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	keep, err := store.PutModule(ctx, s, []byte("keep"))
	if err != nil {
		t.Fatal(err)
	}
	sha, err := store.PutModule(ctx, s, random(600<<10))
	if err != nil {
		t.Fatal(err)
	}
	// A delete whose extra condition fails deletes nothing.
	if err := store.DeleteModule(ctx, s, sha, store.Cmp{Key: "guard", ModRev: 7}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("DeleteModule with a failing Cmp: %v, want ErrConflict", err)
	}
	if rev, err := store.ModuleRev(ctx, s, sha); err != nil || rev == 0 {
		t.Fatalf("after a refused delete: ModuleRev %d, %v", rev, err)
	}
	if shas, err := store.ListModules(ctx, s); err != nil || len(shas) != 2 {
		t.Fatalf("ListModules %v, %v; want both modules", shas, err)
	}
	if err := store.DeleteModule(ctx, s, sha, store.Cmp{Key: "guard"}); err != nil {
		t.Fatal(err)
	}
	if rev, err := store.ModuleRev(ctx, s, sha); err != nil || rev != 0 {
		t.Errorf("after DeleteModule: ModuleRev %d, %v; want 0", rev, err)
	}
	if _, err := store.GetModule(ctx, s, sha, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetModule after DeleteModule: %v, want ErrNotFound", err)
	}
	kvs, _, err := s.List(ctx, "modules/")
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(kvs); len(got) != 2 || got[0] != metaKey(keep) || got[1] != chunkKey(keep, 0) {
		t.Errorf("left after DeleteModule: %v", got)
	}
	if err := store.DeleteModule(ctx, s, sha); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteModule: %v, want ErrNotFound", err)
	}
}

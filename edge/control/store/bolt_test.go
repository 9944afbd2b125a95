package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

func openBolt(t *testing.T, path string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBolt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

// TestBoltReopen: data and revision survive a close; watches cannot
// replay revisions from before the open.
func TestBoltReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path)
	if _, err := s.Txn(ctx, nil, []store.Op{{Key: "a", Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	r2, err := s.Txn(ctx, nil, []store.Op{{Key: "b", Value: []byte("2")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get after Close: %v, want ErrUnavailable", err)
	}

	s = openBolt(t, path)
	defer s.Close()
	if r, err := s.Rev(ctx); r != r2 || err != nil {
		t.Fatalf("Rev after reopen: %d, %v; want %d", r, err, r2)
	}
	kv, err := s.Get(ctx, "b")
	if err != nil || string(kv.Value) != "2" || kv.ModRev != r2 {
		t.Fatalf("b after reopen: %+v, %v", kv, err)
	}
	ev := <-s.Watch(ctx, "", r2-1)
	if !errors.Is(ev.Err, store.ErrCompacted) {
		t.Errorf("Watch from before the open: %+v, want ErrCompacted", ev)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch := s.Watch(wctx, "", r2)
	r3, err := s.Txn(ctx, nil, []store.Op{{Key: "c", Value: []byte("3")}})
	if err != nil || r3 != r2+1 {
		t.Fatalf("Txn after reopen: %d, %v; want %d", r3, err, r2+1)
	}
	if ev := <-ch; ev.Rev != r3 || len(ev.Keys) != 1 || ev.Keys[0] != "c" {
		t.Errorf("event after reopen: %+v", ev)
	}
}

// TestBoltLocked: a second open of a file in use fails within about a
// second, saying why.
func TestBoltLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path)
	start := time.Now()
	_, err := store.OpenBolt(path)
	if err == nil {
		t.Fatal("second OpenBolt of a locked file succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("second OpenBolt took %v", took)
	}
	if !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) || !errors.Is(err, bolterrors.ErrTimeout) {
		t.Errorf("error %q does not say the file %s is locked", err, path)
	}
	s.Close()
	openBolt(t, path).Close()
}

func TestBoltNotAStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not bbolt ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := store.OpenBolt(path); err == nil || !strings.HasPrefix(err.Error(), "store: open ") {
		if s != nil {
			s.Close()
		}
		t.Errorf("OpenBolt of a file that is not a store: %v", err)
	}
}

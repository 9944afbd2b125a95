package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

func TestEtcd(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcd(t)
	storetest.Run(t, func(t *testing.T) store.Store { return e.Open(t) })
}

func rawClient(t *testing.T, e *storetest.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestEtcdPrefix: keys live under the prefix in etcd and come back
// without it; another prefix is another store.
func TestEtcdPrefix(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcd(t)
	ctx := ctxTimeout(t, 10*time.Second)
	def, err := store.OpenEtcd(store.EtcdConfig{Endpoints: e.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	other := e.Open(t)
	if _, err := def.Txn(ctx, nil, []store.Op{{Key: "tenants/a", Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rawClient(t, e).Get(ctx, "/wedge/tenants/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd key /wedge/tenants/a: %v, %v", resp, err)
	}
	kvs, _, err := def.List(ctx, "")
	if err != nil || len(kvs) != 1 || kvs[0].Key != "tenants/a" {
		t.Errorf("List: %+v, %v", kvs, err)
	}
	if kvs, _, err := other.List(ctx, ""); err != nil || len(kvs) != 0 {
		t.Errorf("another prefix sees %+v, %v", kvs, err)
	}
}

func TestOpenEtcdConfig(t *testing.T) {
	t.Parallel()
	if _, err := store.OpenEtcd(store.EtcdConfig{}); err == nil {
		t.Error("OpenEtcd without endpoints succeeded")
	}
	cfg := store.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}}
	s, err := store.OpenEtcd(cfg)
	if err != nil {
		t.Fatalf("OpenEtcd must not wait for etcd: %v", err)
	}
	defer s.Close()
	if cfg.Prefix != "" || cfg.DialTimeout != 0 || cfg.RequestTimeout != 0 {
		t.Errorf("OpenEtcd changed the caller's config: %+v", cfg)
	}
}

// TestEtcdUnavailable: with etcd down every call fails with
// ErrUnavailable by its deadline, or by RequestTimeout without one; the
// store works again once etcd is back.
func TestEtcdUnavailable(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcd(t)
	s := e.Open(t)
	quick, err := store.OpenEtcd(store.EtcdConfig{Endpoints: e.Endpoints(), RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer quick.Close()
	if _, err := s.Txn(ctxTimeout(t, 5*time.Second), nil, []store.Op{{Key: "a", Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	e.Stop()

	calls := map[string]func(ctx context.Context) error{
		"Get":  func(ctx context.Context) error { _, err := s.Get(ctx, "a"); return err },
		"List": func(ctx context.Context) error { _, _, err := s.List(ctx, ""); return err },
		"Txn": func(ctx context.Context) error {
			_, err := s.Txn(ctx, nil, []store.Op{{Key: "b", Value: []byte("2")}})
			return err
		},
		"Rev":                     func(ctx context.Context) error { _, err := s.Rev(ctx); return err },
		"List without a deadline": func(context.Context) error { _, _, err := quick.List(context.Background(), ""); return err },
	}
	for name, call := range calls {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := call(ctx)
		cancel()
		took := time.Since(start)
		t.Logf("%s: %v after %v", name, err, took.Round(time.Millisecond))
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with etcd down: %v, want ErrUnavailable", name, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s with etcd down took %v, past its 500ms deadline", name, took)
		}
	}

	e.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, err := s.List(ctxTimeout(t, time.Second), "")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("List after etcd restarted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kv, err := s.Get(ctxTimeout(t, 5*time.Second), "a")
	if err != nil || string(kv.Value) != "1" {
		t.Errorf("a after restart: %+v, %v", kv, err)
	}
}

// TestEtcdWatchResumes: a watch open while etcd restarts delivers the
// next changes, none lost, including one written before the watch had
// reconnected.
func TestEtcdWatchResumes(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcd(t)
	s := e.Open(t)
	ctx := ctxTimeout(t, 30*time.Second)
	r0, err := s.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(ctx, "w/", r0)
	write := func(key string) int64 {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r, err := s.Txn(ctxTimeout(t, time.Second), nil, []store.Op{{Key: key, Value: []byte("v")}})
			if err == nil {
				return r
			}
			if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("Txn(%s): %v", key, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	expect := func(rev int64, key string) {
		t.Helper()
		select {
		case ev := <-ch:
			if ev.Err != nil || ev.Rev != rev || !slices.Equal(ev.Keys, []string{key}) {
				t.Fatalf("event %+v, want %s at %d", ev, key, rev)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no event for %s at %d", key, rev)
		}
	}
	expect(write("w/1"), "w/1")
	e.Stop()
	e.Start()
	r2 := write("w/2")
	r3 := write("w/3")
	expect(r2, "w/2")
	expect(r3, "w/3")
}

// TestEtcdCompacted: a watch from a compacted revision ends with
// ErrCompacted and closes.
func TestEtcdCompacted(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcd(t)
	s := e.Open(t)
	ctx := ctxTimeout(t, 10*time.Second)
	var revs []int64
	for _, k := range []string{"a", "b", "c"} {
		r, err := s.Txn(ctx, nil, []store.Op{{Key: k, Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, r)
	}
	if _, err := rawClient(t, e).Compact(ctx, revs[2]); err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(ctx, "", revs[0])
	ev := <-ch
	if !errors.Is(ev.Err, store.ErrCompacted) {
		t.Fatalf("Watch from a compacted revision: %+v, want ErrCompacted", ev)
	}
	if _, ok := <-ch; ok {
		t.Error("watch channel open after ErrCompacted")
	}
	// From the compaction on, it works.
	ch = s.Watch(ctx, "", revs[2]-1)
	if ev := <-ch; ev.Err != nil || ev.Rev != revs[2] {
		t.Errorf("Watch from the compacted revision: %+v, want revision %d", ev, revs[2])
	}
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// waitFor bounds every wait of the suite.
const waitFor = 10 * time.Second

// Run runs the conformance suite: what every Store must do alike. open
// is called once per subtest and must return an empty store that
// nothing else writes to while the subtest runs; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetList", testGetList},
		{"TxnCmp", testTxnCmp},
		{"ConflictWritesNothing", testConflictWritesNothing},
		{"DeletePrefix", testDeletePrefix},
		{"Revisions", testRevisions},
		{"RefusedTxns", testRefusedTxns},
		{"ConcurrentCAS", testConcurrentCAS},
		{"WatchOrder", testWatchOrder},
		{"WatchPast", testWatchPast},
		{"WatchCancel", testWatchCancel},
		{"WatchClose", testWatchClose},
		{"ModuleRoundTrip", testModuleRoundTrip},
		{"ModuleMissing", testModuleMissing},
		{"ModuleTooLarge", testModuleTooLarge},
		{"ModuleCorruptChunk", testModuleCorruptChunk},
		{"ModuleHashMismatch", testModuleHashMismatch},
		{"ModuleBomb", testModuleBomb},
		{"ModuleDelete", testModuleDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func txn(t *testing.T, s store.Store, cmps []store.Cmp, ops ...store.Op) int64 {
	t.Helper()
	rev, err := s.Txn(ctxFor(t), cmps, ops)
	if err != nil {
		t.Fatalf("Txn(%v, %v): %v", cmps, ops, err)
	}
	return rev
}

func put(k, v string) store.Op { return store.Op{Key: k, Value: []byte(v)} }

func rev(t *testing.T, s store.Store) int64 {
	t.Helper()
	r, err := s.Rev(ctxFor(t))
	if err != nil {
		t.Fatalf("Rev: %v", err)
	}
	return r
}

// dump is every key and value, for comparing before and after.
func dump(t *testing.T, s store.Store) string {
	t.Helper()
	kvs, _, err := s.List(ctxFor(t), "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var b bytes.Buffer
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s@%d=%q\n", kv.Key, kv.ModRev, kv.Value)
	}
	return b.String()
}

func testGetList(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	kvs, r0, err := s.List(ctx, "")
	if err != nil || len(kvs) != 0 {
		t.Fatalf("List of an empty store: %v, %v", kvs, err)
	}
	r1 := txn(t, s, nil, put("b/2", "two"), put("a", "A"), put("b/1", "one"), put("c", ""), put("b", "bee"))
	if r1 <= r0 {
		t.Fatalf("Txn revision %d, not after %d", r1, r0)
	}
	kv, err := s.Get(ctx, "a")
	if err != nil || kv.Key != "a" || string(kv.Value) != "A" || kv.ModRev != r1 {
		t.Fatalf("Get(a) = %+v, %v; want A at %d", kv, err, r1)
	}
	kv, err = s.Get(ctx, "c")
	if err != nil || len(kv.Value) != 0 || kv.ModRev != r1 {
		t.Fatalf("Get(c) = %+v, %v; want an empty value at %d", kv, err, r1)
	}
	kvs, lrev, err := s.List(ctx, "b/")
	if err != nil {
		t.Fatal(err)
	}
	if lrev != r1 {
		t.Errorf("List revision %d, want %d", lrev, r1)
	}
	if got := keys(kvs); !slices.Equal(got, []string{"b/1", "b/2"}) {
		t.Errorf("List(b/) keys %v", got)
	}
	if string(kvs[0].Value) != "one" || kvs[0].ModRev != r1 {
		t.Errorf("List(b/)[0] = %+v", kvs[0])
	}
	kvs, _, err = s.List(ctx, "")
	if got := keys(kvs); err != nil || !slices.Equal(got, []string{"a", "b", "b/1", "b/2", "c"}) {
		t.Errorf("List() keys %v, %v", got, err)
	}
	kvs, lrev, err = s.List(ctx, "zz")
	if err != nil || len(kvs) != 0 || lrev != r1 {
		t.Errorf("List(zz) = %v at %d, %v; want nothing at %d", kvs, lrev, err, r1)
	}
}

func keys(kvs []store.KV) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

func testTxnCmp(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	r1 := txn(t, s, []store.Cmp{{Key: "k", ModRev: 0}}, put("k", "1"))
	r2 := txn(t, s, []store.Cmp{{Key: "k", ModRev: r1}}, put("k", "2"))
	if r2 <= r1 {
		t.Fatalf("revision %d after %d", r2, r1)
	}
	for _, c := range []store.Cmp{
		{Key: "k", ModRev: r1},       // stale
		{Key: "k", ModRev: 0},        // exists
		{Key: "missing", ModRev: r2}, // absent
	} {
		_, err := s.Txn(ctx, []store.Cmp{c}, []store.Op{put("k", "3")})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("Txn with %+v: %v, want ErrConflict", c, err)
		}
	}
	kv, err := s.Get(ctx, "k")
	if err != nil || string(kv.Value) != "2" || kv.ModRev != r2 {
		t.Errorf("k = %+v, %v; want 2 at %d", kv, err, r2)
	}
	// A delete makes the key absent again, for ModRev 0.
	txn(t, s, []store.Cmp{{Key: "k", ModRev: r2}}, store.Op{Key: "k", Delete: true})
	txn(t, s, []store.Cmp{{Key: "k", ModRev: 0}, {Key: "missing", ModRev: 0}}, put("k", "4"))
}

func testConflictWritesNothing(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	r1 := txn(t, s, nil, put("a", "1"), put("b", "1"), put("p/x", "1"))
	before, rBefore := dump(t, s), rev(t, s)
	_, err := s.Txn(ctx,
		[]store.Cmp{{Key: "a", ModRev: r1}, {Key: "b", ModRev: r1 - 1}},
		[]store.Op{put("a", "2"), put("new", "2"), {Key: "b", Delete: true}, {Key: "p/", DeletePrefix: true}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Txn: %v, want ErrConflict", err)
	}
	if after := dump(t, s); after != before {
		t.Errorf("a failed Txn changed the store:\nbefore\n%s\nafter\n%s", before, after)
	}
	if r := rev(t, s); r != rBefore {
		t.Errorf("a failed Txn moved the revision from %d to %d", rBefore, r)
	}
}

func testDeletePrefix(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	txn(t, s, nil, put("t/a/1", "x"), put("t/a/2", "x"), put("t/ab", "x"), put("t/b", "x"), put("t/a", "x"))
	r := txn(t, s, nil, store.Op{Key: "t/a/", DeletePrefix: true})
	kvs, lrev, err := s.List(ctx, "t/")
	if err != nil || lrev != r {
		t.Fatalf("List: rev %d, %v; want rev %d", lrev, err, r)
	}
	if got := keys(kvs); !slices.Equal(got, []string{"t/a", "t/ab", "t/b"}) {
		t.Errorf("after DeletePrefix(t/a/): %v", got)
	}
	// Deleting what is not there changes nothing and makes no revision.
	if r2 := txn(t, s, nil, store.Op{Key: "t/a/", DeletePrefix: true}, store.Op{Key: "nope", Delete: true}); r2 != r {
		t.Errorf("a Txn that deleted nothing returned revision %d, want the current %d", r2, r)
	}
	if got := rev(t, s); got != r {
		t.Errorf("Rev %d after a Txn that deleted nothing, want %d", got, r)
	}
	// A prefix and a key under it, both deleted, in one Txn.
	r3 := txn(t, s, nil, store.Op{Key: "t/", DeletePrefix: true}, store.Op{Key: "t/b", Delete: true})
	if r3 <= r {
		t.Errorf("revision %d after %d", r3, r)
	}
	if kvs, _, _ := s.List(ctx, ""); len(kvs) != 0 {
		t.Errorf("left after DeletePrefix(t/): %v", keys(kvs))
	}
}

func testRevisions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	last := rev(t, s)
	var revs []int64
	for i := range 5 {
		r := txn(t, s, nil, put(fmt.Sprintf("k%d", i), "v"))
		if r <= last {
			t.Fatalf("Txn %d: revision %d, not after %d", i, r, last)
		}
		if got := rev(t, s); got != r {
			t.Errorf("Rev %d after a Txn at %d", got, r)
		}
		revs = append(revs, r)
		last = r
	}
	for i, r := range revs {
		kv, err := s.Get(ctx, fmt.Sprintf("k%d", i))
		if err != nil || kv.ModRev != r {
			t.Errorf("k%d: ModRev %d, %v; want %d (a later Txn must not touch it)", i, kv.ModRev, err, r)
		}
	}
	// No ops, or only cmps: the current revision, none new.
	if r := txn(t, s, nil); r != last {
		t.Errorf("an empty Txn returned %d, want the current %d", r, last)
	}
	if r := txn(t, s, []store.Cmp{{Key: "k0", ModRev: revs[0]}}); r != last {
		t.Errorf("a Txn of only cmps returned %d, want the current %d", r, last)
	}
	if r := rev(t, s); r != last {
		t.Errorf("Rev moved to %d without a write (was %d)", r, last)
	}
}

func testRefusedTxns(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	txn(t, s, nil, put("a", "1"))
	before := dump(t, s)
	many := make([]store.Op, store.MaxTxnOps+1)
	for i := range many {
		many[i] = put(fmt.Sprintf("m%03d", i), "v")
	}
	for name, ops := range map[string][]store.Op{
		"put twice":                {put("x", "1"), put("x", "2")},
		"put and delete":           {put("x", "1"), {Key: "x", Delete: true}},
		"put under deleted prefix": {{Key: "a/", DeletePrefix: true}, put("a/b", "1")},
		"empty key":                {put("", "1")},
		"too many ops":             many,
	} {
		_, err := s.Txn(ctx, nil, ops)
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v, want an error other than ErrConflict", name, err)
		}
	}
	if after := dump(t, s); after != before {
		t.Errorf("refused Txns changed the store:\n%s", after)
	}
	// The most ops allowed do go through.
	txn(t, s, nil, many[:store.MaxTxnOps]...)
}

// testConcurrentCAS has writers race to increment one counter with
// compare-and-swap: no increment is lost.
func testConcurrentCAS(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const writers, each = 4, 10
	txn(t, s, nil, put("n", "0"))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				kv, err := s.Get(ctx, "n")
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(string(kv.Value), &n)
				_, err = s.Txn(ctx, []store.Cmp{{Key: "n", ModRev: kv.ModRev}}, []store.Op{put("n", fmt.Sprint(n+1))})
				switch {
				case errors.Is(err, store.ErrConflict):
				case err != nil:
					errs <- err
					return
				default:
					done++
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	kv, err := s.Get(ctx, "n")
	if err != nil || string(kv.Value) != fmt.Sprint(writers*each) {
		t.Errorf("n = %q, %v; want %d", kv.Value, err, writers*each)
	}
}

// next waits for one event.
func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(waitFor):
		t.Fatal("no watch event")
	}
	return store.Event{}
}

func expect(t *testing.T, ch <-chan store.Event, rev int64, keys ...string) {
	t.Helper()
	ev := next(t, ch)
	if ev.Err != nil || ev.Rev != rev || !slices.Equal(ev.Keys, keys) {
		t.Fatalf("event %+v, want rev %d keys %v", ev, rev, keys)
	}
}

// quiet checks nothing more arrives for a moment.
func quiet(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

func testWatchOrder(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ch := s.Watch(ctx, "w/", rev(t, s))
	r1 := txn(t, s, nil, put("w/a", "1"), put("x/a", "1"))
	txn(t, s, nil, put("x/b", "1")) // not under w/: no event
	r3 := txn(t, s, nil, put("w/c", "1"), put("w/b", "1"))
	r4 := txn(t, s, nil, store.Op{Key: "w/", DeletePrefix: true})
	r5 := txn(t, s, nil, put("w/a", "2"))
	expect(t, ch, r1, "w/a")
	expect(t, ch, r3, "w/b", "w/c")
	expect(t, ch, r4, "w/a", "w/b", "w/c")
	expect(t, ch, r5, "w/a")
	quiet(t, ch)
}

func testWatchPast(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	r1 := txn(t, s, nil, put("w/a", "1"))
	r2 := txn(t, s, nil, put("w/b", "1"))
	r3 := txn(t, s, nil, put("w/a", "2"), put("w/c", "1"))
	ch := s.Watch(ctx, "w/", r1)
	expect(t, ch, r2, "w/b")
	expect(t, ch, r3, "w/a", "w/c")
	r4 := txn(t, s, nil, put("w/d", "1"))
	expect(t, ch, r4, "w/d")
	// A watch after the current revision waits for it.
	ch2 := s.Watch(ctx, "w/", r4)
	quiet(t, ch2)
	r5 := txn(t, s, nil, put("w/e", "1"))
	expect(t, ch2, r5, "w/e")
	expect(t, ch, r5, "w/e")
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx, "", rev(t, s))
	r := txn(t, s, nil, put("a", "1"))
	expect(t, ch, r, "a")
	cancel()
	drained(t, ch)
	// A watch whose ctx has already ended closes too.
	drained(t, s.Watch(ctx, "", r))
}

// drained checks ch closes soon, with no error event on the way.
func drained(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Err != nil {
				t.Fatalf("event after cancel: %+v", ev)
			}
		case <-timeout:
			t.Fatal("watch channel not closed after its ctx ended")
		}
	}
}

func testWatchClose(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ch := s.Watch(ctx, "", rev(t, s))
	r := txn(t, s, nil, put("a", "1"))
	expect(t, ch, r, "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ev := next(t, ch)
	if !errors.Is(ev.Err, store.ErrUnavailable) {
		t.Fatalf("event after Close: %+v, want ErrUnavailable", ev)
	}
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("event after the error: %+v", ev)
		}
	case <-time.After(waitFor):
		t.Fatal("watch channel not closed after its error")
	}
}

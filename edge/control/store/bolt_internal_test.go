package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func openTestBolt(t *testing.T) *Bolt {
	t.Helper()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func put(t *testing.T, s Store, key string) int64 {
	t.Helper()
	r, err := s.Txn(context.Background(), nil, []Op{{Key: key, Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHubSlowWatcher: a watcher that does not read does not hold up
// writers; it ends with ErrCompacted after what it was sent.
func TestHubSlowWatcher(t *testing.T) {
	b := openTestBolt(t)
	b.hub.bufferMax = 4
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch := b.Watch(ctx, "", 0)
	for i := range 20 {
		put(t, b, string(rune('a'+i)))
	}
	var last int64
	for ev := range ch {
		if ev.Err != nil {
			if !errors.Is(ev.Err, ErrCompacted) {
				t.Fatalf("end of a slow watch: %v, want ErrCompacted", ev.Err)
			}
			if last >= 20 {
				t.Fatalf("slow watcher got all %d revisions and then ErrCompacted", last)
			}
			return
		}
		if ev.Rev != last+1 {
			t.Fatalf("event %d after %d", ev.Rev, last)
		}
		last = ev.Rev
	}
	t.Fatal("slow watch closed without an error")
}

// TestHubHistory: a watch replays what the history holds and ends with
// ErrCompacted before it.
func TestHubHistory(t *testing.T) {
	b := openTestBolt(t)
	b.hub.historyMax = 3
	for i := range 5 {
		put(t, b, string(rune('a'+i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev := <-b.Watch(ctx, "", 1); !errors.Is(ev.Err, ErrCompacted) {
		t.Errorf("Watch after 1 with revisions 3-5 remembered: %+v, want ErrCompacted", ev)
	}
	ch := b.Watch(ctx, "", 2)
	for want := int64(3); want <= 5; want++ {
		if ev := <-ch; ev.Rev != want || ev.Err != nil {
			t.Fatalf("replay: %+v, want revision %d", ev, want)
		}
	}
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(encodeValue(1, []byte("value")))
	f.Add(encodeValue(1<<40, nil))
	f.Add(encodeValue(-1, []byte("x")))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, v []byte) {
		rev, val, err := decodeValue(v)
		if err != nil {
			return
		}
		if rev < 1 {
			t.Fatalf("decoded revision %d", rev)
		}
		if !bytes.Equal(encodeValue(rev, val), v) {
			t.Fatalf("%x decodes to %d, %x, which encodes differently", v, rev, val)
		}
	})
}

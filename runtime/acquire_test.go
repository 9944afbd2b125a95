package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStreamQueueBounded (issue 11 item 8): while an instance is stuck
// in a looping call, at most StreamQueue new streams wait to enter it;
// the next NewStream fails at once with Kind Unavailable (the route's
// failure mode answers) instead of queueing behind the loop.
func TestStreamQueueBounded(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	lim := hostileLimits
	lim.Instances = 1
	lim.StreamQueue = 2
	lim.CallDeadline = 3 * time.Second
	bad := startPlugin(t, e, "wat", "hostile", PluginConfig{Name: "bad", Config: []byte("loop:request_headers"), Limits: lim})

	s, err := bad.NewStream(ctx, getRequest("/"))
	if err != nil {
		t.Fatal(err)
	}
	in := s.in
	loopDone := make(chan struct{})
	go func() {
		s.RequestHeaders(ctx, true)
		s.Close()
		close(loopDone)
	}()
	for in.callStart.Load() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	// Two streams wait to enter behind the loop.
	waited := make(chan error, 2)
	for range 2 {
		go func() {
			st, err := bad.NewStream(ctx, getRequest("/"))
			if err == nil {
				st.Close()
			}
			waited <- err
		}()
	}
	for in.entering.Load() < 2 {
		select {
		case <-loopDone:
			t.Fatal("the loop ended before two streams queued behind it")
		default:
			time.Sleep(100 * time.Microsecond)
		}
	}
	// The third is refused at once, while the loop still runs.
	_, err = bad.NewStream(ctx, getRequest("/"))
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Kind != Unavailable || !strings.Contains(err.Error(), "2 new streams waiting") {
		t.Fatalf("NewStream past the queue: %v, want Unavailable naming the queue", err)
	}
	select {
	case <-loopDone:
		t.Fatal("the refusal waited for the loop to end")
	default:
	}
	<-loopDone
	for range 2 {
		<-waited // they entered once the loop was cut (the instance is discarded: errors or not)
	}
}

// TestAcquireWaitHonoursContext: a stream waiting for an instance that
// another stream is starting gives up when its context ends.
func TestAcquireWaitHonoursContext(t *testing.T) {
	e := newTestEngine(t)
	lim := hostileLimits
	lim.Instances = 1
	p := startPlugin(t, e, "wat", "hostile", PluginConfig{Name: "p", Config: []byte("ok"), Limits: lim})
	// Pretend slot 0 is being made, with no live instance.
	p.mu.Lock()
	old := p.slots[0]
	p.slots[0] = nil
	ch := make(chan struct{})
	p.making[0] = ch
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.acquire(ctx)
		errc <- err
	}()
	cancel()
	err := <-errc
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Kind != Unavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a canceled context: %v, want Unavailable wrapping context.Canceled", err)
	}
	p.mu.Lock()
	p.making[0] = nil
	p.slots[0] = old
	p.mu.Unlock()
	close(ch)
}

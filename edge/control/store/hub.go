package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// The embedded store's watch limits.
const (
	// hubHistory is how many recent revisions a Watch can replay.
	hubHistory = 4096
	// hubBuffer is how many events a watcher may fall behind before its
	// watch ends with ErrCompacted.
	hubBuffer = 4096
)

// hub fans the embedded store's commits out to its watchers. Writers
// never wait for a watcher: each has a buffer, and one that fills it is
// dropped with ErrCompacted, which makes it List again.
type hub struct {
	mu      sync.Mutex
	floor   int64   // a Watch can replay every revision after floor
	history []Event // the revisions after floor, in order
	subs    map[*sub]struct{}
	closed  error // set by close: why new watches end at once

	historyMax, bufferMax int
}

// sub is one watcher. q and end are guarded by hub.mu.
type sub struct {
	prefix string
	after  int64
	ready  chan struct{} // capacity 1: q or end changed
	q      []Event       // revisions not yet taken by feed
	end    error         // set: the watch ends after q, with this error
}

func newHub(rev int64) *hub {
	return &hub{floor: rev, subs: make(map[*sub]struct{}), historyMax: hubHistory, bufferMax: hubBuffer}
}

// watch registers a watcher, queues the history it asks for, and runs
// the goroutine that feeds its channel.
func (h *hub) watch(ctx context.Context, prefix string, afterRev int64) <-chan Event {
	out := make(chan Event)
	s := &sub{prefix: prefix, after: afterRev, ready: make(chan struct{}, 1)}
	h.mu.Lock()
	switch {
	case h.closed != nil:
		s.end = h.closed
	case afterRev < h.floor:
		s.end = fmt.Errorf("%w: revision %d is older than the %d this store remembers", ErrCompacted, afterRev+1, h.floor+1)
	default:
		h.subs[s] = struct{}{}
		for _, ev := range h.history {
			h.deliver(s, ev)
		}
	}
	h.mu.Unlock()
	go h.feed(ctx, s, out)
	return out
}

// feed sends what is queued for s to out until ctx ends or s ends.
func (h *hub) feed(ctx context.Context, s *sub, out chan<- Event) {
	defer close(out)
	for {
		h.mu.Lock()
		q, end := s.q, s.end
		s.q = nil
		h.mu.Unlock()
		for _, ev := range q {
			select {
			case out <- ev:
			case <-ctx.Done():
				h.remove(s)
				return
			}
		}
		if end != nil { // nothing is queued after end
			select {
			case out <- Event{Err: end}:
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			h.remove(s)
			return
		}
	}
}

// publish records a committed revision and hands it to every watcher.
func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.history = append(h.history, ev)
	if len(h.history) > h.historyMax {
		h.floor = h.history[0].Rev
		h.history[0] = Event{}
		h.history = h.history[1:]
	}
	for s := range h.subs {
		h.deliver(s, ev)
	}
}

// deliver queues the part of ev under s's prefix, if any; a watcher
// whose queue is full ends with ErrCompacted. h.mu is held and s is
// registered.
func (h *hub) deliver(s *sub, ev Event) {
	if ev.Rev <= s.after {
		return
	}
	var keys []string
	for _, k := range ev.Keys {
		if strings.HasPrefix(k, s.prefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	if len(s.q) >= h.bufferMax {
		h.end(s, fmt.Errorf("%w: watcher fell %d revisions behind at %d", ErrCompacted, len(s.q), ev.Rev))
		return
	}
	s.q = append(s.q, Event{Rev: ev.Rev, Keys: keys})
	h.wake(s)
}

// end unregisters s and ends its watch with err. h.mu is held.
func (h *hub) end(s *sub, err error) {
	delete(h.subs, s)
	s.end = err
	h.wake(s)
}

func (h *hub) wake(s *sub) {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// remove forgets a watcher whose context ended.
func (h *hub) remove(s *sub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// close ends every watch with err, and every later one at once.
func (h *hub) close(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed != nil {
		return
	}
	h.closed = err
	for s := range h.subs {
		h.end(s, err)
	}
	h.history = nil
}

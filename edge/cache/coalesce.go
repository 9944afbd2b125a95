package cache

import (
	"context"
	"time"
)

// flight is an upstream request for a key that other requests for the
// same key wait on instead of going upstream too.
type flight struct {
	done   chan struct{}
	stored bool // set before done is closed
}

// join returns the flight for the primary hash and whether the caller
// leads it (and must land it).
func (c *Cache) join(hash uint64) (*flight, bool) {
	s := c.shardFor(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.flights[hash]; f != nil {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	s.flights[hash] = f
	return f, true
}

// land ends the flight, releasing its waiters.
func (c *Cache) land(hash uint64, f *flight, stored bool) {
	s := c.shardFor(hash)
	s.mu.Lock()
	if s.flights[hash] == f {
		delete(s.flights, hash)
	}
	s.mu.Unlock()
	f.stored = stored
	close(f.done)
}

// Outcomes of flight.wait.
const (
	waitLanded  = iota // the leader finished
	waitTimeout        // the leader took longer than the wait bound
	waitGone           // the waiting client went away
)

// wait blocks until the flight lands, d passes, or ctx ends.
func (f *flight) wait(ctx context.Context, d time.Duration) int {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
		return waitLanded
	case <-t.C:
		return waitTimeout
	case <-ctx.Done():
		return waitGone
	}
}

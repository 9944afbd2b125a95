package proxy

import (
	"sync/atomic"
	"time"
)

// logGate lets one log line a second through; the others are counted and
// reported with the next one let through.
type logGate struct {
	next    atomic.Int64 // unix nanoseconds before which lines are held back
	skipped atomic.Int64
}

// allow reports whether to log now and how many lines were held back
// since the last one logged.
func (g *logGate) allow() (bool, int64) {
	now := time.Now().UnixNano()
	next := g.next.Load()
	if now < next || !g.next.CompareAndSwap(next, now+int64(time.Second)) {
		g.skipped.Add(1)
		return false, 0
	}
	return true, g.skipped.Swap(0)
}

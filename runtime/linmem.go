package runtime

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one instance's memory with a fixed reservation of the
// plugin's page limit. A grow past it fails (memory.grow returns -1) and
// marks the instance for discarding.
type linearMemory struct {
	limit    uint64
	buf      []byte
	err      error
	exceeded *atomic.Bool
	snap     *snapshot // map this snapshot's file copy-on-write, if any
	mapped   bool
}

// Allocate implements experimental.MemoryAllocator.
func (l *linearMemory) Allocate(capacity, max uint64) experimental.LinearMemory {
	size := l.limit
	if max < size {
		size = max
	}
	if capacity > size {
		size = capacity // NewPlugin refuses such modules; stay safe anyway
	}
	b, err := reserve(size)
	if err != nil {
		l.err = err
		b = make([]byte, capacity)
	}
	l.buf = b
	if s := l.snap; s != nil && s.fd >= 0 && err == nil && uint64(s.size) <= size && s.size > 0 {
		l.mapped = mapSnapshot(b, s.fd, int(s.size)) == nil
	}
	return l
}

// Reallocate implements experimental.LinearMemory.
func (l *linearMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(l.buf)) {
		l.exceeded.Store(true)
		return nil
	}
	return l.buf[:size]
}

// Free implements experimental.LinearMemory. It does nothing: wazero may
// call it from the watchdog while the guest is still running, so the
// instance unmaps its memory itself once no call can touch it.
func (l *linearMemory) Free() {}

func (l *linearMemory) unmap() {
	if l.buf != nil && l.err == nil {
		unreserve(l.buf[:cap(l.buf)])
	}
	l.buf = nil
}

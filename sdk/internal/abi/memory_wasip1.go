//go:build wasip1

package abi

import "unsafe"

// allocation is a buffer handed to the host by proxy_on_memory_allocate.
// It stays in allocs — referenced, so the garbage collector keeps it — until
// the host call that asked for it returns and take hands it to the SDK.
type allocation struct {
	ptr uint32
	buf []byte
}

var allocs []allocation

// zeroSized is what a zero-byte allocation returns: a valid, non-nil address.
var zeroSized [1]byte

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) uint32 {
	if size == 0 {
		return uint32(uintptr(unsafe.Pointer(&zeroSized[0])))
	}
	b := make([]byte, size)
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	allocs = append(allocs, allocation{ptr: p, buf: b})
	return p
}

// take returns the buffer at ptr trimmed to size, and forgets every pending
// allocation (one host call returns at most one buffer). A zero size is an
// empty result whatever ptr is; ok is false when ptr is not a live
// allocation of at least size bytes.
func take(ptr, size uint32) (b []byte, ok bool) {
	if size == 0 {
		forget()
		return nil, true
	}
	for i := range allocs {
		if allocs[i].ptr == ptr {
			b = allocs[i].buf
			break
		}
	}
	forget()
	if b == nil || uint32(len(b)) < size {
		return nil, false
	}
	return b[:size:size], true
}

// forget drops the references to pending allocations.
func forget() {
	if len(allocs) != 0 {
		clear(allocs)
		allocs = allocs[:0]
	}
}

package runtime

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// guestBytes returns a view of guest memory [ptr, ptr+size), or false when
// any byte of it is outside linear memory. The view aliases guest memory: it
// is valid only until the guest runs again or memory grows.
func guestBytes(mem api.Memory, ptr, size uint32) ([]byte, bool) {
	if mem == nil {
		return nil, false
	}
	if uint64(ptr)+uint64(size) > uint64(mem.Size()) {
		return nil, false
	}
	if size == 0 {
		return nil, true
	}
	return mem.Read(ptr, size)
}

// guestString copies guest bytes into a Go string.
func guestString(mem api.Memory, ptr, size uint32) (string, bool) {
	b, ok := guestBytes(mem, ptr, size)
	if !ok {
		return "", false
	}
	return string(b), true
}

// writableU32 reports whether a 4-byte return slot at ptr is inside memory.
func writableU32(mem api.Memory, ptr uint32) bool {
	return mem != nil && uint64(ptr)+4 <= uint64(mem.Size())
}

// putU32 writes a little-endian uint32 return value.
func putU32(mem api.Memory, ptr, v uint32) bool {
	if !writableU32(mem, ptr) {
		return false
	}
	return mem.WriteUint32Le(ptr, v)
}

// putU64 writes a little-endian uint64 return value.
func putU64(mem api.Memory, ptr uint32, v uint64) bool {
	if mem == nil || uint64(ptr)+8 > uint64(mem.Size()) {
		return false
	}
	return mem.WriteUint64Le(ptr, v)
}

// le32 reads a little-endian uint32 from b at off.
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

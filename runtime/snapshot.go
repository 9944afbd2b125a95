package runtime

import (
	"bytes"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// snapshot is an instance's state right after _initialize: the memory
// pages that differ from a freshly instantiated module, and every mutable
// global. Restoring it into a new instance replaces running _initialize
// again (milliseconds for a standard-Go module) with a copy of the pages
// the initialisation touched.
//
// It is only taken for modules whose mutable globals can all be exported
// (see internal/wasmbin). Effects of _initialize outside memory and
// globals, such as host calls it makes, are not replayed.
type snapshot struct {
	size    uint32
	chunks  []chunk
	globals []uint64
	fd      int // memory file instances map copy-on-write; -1: copy chunks
}

type chunk struct {
	off  uint32
	data []byte
}

const snapPage = 4096

// pristineCopy copies a fresh instance's memory, the baseline a snapshot
// is a diff against.
func pristineCopy(mem api.Memory) []byte {
	b, _ := mem.Read(0, mem.Size())
	return bytes.Clone(b)
}

// takeSnapshot records how mod's memory differs from pristine, and its
// mutable globals.
func takeSnapshot(mod api.Module, pristine []byte, globals []string) (*snapshot, error) {
	mem := mod.Memory()
	if mem == nil {
		return nil, fmt.Errorf("runtime: snapshot: module has no exported memory")
	}
	cur, _ := mem.Read(0, mem.Size())
	s := &snapshot{size: mem.Size(), fd: -1}
	var zero [snapPage]byte
	var run *chunk
	for off := 0; off < len(cur); off += snapPage {
		end := min(off+snapPage, len(cur))
		page := cur[off:end]
		var base []byte
		if off < len(pristine) {
			base = pristine[off:min(end, len(pristine))]
		}
		if len(base) < len(page) {
			base = append(base[:len(base):len(base)], zero[:len(page)-len(base)]...)
		}
		if bytes.Equal(page, base) {
			run = nil
			continue
		}
		if run != nil && int(run.off)+len(run.data) == off {
			run.data = append(run.data, page...)
			continue
		}
		s.chunks = append(s.chunks, chunk{off: uint32(off), data: bytes.Clone(page)})
		run = &s.chunks[len(s.chunks)-1]
	}
	for _, name := range globals {
		g := mod.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("runtime: snapshot: global %s is not exported", name)
		}
		s.globals = append(s.globals, g.Get())
	}
	if fd, err := newSnapshotFile(s.size, s.chunks); err == nil {
		// The file holds the pages now; the heap need not hold them too.
		s.fd, s.chunks = fd, nil
	}
	return s, nil
}

// restore writes the snapshot into a freshly instantiated module; mapped
// says its memory already maps the snapshot file.
func (s *snapshot) restore(mod api.Module, globals []string, mapped bool) error {
	mem := mod.Memory()
	if cur := mem.Size(); cur < s.size {
		if _, ok := mem.Grow((s.size - cur) / 65536); !ok {
			return fmt.Errorf("runtime: snapshot: the module's initialised memory (%d bytes) is over the plugin's limit", s.size)
		}
	}
	if !mapped && s.chunks == nil && s.fd >= 0 {
		return s.copyFile(mem)
	}
	for _, c := range s.chunks {
		if mapped {
			break
		}
		if !mem.Write(c.off, c.data) {
			return fmt.Errorf("runtime: snapshot: write at %d failed", c.off)
		}
	}
	for i, name := range globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("runtime: snapshot: global %s is not mutable", name)
		}
		g.Set(s.globals[i])
	}
	return nil
}

// copyFile copies the snapshot file into mem, for an instance whose
// memory could not map it.
func (s *snapshot) copyFile(mem api.Memory) error {
	buf := make([]byte, 64<<10)
	for off := uint32(0); off < s.size; off += uint32(len(buf)) {
		n := min(uint32(len(buf)), s.size-off)
		if err := readSnapshotFile(s.fd, buf[:n], int64(off)); err != nil {
			return fmt.Errorf("runtime: snapshot: %w", err)
		}
		if !mem.Write(off, buf[:n]) {
			return fmt.Errorf("runtime: snapshot: write at %d failed", off)
		}
	}
	return nil
}

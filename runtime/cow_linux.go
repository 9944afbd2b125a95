//go:build linux

package runtime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// newSnapshotFile writes a snapshot's pages into an anonymous memory file
// (pages it does not write stay holes, reading as zero), so instances can
// map it copy-on-write instead of copying it.
func newSnapshotFile(size uint32, chunks []chunk) (int, error) {
	fd, err := unix.MemfdCreate("wedge-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	for _, c := range chunks {
		if _, err := unix.Pwrite(fd, c.data, int64(c.off)); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// mapSnapshot maps the first size bytes of the snapshot file over buf,
// private and copy-on-write: the instance sees the snapshot, and pages
// it writes become its own.
func mapSnapshot(buf []byte, fd int, size int) error {
	_, err := unix.MmapPtr(fd, 0, unsafe.Pointer(&buf[0]), uintptr(size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err
}

func closeSnapshotFile(fd int) { unix.Close(fd) }

// readSnapshotFile reads len(b) bytes of the snapshot file at off.
func readSnapshotFile(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pread(fd, b, off)
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.EIO
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

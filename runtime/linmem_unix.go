//go:build unix

package runtime

import "syscall"

// reserve maps size bytes of zeroed, lazily committed memory for one
// instance's linear memory: the address never moves as the guest grows,
// and pages the guest never touches cost nothing.
func reserve(size uint64) ([]byte, error) {
	if size == 0 {
		size = 65536
	}
	return syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
}

func unreserve(b []byte) { _ = syscall.Munmap(b) }

//go:build unix

package upstream

import (
	"errors"
	"syscall"
)

// alive reports whether an idle connection is still open: nothing is
// buffered, and a non-blocking peek finds neither EOF nor an error, only
// "no data yet". It costs one system call.
func alive(cn *conn) bool {
	if cn.br.Buffered() > 0 {
		return false // an idle upstream sent bytes nobody asked for
	}
	sc, ok := cn.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = n <= 0 && errors.Is(rerr, syscall.EAGAIN)
		return true // never wait for readiness
	})
	return err == nil && open
}

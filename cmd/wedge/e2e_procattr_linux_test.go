package main

import (
	"os/exec"
	"syscall"
)

// orphanGuard has the kernel kill cmd if the test process dies first (a
// test binary killed by a timeout runs no cleanups).
func orphanGuard(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

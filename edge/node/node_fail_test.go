package node

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestNewFailureFreesListeners pins the review finding that a node whose
// second listener could not bind left the first one bound.
func TestNewFailureFreesListeners(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	cfg := &config.Config{DataDir: t.TempDir(), Listeners: []config.Listener{
		{Name: "a", Address: freeAddr},
		{Name: "b", Address: busy.Addr().String()},
	}}
	if _, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ""); err == nil {
		t.Fatal("New succeeded on a port in use")
	}
	again, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("listener a's port is still bound after New failed: %v", err)
	}
	again.Close()
}

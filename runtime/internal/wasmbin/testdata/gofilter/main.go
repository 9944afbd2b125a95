//go:build wasip1

// Command gofilter is a tiny standard-Go module for the wasmbin tests, built
// with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. _initialize sets
// its state up and each call changes it, so a test can tell an initialised
// instance, and a restored snapshot of one, from a fresh instance.
package main

var (
	calls int32
	kept  [][]byte
)

func init() { calls = 40 }

// bump returns the number of calls plus 40 plus the number of blocks kept;
// it allocates on the Go heap, so the runtime's allocator state must survive
// a snapshot too.
//
//go:wasmexport bump
func bump() int32 {
	calls++
	kept = append(kept, make([]byte, 1024))
	return calls + int32(len(kept))
}

func main() {}

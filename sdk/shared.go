package sdk

import "github.com/wedgeproxy/wedge/sdk/internal/abi"

// GetSharedData returns the value stored under key in the host's shared
// key-value store (shared by every instance of the plugin's module on the
// node), with its compare-and-swap token. A missing key returns an error
// matching ErrNotFound.
func GetSharedData(key string) (value []byte, cas uint32, err error) {
	b, cas, st := host().GetSharedData(key)
	if st != abi.StatusOK {
		return nil, 0, check("get shared data", st)
	}
	return b, cas, nil
}

// SetSharedData stores value under key. A zero cas stores unconditionally;
// otherwise the store happens only if cas is the token GetSharedData
// returned and nobody stored since, and fails with an error matching
// ErrCASMismatch if not.
func SetSharedData(key string, value []byte, cas uint32) error {
	return check("set shared data", host().SetSharedData(key, value, cas))
}

// Queue is a host shared queue.
type Queue uint32

// RegisterQueue opens the shared queue name of this plugin's VM, creating
// it if needed. The plugin that registers it receives its OnQueueReady
// callbacks (see QueueHandler).
func RegisterQueue(name string) (Queue, error) {
	id, st := host().RegisterSharedQueue(name)
	return Queue(id), check("register queue", st)
}

// ResolveQueue opens an existing shared queue of the VM vmID.
func ResolveQueue(vmID, name string) (Queue, error) {
	id, st := host().ResolveSharedQueue(vmID, name)
	return Queue(id), check("resolve queue", st)
}

// Enqueue adds item to the end of the queue.
func (q Queue) Enqueue(item []byte) error {
	return check("enqueue", host().EnqueueSharedQueue(uint32(q), item))
}

// Dequeue takes the item at the front of the queue; an empty queue returns
// an error matching ErrEmpty.
func (q Queue) Dequeue() ([]byte, error) {
	b, st := host().DequeueSharedQueue(uint32(q))
	if st != abi.StatusOK {
		return nil, check("dequeue", st)
	}
	return b, nil
}

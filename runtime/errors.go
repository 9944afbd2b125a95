package runtime

import (
	"errors"
	"fmt"
)

// FailureKind says why a filter failed.
type FailureKind int

const (
	// Trap: the guest trapped (unreachable, out-of-bounds access, a Go
	// panic) or exited.
	Trap FailureKind = iota + 1
	// Deadline: a guest call ran past the plugin's call deadline.
	Deadline
	// Memory: the guest tried to grow its memory past the plugin's limit.
	Memory
	// Unavailable: the plugin has no usable instance (it keeps crashing and
	// is backed off, or it is closed).
	Unavailable
	// Refused: on_vm_start or on_configure returned false, or a required
	// export is missing.
	Refused
	// BodyLimit: the body a pausing filter made the host buffer grew past
	// the plugin's limit.
	BodyLimit
	// Reset: the filter closed the stream (proxy_close_stream).
	Reset
)

func (k FailureKind) String() string {
	switch k {
	case Trap:
		return "trap"
	case Deadline:
		return "deadline exceeded"
	case Memory:
		return "memory limit"
	case Unavailable:
		return "unavailable"
	case Refused:
		return "refused"
	case BodyLimit:
		return "body limit"
	case Reset:
		return "stream reset"
	}
	return "unknown"
}

// FilterError is what a failed guest call returns. Kind says what the edge
// should make of it; Plugin names the filter for the response body and logs.
type FilterError struct {
	Plugin   string
	Kind     FailureKind
	Callback string
	Err      error
}

func (e *FilterError) Error() string {
	if e.Callback == "" {
		return fmt.Sprintf("runtime: filter %q: %s: %v", e.Plugin, e.Kind, e.Err)
	}
	return fmt.Sprintf("runtime: filter %q: %s in %s: %v", e.Plugin, e.Kind, e.Callback, e.Err)
}

func (e *FilterError) Unwrap() error { return e.Err }

// KindOf returns the FailureKind of err, or 0 when err is not a FilterError.
func KindOf(err error) FailureKind {
	var fe *FilterError
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return 0
}

var (
	errInstanceGone = errors.New("instance was discarded after an earlier failure")
	errClosed       = errors.New("plugin is closed")
)

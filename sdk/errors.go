package sdk

import (
	"errors"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Errors a host call can end with, one per Proxy-Wasm status; match them
// with errors.Is.
var (
	ErrNotFound             = errors.New("sdk: not found")
	ErrBadArgument          = errors.New("sdk: bad argument")
	ErrSerializationFailure = errors.New("sdk: serialization failure")
	ErrParseFailure         = errors.New("sdk: parse failure")
	ErrInvalidMemoryAccess  = errors.New("sdk: invalid memory access")
	ErrEmpty                = errors.New("sdk: empty")
	ErrCASMismatch          = errors.New("sdk: compare-and-swap mismatch")
	ErrInternalFailure      = errors.New("sdk: internal failure")
	ErrUnimplemented        = errors.New("sdk: unimplemented")
)

// ErrStreamDone is returned by Stream methods called after the stream was
// deleted (for example from an HTTP call callback that outlived it).
var ErrStreamDone = errors.New("sdk: stream is done")

// statusError is a failed host call: which one, and the status it returned.
type statusError struct {
	op     string
	status abi.Status
}

func (e *statusError) Error() string { return "sdk: " + e.op + ": " + e.status.String() }

// Is makes errors.Is(err, ErrNotFound) and the like work.
func (e *statusError) Is(target error) bool { return target == sentinel(e.status) }

func sentinel(s abi.Status) error {
	switch s {
	case abi.StatusNotFound:
		return ErrNotFound
	case abi.StatusBadArgument:
		return ErrBadArgument
	case abi.StatusSerializationFailure:
		return ErrSerializationFailure
	case abi.StatusParseFailure:
		return ErrParseFailure
	case abi.StatusInvalidMemoryAccess:
		return ErrInvalidMemoryAccess
	case abi.StatusEmpty:
		return ErrEmpty
	case abi.StatusCASMismatch:
		return ErrCASMismatch
	case abi.StatusInternalFailure:
		return ErrInternalFailure
	case abi.StatusUnimplemented:
		return ErrUnimplemented
	}
	return nil
}

// check turns a host status into nil or an error naming op.
func check(op string, s abi.Status) error {
	if s == abi.StatusOK {
		return nil
	}
	return &statusError{op: op, status: s}
}

// host returns the host to call, with a clear panic when there is none: the
// filter's logic is running natively outside sdktest.
func host() abi.Host {
	h := abi.Current
	if h == nil {
		panic("sdk: no Proxy-Wasm host: build for GOOS=wasip1 GOARCH=wasm, or run under package sdktest")
	}
	return h
}

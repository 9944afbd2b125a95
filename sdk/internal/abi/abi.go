// Package abi is the boundary between the SDK and a Proxy-Wasm 0.2.1 host.
//
// Host is the set of host functions the SDK calls, in Go types; it has two
// implementations: the wasip1 one (wasmimports, this package's *_wasip1.go
// files) and the fake host of package sdktest. Guest is the set of callbacks
// the host makes, implemented by package sdk and called either by the
// wasmexports (on wasip1) or by sdktest.
package abi

// Status is proxy_status_t.
type Status uint32

// proxy_status_t values.
const (
	StatusOK                   Status = 0
	StatusNotFound             Status = 1
	StatusBadArgument          Status = 2
	StatusSerializationFailure Status = 3
	StatusParseFailure         Status = 4
	StatusInvalidMemoryAccess  Status = 6
	StatusEmpty                Status = 7
	StatusCASMismatch          Status = 8
	StatusInternalFailure      Status = 10
	StatusUnimplemented        Status = 12
)

// String returns the spec's name of s.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusNotFound:
		return "NOT_FOUND"
	case StatusBadArgument:
		return "BAD_ARGUMENT"
	case StatusSerializationFailure:
		return "SERIALIZATION_FAILURE"
	case StatusParseFailure:
		return "PARSE_FAILURE"
	case StatusInvalidMemoryAccess:
		return "INVALID_MEMORY_ACCESS"
	case StatusEmpty:
		return "EMPTY"
	case StatusCASMismatch:
		return "CAS_MISMATCH"
	case StatusInternalFailure:
		return "INTERNAL_FAILURE"
	case StatusUnimplemented:
		return "UNIMPLEMENTED"
	}
	return "status " + itoa(uint64(s))
}

// MapType is proxy_map_type_t.
type MapType uint32

// proxy_map_type_t values.
const (
	MapRequestHeaders       MapType = 0
	MapRequestTrailers      MapType = 1
	MapResponseHeaders      MapType = 2
	MapResponseTrailers     MapType = 3
	MapHTTPCallResponseHdrs MapType = 6
	MapHTTPCallResponseTrls MapType = 7
)

// BufferType is proxy_buffer_type_t.
type BufferType uint32

// proxy_buffer_type_t values.
const (
	BufferRequestBody         BufferType = 0
	BufferResponseBody        BufferType = 1
	BufferHTTPCallResponse    BufferType = 4
	BufferVMConfiguration     BufferType = 6
	BufferPluginConfiguration BufferType = 7
)

// StreamType is proxy_stream_type_t.
type StreamType uint32

// proxy_stream_type_t values.
const (
	StreamRequest  StreamType = 0
	StreamResponse StreamType = 1
)

// MetricType is proxy_metric_type_t.
type MetricType uint32

// proxy_metric_type_t values.
const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

// Action is proxy_action_t.
type Action uint32

// proxy_action_t values.
const (
	ActionContinue Action = 0
	ActionPause    Action = 1
)

// Host is every host function the SDK uses. Byte slices returned are owned
// by the caller. Serialized maps use the spec's wire format (see pairs.go).
type Host interface {
	Log(level uint32, msg string) Status
	GetLogLevel() (uint32, Status)
	GetCurrentTimeNanoseconds() (uint64, Status)
	SetTickPeriodMilliseconds(ms uint32) Status

	// GetProperty and SetProperty take the path already NUL-joined.
	GetProperty(path []byte) ([]byte, Status)
	SetProperty(path, value []byte) Status

	GetHeaderMapPairs(m MapType) ([]byte, Status)
	SetHeaderMapPairs(m MapType, serialized []byte) Status
	GetHeaderMapValue(m MapType, key string) ([]byte, Status)
	AddHeaderMapValue(m MapType, key, value string) Status
	ReplaceHeaderMapValue(m MapType, key, value string) Status
	RemoveHeaderMapValue(m MapType, key string) Status
	GetHeaderMapSize(m MapType) (uint32, Status)

	GetBufferBytes(b BufferType, start, maxSize uint32) ([]byte, Status)
	GetBufferStatus(b BufferType) (uint32, Status)
	SetBufferBytes(b BufferType, start, size uint32, value []byte) Status

	ContinueStream(s StreamType) Status
	CloseStream(s StreamType) Status
	SendLocalResponse(statusCode uint32, details string, body, headers []byte, grpcStatus int32) Status

	HTTPCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, Status)

	GetSharedData(key string) ([]byte, uint32, Status)
	SetSharedData(key string, value []byte, cas uint32) Status

	RegisterSharedQueue(name string) (uint32, Status)
	ResolveSharedQueue(vmID, name string) (uint32, Status)
	EnqueueSharedQueue(id uint32, value []byte) Status
	DequeueSharedQueue(id uint32) ([]byte, Status)

	DefineMetric(t MetricType, name string) (uint32, Status)
	IncrementMetric(id uint32, delta int64) Status
	RecordMetric(id uint32, value uint64) Status
	GetMetric(id uint32) (uint64, Status)

	SetEffectiveContext(id uint32) Status
	Done() Status
}

// Guest is every callback the host makes (memory allocation aside, which
// only exists in wasm and lives in exports_wasip1.go).
type Guest interface {
	OnContextCreate(id, parent uint32)
	OnVMStart(rootID, size uint32) bool
	OnConfigure(rootID, size uint32) bool
	OnTick(rootID uint32)
	OnRequestHeaders(id, numHeaders uint32, endOfStream bool) Action
	OnRequestBody(id, bodySize uint32, endOfStream bool) Action
	OnRequestTrailers(id, numTrailers uint32) Action
	OnResponseHeaders(id, numHeaders uint32, endOfStream bool) Action
	OnResponseBody(id, bodySize uint32, endOfStream bool) Action
	OnResponseTrailers(id, numTrailers uint32) Action
	OnDone(id uint32) bool
	OnLog(id uint32)
	OnDelete(id uint32)
	OnHTTPCallResponse(id, callID, numHeaders, bodySize, numTrailers uint32)
	OnQueueReady(rootID, queueID uint32)
	// Reset forgets every context, plugin and pending call (sdktest only).
	Reset()
}

// Current is the host the SDK calls: the wasm imports on wasip1, nil
// elsewhere until sdktest installs its fake host.
var Current Host

// Callbacks is the SDK's Guest, set by package sdk at init.
var Callbacks Guest

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

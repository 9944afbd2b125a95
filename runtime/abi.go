package runtime

// Proxy-Wasm ABI 0.2.1 numeric constants (spec: proxy-wasm/spec,
// abi-versions/v0.2.1). They are unexported: the Go API speaks in its own
// types, the guest in these numbers.

// status is proxy_status_t.
type status = uint32

const (
	statusOK                  status = 0
	statusNotFound            status = 1
	statusBadArgument         status = 2
	statusSerializationFailed status = 3
	statusParseFailure        status = 4
	statusInvalidMemoryAccess status = 6
	statusEmpty               status = 7
	statusCASMismatch         status = 8
	statusInternalFailure     status = 10
	statusUnimplemented       status = 12
)

// Map types (proxy_map_type_t).
const (
	mapRequestHeaders       = 0
	mapRequestTrailers      = 1
	mapResponseHeaders      = 2
	mapResponseTrailers     = 3
	mapGRPCInitialMetadata  = 4
	mapGRPCTrailingMetadata = 5
	mapHTTPCallHeaders      = 6
	mapHTTPCallTrailers     = 7
)

// Buffer types (proxy_buffer_type_t).
const (
	bufRequestBody      = 0
	bufResponseBody     = 1
	bufDownstreamData   = 2
	bufUpstreamData     = 3
	bufHTTPCallBody     = 4
	bufGRPCMessage      = 5
	bufVMConfig         = 6
	bufPluginConfig     = 7
	bufForeignArguments = 8
)

// Stream types (proxy_stream_type_t).
const (
	streamRequest    = 0
	streamResponse   = 1
	streamDownstream = 2
	streamUpstream   = 3
)

// Actions (proxy_action_t).
const (
	actionContinue = 0
	actionPause    = 1
)

// ABI markers a module may export; the first found wins.
var abiMarkers = []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"}

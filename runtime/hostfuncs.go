package runtime

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// hostFunc is one Proxy-Wasm host function: its signature and its
// implementation. Implementations read every pointer and length
// defensively: an out-of-range one returns INVALID_MEMORY_ACCESS.
type hostFunc struct {
	sig sig
	fn  api.GoModuleFunc
}

// hostFuncs are the env functions implemented for real. Any other env
// import links to a stub returning UNIMPLEMENTED.
var hostFuncs map[string]hostFunc

func init() {
	i32 := api.ValueTypeI32
	i64 := api.ValueTypeI64
	def := func(n int, fn func(*instance, api.Memory, []uint64) status) hostFunc {
		return hostFunc{sig: sig{i32s(n), i32s(1)}, fn: wrap(fn)}
	}
	hostFuncs = map[string]hostFunc{
		"proxy_log":                          def(3, hLog),
		"proxy_get_log_level":                def(1, hGetLogLevel),
		"proxy_get_current_time_nanoseconds": def(1, hCurrentTime),
		"proxy_set_tick_period_milliseconds": def(1, hSetTick),
		"proxy_get_property":                 def(4, hGetProperty),
		"proxy_set_property":                 def(4, hSetProperty),
		"proxy_get_header_map_pairs":         def(3, hGetMapPairs),
		"proxy_set_header_map_pairs":         def(3, hSetMapPairs),
		"proxy_get_header_map_value":         def(5, hGetMapValue),
		"proxy_add_header_map_value":         def(5, hAddMapValue),
		"proxy_replace_header_map_value":     def(5, hReplaceMapValue),
		"proxy_remove_header_map_value":      def(3, hRemoveMapValue),
		"proxy_get_header_map_size":          def(2, hGetMapSize),
		"proxy_get_buffer_bytes":             def(5, hGetBuffer),
		"proxy_get_buffer_status":            def(3, hGetBufferStatus),
		"proxy_set_buffer_bytes":             def(5, hSetBuffer),
		"proxy_continue_stream":              def(1, hContinueStream),
		"proxy_close_stream":                 def(1, hCloseStream),
		"proxy_continue_request":             def(0, func(in *instance, m api.Memory, _ []uint64) status { return in.continueStream(streamRequest) }),
		"proxy_continue_response":            def(0, func(in *instance, m api.Memory, _ []uint64) status { return in.continueStream(streamResponse) }),
		"proxy_get_configuration":            def(2, hGetConfiguration),
		"proxy_send_local_response":          def(8, hSendLocalResponse),
		"proxy_http_call":                    def(10, hHTTPCall),
		"proxy_get_status":                   def(3, hGetStatus),
		"proxy_set_shared_data":              def(5, hSetSharedData),
		"proxy_get_shared_data":              def(5, hGetSharedData),
		"proxy_register_shared_queue":        def(3, hRegisterQueue),
		"proxy_resolve_shared_queue":         def(5, hResolveQueue),
		"proxy_enqueue_shared_queue":         def(3, hEnqueue),
		"proxy_dequeue_shared_queue":         def(3, hDequeue),
		"proxy_define_metric":                def(4, hDefineMetric),
		"proxy_get_metric":                   def(2, hGetMetric),
		"proxy_set_effective_context":        def(1, hSetEffectiveContext),
		"proxy_done":                         def(0, hDone),
	}
	// The metric setters take an i64 value.
	hostFuncs["proxy_increment_metric"] = hostFunc{sig: sig{[]api.ValueType{i32, i64}, i32s(1)}, fn: wrap(hIncrementMetric)}
	hostFuncs["proxy_record_metric"] = hostFunc{sig: sig{[]api.ValueType{i32, i64}, i32s(1)}, fn: wrap(hRecordMetric)}
}

// wrap adapts a host function body to wazero's stack convention.
func wrap(fn func(*instance, api.Memory, []uint64) status) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		in := instOf(ctx)
		if in == nil || in.dead.Load() {
			stack[0] = uint64(statusInternalFailure)
			return
		}
		defer func() {
			// A panic here is a bug of the host, not of the filter: say
			// so loudly, and give the guest INTERNAL_FAILURE rather than
			// a trap that would pass for a crash of the filter.
			if r := recover(); r != nil {
				in.p.log.Error("runtime: host function panicked (a Wedge bug)", "panic", r, "stack", string(debug.Stack()))
				stack[0] = uint64(statusInternalFailure)
			}
		}()
		stack[0] = uint64(fn(in, mod.Memory(), stack))
	}
}

// Bounds on what a guest may make the host keep through metrics and
// properties.
const (
	maxMetricName    = 256
	maxPropertyPath  = 1024
	maxPropertyValue = 64 << 10
	maxPropertyBytes = 256 << 10 // per stream
)

func a32(stack []uint64, i int) uint32 { return uint32(stack[i]) }

// --- logging, time, timers ---

func hLog(in *instance, mem api.Memory, st []uint64) status {
	level := a32(st, 0)
	if level > 5 {
		return statusBadArgument
	}
	msg, ok := guestString(mem, a32(st, 1), a32(st, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	in.p.guestLine(int(level), msg, in.contextID())
	return statusOK
}

func hGetLogLevel(in *instance, mem api.Memory, st []uint64) status {
	lvl := uint32(4)
	ctx := context.Background()
	switch {
	case in.p.log.Enabled(ctx, slog.LevelDebug):
		lvl = 1
	case in.p.log.Enabled(ctx, slog.LevelInfo):
		lvl = 2
	case in.p.log.Enabled(ctx, slog.LevelWarn):
		lvl = 3
	}
	if !putU32(mem, a32(st, 0), lvl) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func hCurrentTime(in *instance, mem api.Memory, st []uint64) status {
	if !putU64(mem, a32(st, 0), uint64(time.Now().UnixNano())) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func hSetTick(in *instance, mem api.Memory, st []uint64) status {
	in.setTick(time.Duration(a32(st, 0)) * time.Millisecond)
	return statusOK
}

// --- properties ---

func hGetProperty(in *instance, mem api.Memory, st []uint64) status {
	path, ok := guestBytes(mem, a32(st, 0), a32(st, 1))
	if !ok || !writableU32(mem, a32(st, 2)) || !writableU32(mem, a32(st, 3)) {
		return statusInvalidMemoryAccess
	}
	v, found := in.property(string(path))
	if !found {
		return statusNotFound
	}
	return in.returnBytes(mem, v, a32(st, 2), a32(st, 3))
}

func hSetProperty(in *instance, mem api.Memory, st []uint64) status {
	path, ok := guestString(mem, a32(st, 0), a32(st, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	val, ok := guestBytes(mem, a32(st, 2), a32(st, 3))
	if !ok {
		return statusInvalidMemoryAccess
	}
	s := in.cur
	if s == nil {
		return statusNotFound
	}
	if len(path) > maxPropertyPath || len(val) > maxPropertyValue {
		return statusBadArgument
	}
	if s.props == nil {
		s.props = make(map[string][]byte)
	}
	old, had := s.props[path]
	grow := len(val) - len(old)
	if !had {
		grow += len(path)
	}
	if len(s.props) >= 256 && !had || s.propBytes+grow > maxPropertyBytes {
		return statusInternalFailure
	}
	s.propBytes += grow
	s.props[path] = append([]byte(nil), val...)
	return statusOK
}

// property answers proxy_get_property in the effective context.
func (in *instance) property(path string) ([]byte, bool) {
	switch path {
	case "plugin_name", "plugin_root_id":
		return []byte(in.p.name), true
	case "plugin_vm_id":
		return []byte(in.p.cfg.Namespace), true
	}
	if s := in.cur; s != nil {
		return s.property(path)
	}
	return nil, false
}

// --- header maps ---

// headerMap resolves a map type in the effective context, with what the
// host knows of its size (for Limits.HeaderBytes and HeaderPairs).
func (in *instance) headerMap(t uint32) (HeaderMap, *mapUse, status) {
	switch t {
	case mapRequestHeaders, mapRequestTrailers, mapResponseHeaders, mapResponseTrailers:
		s := in.cur
		if s == nil || s.host == nil {
			return nil, nil, statusNotFound
		}
		m := s.host.HeaderMap(HeaderKind(t))
		if m == nil {
			return nil, nil, statusNotFound
		}
		return m, &s.maps[t], statusOK
	case mapHTTPCallHeaders, mapHTTPCallTrailers:
		r := in.callResp
		if r == nil {
			return nil, nil, statusNotFound
		}
		if t == mapHTTPCallHeaders {
			return &r.Headers, &in.callMaps[0], statusOK
		}
		return &r.Trailers, &in.callMaps[1], statusOK
	case mapGRPCInitialMetadata, mapGRPCTrailingMetadata:
		return nil, nil, statusNotFound
	}
	return nil, nil, statusBadArgument
}

func hGetMapPairs(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 1)) || !writableU32(mem, a32(st, 2)) {
		return statusInvalidMemoryAccess
	}
	m, _, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	_, count := serializedSize(m)
	in.scratch = serializeMap(in.scratch[:0], m, count)
	s = in.returnBytes(mem, in.scratch, a32(st, 1), a32(st, 2))
	in.trimScratch()
	return s
}

// hSetMapPairs replaces every pair of a map but its pseudo-headers with
// the guest's, and sets the pseudo-headers the guest gives. A map that
// would end past the plugin's header limits (and larger than it is) is
// refused whole, with BAD_ARGUMENT, before anything is copied.
func hSetMapPairs(in *instance, mem api.Memory, st []uint64) status {
	data, ok := guestBytes(mem, a32(st, 1), a32(st, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	m, u, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	n, nb, ok := mapStats(data)
	if !ok {
		return statusBadArgument
	}
	// What the map holds now, the names set_pairs deletes, and the
	// pseudo-headers it keeps unless the guest sets them.
	cur, curPairs := 0, 0
	var keys []string
	var pseudo Pairs
	m.Range(func(k, v string) bool {
		cur += len(k) + len(v)
		curPairs++
		if k != "" && k[0] == ':' {
			pseudo = append(pseudo, [2]string{k, v})
		} else {
			keys = append(keys, k)
		}
		return true
	})
	lim := &in.p.limits
	// The map ends with at least the guest's pairs.
	if !withinLimits(cur, curPairs, nb, n, lim.HeaderBytes, lim.HeaderPairs) {
		return statusBadArgument
	}
	pairs := make(Pairs, 0, n)
	bad := false
	if err := parseMap(data, func(k, v string) {
		bad = bad || !validHeader(k, v)
		pairs = append(pairs, [2]string{k, v})
	}); err != nil || bad {
		return statusBadArgument
	}
	after, afterPairs := nb, n
	for _, kv := range pseudo {
		if !setsPseudo(pairs, kv[0]) {
			after += len(kv[0]) + len(kv[1])
			afterPairs++
		}
	}
	if !withinLimits(cur, curPairs, after, afterPairs, lim.HeaderBytes, lim.HeaderPairs) {
		return statusBadArgument
	}
	for _, k := range keys {
		m.Del(k)
	}
	for _, kv := range pairs {
		if kv[0] != "" && kv[0][0] == ':' {
			m.Set(kv[0], kv[1])
		} else {
			m.Add(kv[0], kv[1])
		}
	}
	*u = mapUse{gen: in.gen, bytes: after, pairs: afterPairs}
	return statusOK
}

// setsPseudo reports whether pairs set the pseudo-header key.
func setsPseudo(pairs Pairs, key string) bool {
	for _, kv := range pairs {
		if kv[0] != "" && kv[0][0] == ':' && strings.EqualFold(kv[0], key) {
			return true
		}
	}
	return false
}

func hGetMapValue(in *instance, mem api.Memory, st []uint64) status {
	key, ok := guestBytes(mem, a32(st, 1), a32(st, 2))
	if !ok || !writableU32(mem, a32(st, 3)) || !writableU32(mem, a32(st, 4)) {
		return statusInvalidMemoryAccess
	}
	m, _, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	v, found := m.Get(string(key))
	if !found {
		return statusNotFound
	}
	in.scratch = append(in.scratch[:0], v...)
	s = in.returnBytes(mem, in.scratch, a32(st, 3), a32(st, 4))
	in.trimScratch()
	return s
}

// putMapValue is proxy_add_header_map_value (add) and
// proxy_replace_header_map_value (set). A change that would take the map
// past the plugin's header limits returns BAD_ARGUMENT and stores
// nothing.
func putMapValue(in *instance, mem api.Memory, st []uint64, add bool) status {
	kb, ok1 := guestBytes(mem, a32(st, 1), a32(st, 2))
	vb, ok2 := guestBytes(mem, a32(st, 3), a32(st, 4))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	m, u, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	// An add larger than the limit by itself can never fit. (Nothing of
	// the guest's is copied until the change is allowed.)
	if add && len(kb)+len(vb) > in.p.limits.HeaderBytes {
		return statusBadArgument
	}
	// The limits first: a value past them is refused without reading it.
	// (Were it then malformed, the bound would only be high.)
	k := string(kb)
	if !in.mayPut(m, u, k, len(vb), !add) || !validHeader(kb, vb) {
		return statusBadArgument
	}
	v := string(vb)
	if add {
		m.Add(k, v)
	} else {
		m.Set(k, v)
	}
	return statusOK
}

func hAddMapValue(in *instance, mem api.Memory, st []uint64) status {
	return putMapValue(in, mem, st, true)
}

func hReplaceMapValue(in *instance, mem api.Memory, st []uint64) status {
	return putMapValue(in, mem, st, false)
}

func hRemoveMapValue(in *instance, mem api.Memory, st []uint64) status {
	k, ok := guestString(mem, a32(st, 1), a32(st, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	// A remove only shrinks the map: what the host knows of its size
	// stays an upper bound.
	m, _, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	m.Del(k)
	return statusOK
}

func hGetMapSize(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 1)) {
		return statusInvalidMemoryAccess
	}
	m, _, s := in.headerMap(a32(st, 0))
	if s != statusOK {
		return s
	}
	n, _ := serializedSize(m)
	putU32(mem, a32(st, 1), uint32(n))
	return statusOK
}

// validHeader refuses what would corrupt a message: an empty name, or
// CR, LF or NUL anywhere. It takes a guest's bytes before they are
// copied, or strings.
func validHeader[T string | []byte](k, v T) bool {
	if len(k) == 0 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c == '\r' || c == '\n' || c == 0 || c == ' ' || c == ':' && i > 0 {
			return false
		}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// --- buffers ---

// buffer resolves a buffer type in the effective context; writable says
// whether the filter may change it.
func (in *instance) buffer(t uint32) (b *[]byte, writable bool, st status) {
	switch t {
	case bufRequestBody, bufResponseBody:
		s := in.cur
		if s == nil {
			return nil, false, statusNotFound
		}
		if s.flushed[t] {
			s.body[t] = s.body[t][:0]
			s.flushed[t] = false
		}
		return &s.body[t], true, statusOK
	case bufHTTPCallBody:
		if in.callResp == nil {
			return nil, false, statusNotFound
		}
		return &in.callResp.Body, false, statusOK
	case bufVMConfig:
		return &in.p.cfg.VMConfig, false, statusOK
	case bufPluginConfig:
		return &in.p.cfg.Config, false, statusOK
	case bufDownstreamData, bufUpstreamData, bufGRPCMessage, bufForeignArguments:
		return nil, false, statusNotFound
	}
	return nil, false, statusBadArgument
}

func hGetBuffer(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 3)) || !writableU32(mem, a32(st, 4)) {
		return statusInvalidMemoryAccess
	}
	b, _, s := in.buffer(a32(st, 0))
	if s != statusOK {
		return s
	}
	start, max := uint64(a32(st, 1)), uint64(a32(st, 2))
	if start > uint64(len(*b)) {
		return statusBadArgument
	}
	end := min(start+max, uint64(len(*b)))
	return in.returnBytes(mem, (*b)[start:end], a32(st, 3), a32(st, 4))
}

func hGetBufferStatus(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 1)) || !writableU32(mem, a32(st, 2)) {
		return statusInvalidMemoryAccess
	}
	b, _, s := in.buffer(a32(st, 0))
	if s != statusOK {
		return s
	}
	putU32(mem, a32(st, 1), uint32(len(*b)))
	putU32(mem, a32(st, 2), 0)
	return statusOK
}

func hSetBuffer(in *instance, mem api.Memory, st []uint64) status {
	data, ok := guestBytes(mem, a32(st, 3), a32(st, 4))
	if !ok {
		return statusInvalidMemoryAccess
	}
	b, writable, s := in.buffer(a32(st, 0))
	if s != statusOK {
		return s
	}
	if !writable {
		return statusBadArgument
	}
	cur := *b
	start := min(uint64(a32(st, 1)), uint64(len(cur)))
	end := min(start+uint64(a32(st, 2)), uint64(len(cur)))
	n := uint64(len(cur)) - (end - start) + uint64(len(data))
	if n > uint64(in.p.limits.BodyBytes) {
		if t := a32(st, 0); t == bufRequestBody || t == bufResponseBody {
			// Not applied, and not forgotten: the body cannot be what
			// the filter wants, so the stream fails with BodyLimit once
			// the callback returns.
			in.cur.overLimit[t] = true
		}
		return statusBadArgument
	}
	out := make([]byte, 0, n)
	out = append(out, cur[:start]...)
	out = append(out, data...)
	out = append(out, cur[end:]...)
	*b = out
	return statusOK
}

func hGetConfiguration(in *instance, mem api.Memory, st []uint64) status {
	return in.returnBytes(mem, in.p.cfg.Config, a32(st, 0), a32(st, 1))
}

// --- stream control ---

func (in *instance) continueStream(t uint32) status {
	switch t {
	case streamRequest, streamResponse:
	case streamDownstream, streamUpstream:
		return statusUnimplemented
	default:
		return statusBadArgument
	}
	s := in.cur
	if s == nil {
		return statusNotFound
	}
	s.continued[t] = true
	s.wake()
	return statusOK
}

func hContinueStream(in *instance, mem api.Memory, st []uint64) status {
	return in.continueStream(a32(st, 0))
}

func hCloseStream(in *instance, mem api.Memory, st []uint64) status {
	t := a32(st, 0)
	if t > streamUpstream {
		return statusBadArgument
	}
	s := in.cur
	if s == nil {
		return statusNotFound
	}
	s.reset = true
	s.wake()
	return statusOK
}

func hSendLocalResponse(in *instance, mem api.Memory, st []uint64) status {
	code := a32(st, 0)
	details, ok1 := guestString(mem, a32(st, 1), a32(st, 2))
	body, ok2 := guestBytes(mem, a32(st, 3), a32(st, 4))
	hdrs, ok3 := guestBytes(mem, a32(st, 5), a32(st, 6))
	if !ok1 || !ok2 || !ok3 {
		return statusInvalidMemoryAccess
	}
	if code < 200 || code > 599 {
		return statusBadArgument
	}
	s := in.cur
	if s == nil {
		return statusNotFound
	}
	if n, nb, ok := mapStats(hdrs); !ok || !in.mapFits(n, nb) {
		return statusBadArgument
	}
	lr := &LocalResponse{Status: int(code), Details: details, Body: append([]byte(nil), body...)}
	bad := false
	if err := parseMap(hdrs, func(k, v string) {
		if !validHeader(k, v) {
			bad = true
		}
		lr.Headers = append(lr.Headers, [2]string{k, v})
	}); err != nil || bad {
		return statusBadArgument
	}
	s.local = lr
	s.wake()
	return statusOK
}

func hSetEffectiveContext(in *instance, mem api.Memory, st []uint64) status {
	id := a32(st, 0)
	if id == in.rootID {
		in.setEffective(nil)
		return statusOK
	}
	s, ok := in.streams[id]
	if !ok {
		return statusBadArgument
	}
	in.setEffective(s)
	return statusOK
}

func hDone(in *instance, mem api.Memory, st []uint64) status {
	// Streams are finalised when the edge closes them, whatever
	// proxy_on_done returned, so no context is ever pending finalisation.
	return statusNotFound
}

// contextID is the effective context's id, for logs.
func (in *instance) contextID() uint32 {
	if in.cur != nil {
		return in.cur.id
	}
	return in.rootID
}

// --- metrics ---

func hDefineMetric(in *instance, mem api.Memory, st []uint64) status {
	name, ok := guestString(mem, a32(st, 1), a32(st, 2))
	if !ok || !writableU32(mem, a32(st, 3)) {
		return statusInvalidMemoryAccess
	}
	if len(name) == 0 || len(name) > maxMetricName {
		return statusBadArgument
	}
	id, s := in.p.metrics.define(MetricType(a32(st, 0)), name)
	if s != statusOK {
		return s
	}
	putU32(mem, a32(st, 3), id)
	return statusOK
}

func hIncrementMetric(in *instance, mem api.Memory, st []uint64) status {
	return in.p.metrics.increment(a32(st, 0), int64(st[1]))
}

func hRecordMetric(in *instance, mem api.Memory, st []uint64) status {
	return in.p.metrics.record(a32(st, 0), st[1])
}

func hGetMetric(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 1)) || !putU64(mem, a32(st, 1), 0) {
		return statusInvalidMemoryAccess
	}
	v, s := in.p.metrics.get(a32(st, 0))
	if s != statusOK {
		return s
	}
	putU64(mem, a32(st, 1), v)
	return statusOK
}

// --- HTTP call status ---

func hGetStatus(in *instance, mem api.Memory, st []uint64) status {
	if !writableU32(mem, a32(st, 0)) || !writableU32(mem, a32(st, 1)) || !writableU32(mem, a32(st, 2)) {
		return statusInvalidMemoryAccess
	}
	r := in.callResp
	if r == nil {
		return statusNotFound
	}
	code := uint32(0)
	if v, ok := r.Headers.Get(":status"); ok {
		n, _ := strconv.Atoi(v)
		code = uint32(n)
	}
	putU32(mem, a32(st, 0), code)
	return in.returnBytes(mem, []byte(r.errMsg), a32(st, 1), a32(st, 2))
}

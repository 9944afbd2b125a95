//go:build wasip1

package abi

import "unsafe"

// The host functions, as Proxy-Wasm 0.2.1 names them. A string parameter
// is passed as (pointer, length); return slots point at package variables
// (ret*), never at stack slots, so they stay put while the host runs.

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg string) Status

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(retLevel *uint32) Status

//go:wasmimport env proxy_get_current_time_nanoseconds
func proxyGetCurrentTimeNanoseconds(retTime *uint64) Status

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) Status

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, pathSize uint32, retData, retSize *uint32) Status

//go:wasmimport env proxy_set_property
func proxySetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) Status

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType MapType, retData, retSize *uint32) Status

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mapType MapType, data unsafe.Pointer, size uint32) Status

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType MapType, key string, retData, retSize *uint32) Status

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType MapType, key string, value string) Status

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType MapType, key string, value string) Status

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType MapType, key string) Status

//go:wasmimport env proxy_get_header_map_size
func proxyGetHeaderMapSize(mapType MapType, retSize *uint32) Status

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType BufferType, start, maxSize uint32, retData, retSize *uint32) Status

//go:wasmimport env proxy_get_buffer_status
func proxyGetBufferStatus(bufferType BufferType, retSize, retFlags *uint32) Status

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufferType BufferType, start, size uint32, value unsafe.Pointer, valueSize uint32) Status

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType StreamType) Status

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType StreamType) Status

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, details string, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) Status

//go:wasmimport env proxy_http_call
func proxyHTTPCall(upstream string, headers unsafe.Pointer, headersSize uint32, body unsafe.Pointer, bodySize uint32, trailers unsafe.Pointer, trailersSize uint32, timeout uint32, retCallID *uint32) Status

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key string, retData, retSize, retCAS *uint32) Status

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key string, value unsafe.Pointer, valueSize uint32, cas uint32) Status

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name string, retID *uint32) Status

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID string, name string, retID *uint32) Status

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(id uint32, value unsafe.Pointer, valueSize uint32) Status

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(id uint32, retData, retSize *uint32) Status

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType MetricType, name string, retID *uint32) Status

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, delta int64) Status

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(id uint32, value uint64) Status

//go:wasmimport env proxy_get_metric
func proxyGetMetric(id uint32, retValue *uint64) Status

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(id uint32) Status

//go:wasmimport env proxy_done
func proxyDone() Status

// Return slots. The module runs one call at a time, and the host can only
// re-enter through proxy_on_memory_allocate, which never calls the host.
var (
	retA, retB, retC uint32
	ret64            uint64
)

func init() { Current = wasmHost{} }

// wasmHost is Host over the wasm imports.
type wasmHost struct{}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// taken returns the buffer the host returned in retA/retB, or
// StatusInvalidMemoryAccess if the host returned memory it did not get
// from proxy_on_memory_allocate.
func taken(st Status) ([]byte, Status) {
	if st != StatusOK {
		forget()
		return nil, st
	}
	b, ok := take(retA, retB)
	if !ok {
		return nil, StatusInvalidMemoryAccess
	}
	return b, StatusOK
}

func (wasmHost) Log(level uint32, msg string) Status { return proxyLog(level, msg) }

func (wasmHost) GetLogLevel() (uint32, Status) {
	st := proxyGetLogLevel(&retA)
	return retA, st
}

func (wasmHost) GetCurrentTimeNanoseconds() (uint64, Status) {
	st := proxyGetCurrentTimeNanoseconds(&ret64)
	return ret64, st
}

func (wasmHost) SetTickPeriodMilliseconds(ms uint32) Status {
	return proxySetTickPeriodMilliseconds(ms)
}

func (wasmHost) GetProperty(path []byte) ([]byte, Status) {
	forget()
	return taken(proxyGetProperty(ptr(path), uint32(len(path)), &retA, &retB))
}

func (wasmHost) SetProperty(path, value []byte) Status {
	return proxySetProperty(ptr(path), uint32(len(path)), ptr(value), uint32(len(value)))
}

func (wasmHost) GetHeaderMapPairs(m MapType) ([]byte, Status) {
	forget()
	return taken(proxyGetHeaderMapPairs(m, &retA, &retB))
}

func (wasmHost) SetHeaderMapPairs(m MapType, serialized []byte) Status {
	return proxySetHeaderMapPairs(m, ptr(serialized), uint32(len(serialized)))
}

func (wasmHost) GetHeaderMapValue(m MapType, key string) ([]byte, Status) {
	forget()
	return taken(proxyGetHeaderMapValue(m, key, &retA, &retB))
}

func (wasmHost) AddHeaderMapValue(m MapType, key, value string) Status {
	return proxyAddHeaderMapValue(m, key, value)
}

func (wasmHost) ReplaceHeaderMapValue(m MapType, key, value string) Status {
	return proxyReplaceHeaderMapValue(m, key, value)
}

func (wasmHost) RemoveHeaderMapValue(m MapType, key string) Status {
	return proxyRemoveHeaderMapValue(m, key)
}

func (wasmHost) GetHeaderMapSize(m MapType) (uint32, Status) {
	st := proxyGetHeaderMapSize(m, &retA)
	return retA, st
}

func (wasmHost) GetBufferBytes(b BufferType, start, maxSize uint32) ([]byte, Status) {
	forget()
	return taken(proxyGetBufferBytes(b, start, maxSize, &retA, &retB))
}

func (wasmHost) GetBufferStatus(b BufferType) (uint32, Status) {
	st := proxyGetBufferStatus(b, &retA, &retB)
	return retA, st
}

func (wasmHost) SetBufferBytes(b BufferType, start, size uint32, value []byte) Status {
	return proxySetBufferBytes(b, start, size, ptr(value), uint32(len(value)))
}

func (wasmHost) ContinueStream(s StreamType) Status { return proxyContinueStream(s) }

func (wasmHost) CloseStream(s StreamType) Status { return proxyCloseStream(s) }

func (wasmHost) SendLocalResponse(statusCode uint32, details string, body, headers []byte, grpcStatus int32) Status {
	return proxySendLocalResponse(statusCode, details, ptr(body), uint32(len(body)), ptr(headers), uint32(len(headers)), grpcStatus)
}

func (wasmHost) HTTPCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, Status) {
	st := proxyHTTPCall(upstream, ptr(headers), uint32(len(headers)), ptr(body), uint32(len(body)), ptr(trailers), uint32(len(trailers)), timeoutMillis, &retA)
	return retA, st
}

func (wasmHost) GetSharedData(key string) ([]byte, uint32, Status) {
	forget()
	st := proxyGetSharedData(key, &retA, &retB, &retC)
	cas := retC
	b, st := taken(st)
	return b, cas, st
}

func (wasmHost) SetSharedData(key string, value []byte, cas uint32) Status {
	return proxySetSharedData(key, ptr(value), uint32(len(value)), cas)
}

func (wasmHost) RegisterSharedQueue(name string) (uint32, Status) {
	st := proxyRegisterSharedQueue(name, &retA)
	return retA, st
}

func (wasmHost) ResolveSharedQueue(vmID, name string) (uint32, Status) {
	st := proxyResolveSharedQueue(vmID, name, &retA)
	return retA, st
}

func (wasmHost) EnqueueSharedQueue(id uint32, value []byte) Status {
	return proxyEnqueueSharedQueue(id, ptr(value), uint32(len(value)))
}

func (wasmHost) DequeueSharedQueue(id uint32) ([]byte, Status) {
	forget()
	return taken(proxyDequeueSharedQueue(id, &retA, &retB))
}

func (wasmHost) DefineMetric(t MetricType, name string) (uint32, Status) {
	st := proxyDefineMetric(t, name, &retA)
	return retA, st
}

func (wasmHost) IncrementMetric(id uint32, delta int64) Status {
	return proxyIncrementMetric(id, delta)
}

func (wasmHost) RecordMetric(id uint32, value uint64) Status { return proxyRecordMetric(id, value) }

func (wasmHost) GetMetric(id uint32) (uint64, Status) {
	st := proxyGetMetric(id, &ret64)
	return ret64, st
}

func (wasmHost) SetEffectiveContext(id uint32) Status { return proxySetEffectiveContext(id) }

func (wasmHost) Done() Status { return proxyDone() }

package sdktest

import (
	"math"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// fake is the Host seen from the SDK: abi.Host.
type fake Host

var _ abi.Host = (*fake)(nil)

func joinPath(path []string) string { return strings.Join(path, "\x00") }

func (f *fake) stream() *Stream { return f.streams[f.current] }

func (f *fake) Log(level uint32, msg string) abi.Status {
	if level > uint32(sdk.LevelCritical) {
		return abi.StatusBadArgument
	}
	f.logs = append(f.logs, LogEntry{Level: sdk.LogLevel(level), Message: msg})
	f.t.Logf("filter log [%v] %s", sdk.LogLevel(level), msg)
	return abi.StatusOK
}

func (f *fake) GetLogLevel() (uint32, abi.Status) { return uint32(f.logLevel), abi.StatusOK }

func (f *fake) GetCurrentTimeNanoseconds() (uint64, abi.Status) {
	now := f.now
	if now.IsZero() {
		now = time.Now()
	}
	return uint64(now.UnixNano()), abi.StatusOK
}

func (f *fake) SetTickPeriodMilliseconds(ms uint32) abi.Status {
	p, ok := f.plugins[f.current]
	if !ok {
		return abi.StatusBadArgument // only plugin contexts have timers
	}
	p.tickPeriod = time.Duration(ms) * time.Millisecond
	return abi.StatusOK
}

func (f *fake) GetProperty(path []byte) ([]byte, abi.Status) {
	if s := f.stream(); s != nil {
		if v, ok := s.props[string(path)]; ok {
			return clone(v), abi.StatusOK
		}
	}
	if v, ok := f.props[string(path)]; ok {
		return clone(v), abi.StatusOK
	}
	return nil, abi.StatusNotFound
}

func (f *fake) SetProperty(path, value []byte) abi.Status {
	if s := f.stream(); s != nil {
		s.props[string(path)] = clone(value)
		return abi.StatusOK
	}
	f.props[string(path)] = clone(value)
	return abi.StatusOK
}

// headerMap returns the map m of the current context.
func (f *fake) headerMap(m abi.MapType) (*[]sdk.Header, abi.Status) {
	switch m {
	case abi.MapHTTPCallResponseHdrs, abi.MapHTTPCallResponseTrls:
		if f.callResp == nil {
			return nil, abi.StatusNotFound
		}
		if m == abi.MapHTTPCallResponseHdrs {
			return &f.callResp.Headers, abi.StatusOK
		}
		return &f.callResp.Trailers, abi.StatusOK
	}
	s := f.stream()
	if s == nil {
		return nil, abi.StatusNotFound
	}
	switch m {
	case abi.MapRequestHeaders:
		return &s.reqHeaders, abi.StatusOK
	case abi.MapRequestTrailers:
		return &s.reqTrailers, abi.StatusOK
	case abi.MapResponseHeaders:
		return &s.respHeaders, abi.StatusOK
	case abi.MapResponseTrailers:
		return &s.respTrailers, abi.StatusOK
	}
	return nil, abi.StatusBadArgument
}

func serialize(hs []sdk.Header) []byte {
	return abi.AppendPairs(nil, len(hs), func(i int) (string, string) { return hs[i].Name, hs[i].Value })
}

func deserialize(b []byte) ([]sdk.Header, bool) {
	var out []sdk.Header
	err := abi.ParsePairs(b, func(k, v string) {
		out = append(out, sdk.Header{Name: strings.ToLower(k), Value: strings.Clone(v)})
	})
	return out, err == nil
}

func (f *fake) GetHeaderMapPairs(m abi.MapType) ([]byte, abi.Status) {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return nil, st
	}
	return serialize(*hm), abi.StatusOK
}

func (f *fake) SetHeaderMapPairs(m abi.MapType, serialized []byte) abi.Status {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return st
	}
	hs, ok := deserialize(serialized)
	if !ok {
		return abi.StatusBadArgument
	}
	*hm = hs
	return abi.StatusOK
}

func (f *fake) GetHeaderMapValue(m abi.MapType, key string) ([]byte, abi.Status) {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return nil, st
	}
	key = strings.ToLower(key)
	for _, h := range *hm {
		if h.Name == key {
			return []byte(h.Value), abi.StatusOK
		}
	}
	return nil, abi.StatusNotFound
}

func (f *fake) AddHeaderMapValue(m abi.MapType, key, value string) abi.Status {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return st
	}
	*hm = append(*hm, sdk.Header{Name: strings.ToLower(key), Value: value})
	return abi.StatusOK
}

func (f *fake) ReplaceHeaderMapValue(m abi.MapType, key, value string) abi.Status {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return st
	}
	key = strings.ToLower(key)
	out := (*hm)[:0]
	found := false
	for _, h := range *hm {
		if h.Name == key {
			if found {
				continue
			}
			found = true
			h.Value = value
		}
		out = append(out, h)
	}
	if !found {
		out = append(out, sdk.Header{Name: key, Value: value})
	}
	*hm = out
	return abi.StatusOK
}

func (f *fake) RemoveHeaderMapValue(m abi.MapType, key string) abi.Status {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return st
	}
	key = strings.ToLower(key)
	out := (*hm)[:0]
	for _, h := range *hm {
		if h.Name != key {
			out = append(out, h)
		}
	}
	*hm = out
	return abi.StatusOK
}

func (f *fake) GetHeaderMapSize(m abi.MapType) (uint32, abi.Status) {
	hm, st := f.headerMap(m)
	if st != abi.StatusOK {
		return 0, st
	}
	return uint32(len(serialize(*hm))), abi.StatusOK
}

// buffer returns the buffer b of the current context.
func (f *fake) buffer(b abi.BufferType) (*[]byte, abi.Status) {
	switch b {
	case abi.BufferPluginConfiguration:
		if f.config == nil {
			return nil, abi.StatusNotFound
		}
		return &f.config, abi.StatusOK
	case abi.BufferHTTPCallResponse:
		if f.callResp == nil {
			return nil, abi.StatusNotFound
		}
		return &f.callResp.Body, abi.StatusOK
	case abi.BufferVMConfiguration:
		return nil, abi.StatusNotFound
	}
	s := f.stream()
	if s == nil {
		return nil, abi.StatusNotFound
	}
	switch b {
	case abi.BufferRequestBody:
		return &s.reqBuf, abi.StatusOK
	case abi.BufferResponseBody:
		return &s.respBuf, abi.StatusOK
	}
	return nil, abi.StatusBadArgument
}

func (f *fake) GetBufferBytes(b abi.BufferType, start, maxSize uint32) ([]byte, abi.Status) {
	buf, st := f.buffer(b)
	if st != abi.StatusOK {
		return nil, st
	}
	if uint64(start) > uint64(len(*buf)) {
		return nil, abi.StatusBadArgument
	}
	end := min(uint64(start)+uint64(maxSize), uint64(len(*buf)))
	return clone((*buf)[start:end]), abi.StatusOK
}

func (f *fake) GetBufferStatus(b abi.BufferType) (uint32, abi.Status) {
	buf, st := f.buffer(b)
	if st != abi.StatusOK {
		return 0, st
	}
	return uint32(len(*buf)), abi.StatusOK
}

func (f *fake) SetBufferBytes(b abi.BufferType, start, size uint32, value []byte) abi.Status {
	if b != abi.BufferRequestBody && b != abi.BufferResponseBody {
		return abi.StatusBadArgument
	}
	buf, st := f.buffer(b)
	if st != abi.StatusOK {
		return st
	}
	old := *buf
	s := min(uint64(start), uint64(len(old)))
	e := min(s+uint64(size), uint64(len(old)))
	out := make([]byte, 0, uint64(len(old))-(e-s)+uint64(len(value)))
	out = append(out, old[:s]...)
	out = append(out, value...)
	out = append(out, old[e:]...)
	*buf = out
	return abi.StatusOK
}

func (f *fake) ContinueStream(t abi.StreamType) abi.Status {
	s := f.stream()
	if s == nil {
		return abi.StatusBadArgument
	}
	switch t {
	case abi.StreamRequest:
		s.reqContinued++
		s.reqSent, s.reqBuf = append(s.reqSent, s.reqBuf...), nil
	case abi.StreamResponse:
		s.respContinued++
		s.respSent, s.respBuf = append(s.respSent, s.respBuf...), nil
	default:
		return abi.StatusBadArgument
	}
	return abi.StatusOK
}

func (f *fake) CloseStream(t abi.StreamType) abi.Status {
	s := f.stream()
	if s == nil {
		return abi.StatusBadArgument
	}
	switch t {
	case abi.StreamRequest:
		s.reqClosed = true
	case abi.StreamResponse:
		s.respClosed = true
	default:
		return abi.StatusBadArgument
	}
	return abi.StatusOK
}

func (f *fake) SendLocalResponse(statusCode uint32, details string, body, headers []byte, grpcStatus int32) abi.Status {
	s := f.stream()
	if s == nil {
		return abi.StatusBadArgument
	}
	hs, ok := deserialize(headers)
	if !ok {
		return abi.StatusBadArgument
	}
	s.local = &LocalResponse{StatusCode: int(statusCode), Details: details, Body: clone(body), Headers: hs, GRPCStatus: grpcStatus}
	s.localCount++
	return abi.StatusOK
}

func (f *fake) HTTPCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, abi.Status) {
	hs, ok := deserialize(headers)
	if !ok || upstream == "" {
		return 0, abi.StatusBadArgument
	}
	c := &HTTPCall{h: (*Host)(f), caller: f.current, Upstream: upstream, Headers: hs, Body: clone(body),
		Timeout: time.Duration(timeoutMillis) * time.Millisecond}
	for _, required := range []string{":method", ":path", ":authority"} {
		if _, ok := c.Header(required); !ok {
			return 0, abi.StatusBadArgument
		}
	}
	f.nextCallID++
	c.id = f.nextCallID
	f.calls = append(f.calls, c)
	return c.id, abi.StatusOK
}

func (f *fake) GetSharedData(key string) ([]byte, uint32, abi.Status) {
	v, ok := f.shared[key]
	if !ok {
		return nil, 0, abi.StatusNotFound
	}
	return clone(v.value), v.cas, abi.StatusOK
}

// SetSharedData follows Envoy: a non-zero cas must match an existing key's
// token; a missing key is created whatever cas is.
func (f *fake) SetSharedData(key string, value []byte, cas uint32) abi.Status {
	if v, ok := f.shared[key]; ok && cas != 0 && cas != v.cas {
		return abi.StatusCASMismatch
	}
	(*Host)(f).SetSharedData(key, value)
	return abi.StatusOK
}

func (f *fake) RegisterSharedQueue(name string) (uint32, abi.Status) {
	if _, ok := f.plugins[f.current]; !ok {
		return 0, abi.StatusBadArgument // queues belong to plugin contexts
	}
	id, ok := f.queueByName[name]
	if !ok {
		id = uint32(len(f.queueByName) + 1)
		f.queueByName[name] = id
		f.queues[id] = &queue{name: name}
	}
	f.queues[id].owner = f.current
	return id, abi.StatusOK
}

func (f *fake) ResolveSharedQueue(vmID, name string) (uint32, abi.Status) {
	id, ok := f.queueByName[name]
	if !ok {
		return 0, abi.StatusNotFound
	}
	return id, abi.StatusOK
}

func (f *fake) EnqueueSharedQueue(id uint32, value []byte) abi.Status {
	q, ok := f.queues[id]
	if !ok {
		return abi.StatusNotFound
	}
	q.items = append(q.items, clone(value))
	return abi.StatusOK
}

func (f *fake) DequeueSharedQueue(id uint32) ([]byte, abi.Status) {
	q, ok := f.queues[id]
	if !ok {
		return nil, abi.StatusNotFound
	}
	if len(q.items) == 0 {
		return nil, abi.StatusEmpty
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v, abi.StatusOK
}

func (f *fake) DefineMetric(t abi.MetricType, name string) (uint32, abi.Status) {
	if t > abi.MetricHistogram || name == "" {
		return 0, abi.StatusBadArgument
	}
	if id, ok := f.metricByName[name]; ok {
		if f.metrics[id].kind != t {
			return 0, abi.StatusBadArgument
		}
		return id, abi.StatusOK
	}
	id := uint32(len(f.metrics) + 1)
	f.metrics[id] = &metric{name: name, kind: t}
	f.metricByName[name] = id
	return id, abi.StatusOK
}

func (f *fake) IncrementMetric(id uint32, delta int64) abi.Status {
	m, ok := f.metrics[id]
	if !ok {
		return abi.StatusNotFound
	}
	if m.kind == abi.MetricHistogram || (m.kind == abi.MetricCounter && delta < 0) {
		return abi.StatusBadArgument
	}
	m.value += uint64(delta)
	return abi.StatusOK
}

func (f *fake) RecordMetric(id uint32, value uint64) abi.Status {
	m, ok := f.metrics[id]
	if !ok {
		return abi.StatusNotFound
	}
	if m.kind == abi.MetricCounter && value > math.MaxInt64 {
		return abi.StatusBadArgument
	}
	m.value = value
	return abi.StatusOK
}

func (f *fake) GetMetric(id uint32) (uint64, abi.Status) {
	m, ok := f.metrics[id]
	if !ok {
		return 0, abi.StatusNotFound
	}
	return m.value, abi.StatusOK
}

func (f *fake) SetEffectiveContext(id uint32) abi.Status {
	if _, ok := f.streams[id]; !ok {
		if _, ok := f.plugins[id]; !ok {
			return abi.StatusBadArgument
		}
	}
	f.current = id
	return abi.StatusOK
}

func (f *fake) Done() abi.Status { return abi.StatusNotFound }

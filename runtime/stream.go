package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
)

// HeaderKind names one of a stream's header maps.
type HeaderKind int

// The header maps of a stream.
const (
	RequestHeaders HeaderKind = iota
	RequestTrailers
	ResponseHeaders
	ResponseTrailers
)

// StreamHost is what the edge gives a stream: its header maps and the
// request's properties.
type StreamHost interface {
	// HeaderMap returns the map of kind, or nil when the stream has none
	// (yet): response headers before the upstream answered, trailers the
	// request did not carry.
	HeaderMap(kind HeaderKind) HeaderMap
	// Property answers proxy_get_property for one attribute path, such as
	// ["request", "path"] or ["source", "address"] (Envoy's names).
	Property(path []string) ([]byte, bool)
}

// Result is what a stream callback tells the edge to do.
type Result int

const (
	// Continue: carry on with the (possibly modified) request or response.
	Continue Result = iota
	// Paused: the filter wants more of the body before it decides; feed
	// the next chunk (the host buffers what it has).
	Paused
	// Respond: the filter sent a local response; serve LocalResponse()
	// instead of going on.
	Respond
)

// LocalResponse is a response a filter asked the host to send.
type LocalResponse struct {
	Status  int
	Details string
	Body    []byte
	Headers Pairs
}

// Stream is one HTTP request/response through one plugin, pinned to one
// instance from creation to Close. Its methods are called by one goroutine
// in order; they are not safe for concurrent use.
type Stream struct {
	p    *Plugin
	in   *instance
	id   uint32
	host StreamHost

	// Guarded by in.mu: the guest changes them through host functions.
	body      [2][]byte // request, response body buffered for the filter
	flushed   [2]bool   // the edge took body[i]; start afresh on next chunk
	overLimit [2]bool   // an edit of body[i] would have passed BodyBytes
	local     *LocalResponse
	continued [2]bool
	reset     bool
	calls     int
	props     map[string][]byte
	propBytes int
	maps      [4]mapUse // by HeaderKind

	pending atomic.Int32 // outstanding proxy_http_call
	resume  chan struct{}
	failed  bool
}

var streamPool = sync.Pool{New: func() any { return &Stream{resume: make(chan struct{}, 1)} }}

// NewStream starts a stream context on one of the plugin's instances.
// The caller must Close it.
func (p *Plugin) NewStream(ctx context.Context, host StreamHost) (*Stream, error) {
	in, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	s := streamPool.Get().(*Stream)
	s.p, s.in, s.host = p, in, host
	in.mu.Lock()
	in.entering.Add(-1)
	s.id = in.nextID
	in.nextID++
	if in.nextID == 0 {
		in.nextID = 2
	}
	in.streams[s.id] = s
	if fn := in.fns.contextCreate; fn != nil {
		in.setEffective(s)
		in.stack[0], in.stack[1] = uint64(s.id), uint64(in.rootID)
		_, err = in.call("proxy_on_context_create", fn, 2)
	}
	in.mu.Unlock()
	if err != nil {
		s.failed = true
		s.Close()
		return nil, err
	}
	return s, nil
}

// wake tells a waiting stream to look at its state again.
func (s *Stream) wake() {
	select {
	case s.resume <- struct{}{}:
	default:
	}
}

// LocalResponse returns the response the filter sent, after a Respond.
func (s *Stream) LocalResponse() *LocalResponse { return s.local }

// RequestHeaders runs proxy_on_request_headers. endOfStream says the
// request has no body.
func (s *Stream) RequestHeaders(ctx context.Context, endOfStream bool) (Result, error) {
	return s.headers(ctx, "proxy_on_request_headers", s.in.fns.reqHeaders, RequestHeaders, streamRequest, endOfStream)
}

// ResponseHeaders runs proxy_on_response_headers.
func (s *Stream) ResponseHeaders(ctx context.Context, endOfStream bool) (Result, error) {
	return s.headers(ctx, "proxy_on_response_headers", s.in.fns.respHeaders, ResponseHeaders, streamResponse, endOfStream)
}

// RequestTrailers runs proxy_on_request_trailers.
func (s *Stream) RequestTrailers(ctx context.Context) (Result, error) {
	return s.headers(ctx, "proxy_on_request_trailers", s.in.fns.reqTrailers, RequestTrailers, streamRequest, true)
}

// ResponseTrailers runs proxy_on_response_trailers.
func (s *Stream) ResponseTrailers(ctx context.Context) (Result, error) {
	return s.headers(ctx, "proxy_on_response_trailers", s.in.fns.respTrailers, ResponseTrailers, streamResponse, true)
}

func (s *Stream) headers(ctx context.Context, name string, fn api.Function, kind HeaderKind, phase int, eos bool) (Result, error) {
	if fn == nil {
		return Continue, nil
	}
	n := 0
	if m := s.host.HeaderMap(kind); m != nil {
		if l, ok := m.(interface{ Len() int }); ok {
			n = l.Len()
		} else {
			m.Range(func(string, string) bool { n++; return true })
		}
	}
	params := 3
	if kind == RequestTrailers || kind == ResponseTrailers {
		params = 2
	}
	return s.run(ctx, name, fn, phase, eos, params, uint64(n), boolArg(eos))
}

// RequestBody hands the filter the next request body chunk. With Continue,
// out is what to forward (the chunk, or everything buffered since the
// filter paused, as the filter left it); it is valid until the next call.
// With Paused, forward nothing yet.
func (s *Stream) RequestBody(ctx context.Context, chunk []byte, endOfStream bool) (out []byte, r Result, err error) {
	return s.bodyChunk(ctx, "proxy_on_request_body", s.in.fns.reqBody, streamRequest, chunk, endOfStream)
}

// ResponseBody is RequestBody for the response.
func (s *Stream) ResponseBody(ctx context.Context, chunk []byte, endOfStream bool) (out []byte, r Result, err error) {
	return s.bodyChunk(ctx, "proxy_on_response_body", s.in.fns.respBody, streamResponse, chunk, endOfStream)
}

func (s *Stream) bodyChunk(ctx context.Context, name string, fn api.Function, phase int, chunk []byte, eos bool) ([]byte, Result, error) {
	if fn == nil {
		return chunk, Continue, nil
	}
	in := s.in
	in.mu.Lock()
	if s.flushed[phase] {
		s.body[phase] = s.body[phase][:0]
		s.flushed[phase] = false
	}
	// The limit bounds what the host holds for a filter that paused: a
	// chunk passed straight through is not held.
	if held := len(s.body[phase]); held > 0 && held+len(chunk) > s.p.limits.BodyBytes {
		in.mu.Unlock()
		return nil, 0, &FilterError{Plugin: s.p.name, Kind: BodyLimit, Callback: name,
			Err: fmt.Errorf("the filter paused on a body larger than its %d-byte buffer limit", s.p.limits.BodyBytes)}
	}
	s.body[phase] = append(s.body[phase], chunk...)
	size := len(s.body[phase])
	in.mu.Unlock()
	r, err := s.run(ctx, name, fn, phase, eos, 3, uint64(size), boolArg(eos))
	in.mu.Lock()
	over := s.overLimit[phase]
	s.overLimit[phase] = false
	in.mu.Unlock()
	if err == nil && over {
		return nil, 0, &FilterError{Plugin: s.p.name, Kind: BodyLimit, Callback: name,
			Err: fmt.Errorf("the filter's edit would take the body past its %d-byte buffer limit", s.p.limits.BodyBytes)}
	}
	if err != nil || r != Continue {
		return nil, r, err
	}
	in.mu.Lock()
	out := s.body[phase]
	s.flushed[phase] = true
	in.mu.Unlock()
	return out, Continue, nil
}

// run makes one stream callback and, when the filter pauses for an event
// (an HTTP call, a timer, the end of the body), waits for it to continue.
func (s *Stream) run(ctx context.Context, name string, fn api.Function, phase int, eos bool, n int, a, b uint64) (Result, error) {
	in := s.in
	in.mu.Lock()
	s.continued[phase] = false
	in.setEffective(s)
	in.stack[0], in.stack[1], in.stack[2] = uint64(s.id), a, b
	action, err := in.call(name, fn, n)
	r, done := s.outcome(phase)
	// Read under in.mu, with the outcome: an HTTP call answered after the
	// unlock would otherwise drop pending to zero with the phase already
	// decided, and the stream would report Paused.
	waiting := s.pending.Load() > 0
	in.mu.Unlock()
	if err != nil {
		s.failed = true
		return 0, err
	}
	if done {
		return r, s.resetErr(name)
	}
	if uint32(action) == actionContinue {
		return Continue, nil
	}
	if !eos && !waiting {
		return Paused, nil
	}
	for {
		select {
		case <-s.resume:
		case <-ctx.Done():
			return 0, fmt.Errorf("runtime: filter %q paused in %s and did not resume: %w", s.p.name, name, ctx.Err())
		}
		in.mu.Lock()
		r, done := s.outcome(phase)
		dead := in.dead.Load()
		in.mu.Unlock()
		switch {
		case done:
			return r, s.resetErr(name)
		case dead:
			s.failed = true
			return 0, &FilterError{Plugin: s.p.name, Kind: Unavailable, Callback: name, Err: errInstanceGone}
		}
	}
}

// outcome reports whether the filter has decided the phase: a local
// response, a reset, or a continue. Called with in.mu held.
func (s *Stream) outcome(phase int) (Result, bool) {
	switch {
	case s.local != nil:
		return Respond, true
	case s.reset:
		return 0, true
	case s.continued[phase]:
		s.continued[phase] = false
		return Continue, true
	}
	return 0, false
}

func (s *Stream) resetErr(name string) error {
	if s.local == nil && s.reset {
		return &FilterError{Plugin: s.p.name, Kind: Reset, Callback: name, Err: errors.New("the filter closed the stream")}
	}
	return nil
}

// Close ends the stream: proxy_on_done, proxy_on_log and proxy_on_delete
// run, and the instance is released.
func (s *Stream) Close() {
	in := s.in
	in.mu.Lock()
	if !in.dead.Load() {
		in.setEffective(s)
		ok := true
		if fn := in.fns.done; fn != nil {
			in.stack[0] = uint64(s.id)
			_, err := in.call("proxy_on_done", fn, 1)
			ok = err == nil
		}
		if fn := in.fns.log; ok && fn != nil {
			in.stack[0] = uint64(s.id)
			_, err := in.call("proxy_on_log", fn, 1)
			ok = err == nil
		}
		if fn := in.fns.delete; ok && fn != nil {
			in.stack[0] = uint64(s.id)
			_, err := in.call("proxy_on_delete", fn, 1)
			ok = err == nil
		}
		if !ok {
			s.failed = true
		}
		in.setEffective(nil)
	}
	delete(in.streams, s.id)
	if in.active.Add(-1) == 0 && (in.dead.Load() || in.retired) {
		in.closeLocked()
	}
	in.mu.Unlock()
	if !s.failed {
		s.p.noteSuccess()
	}
	if s.pending.Load() != 0 {
		return // an HTTP call still refers to s; let the GC have it
	}
	*s = Stream{resume: s.resume, body: [2][]byte{s.body[0][:0], s.body[1][:0]}}
	select {
	case <-s.resume:
	default:
	}
	streamPool.Put(s)
}

// property answers what the runtime itself knows, then asks the host.
func (s *Stream) property(path string) ([]byte, bool) {
	if v, ok := s.props[path]; ok {
		return v, true
	}
	if s.host == nil {
		return nil, false
	}
	return s.host.Property(strings.Split(path, "\x00"))
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

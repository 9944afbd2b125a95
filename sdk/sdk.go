package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Action is what a filter callback tells the host to do with the stream.
type Action uint32

const (
	// Continue passes the headers, body chunk or trailers on.
	Continue Action = Action(abi.ActionContinue)
	// Pause holds the stream until the filter calls Stream.ContinueRequest
	// or Stream.ContinueResponse (or answers with SendLocalResponse). Body
	// callbacks that pause make the host buffer the body.
	Pause Action = Action(abi.ActionPause)
)

// PluginFactory makes a plugin from its configuration. An error refuses the
// configuration: the host is told the plugin failed to start, and the error
// is logged at error level.
type PluginFactory func(cfg PluginConfig) (Plugin, error)

// Register sets the factory the host's plugin contexts are configured with.
// Call it from an init function: main does not run in a c-shared wasm
// module. A later call replaces the factory for plugins configured
// afterwards.
func Register(f PluginFactory) { factory = f }

// PluginConfig is a plugin's configuration as the host gave it.
type PluginConfig struct {
	// Data is the raw configuration: for Wedge routes, the filter's
	// config object as JSON. Empty when the route gives none.
	Data []byte
}

// Decode decodes the configuration as strict JSON into v: unknown fields,
// several values and trailing data are errors. An empty configuration
// leaves v as it is and returns nil, so v's defaults apply.
func (c PluginConfig) Decode(v any) error {
	if len(bytes.TrimSpace(c.Data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(c.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("sdk: config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("sdk: config: trailing data after the JSON value")
	}
	return nil
}

// Plugin is a configured filter: one per plugin (root) context. It may also
// implement Ticker and QueueHandler.
type Plugin interface {
	// NewFilter returns the filter for a new HTTP stream. A filter with no
	// per-stream state may return the same value every time, which
	// allocates nothing.
	NewFilter() Filter
}

// Ticker is implemented by a Plugin that wants timer callbacks; start the
// timer with SetTickPeriod.
type Ticker interface {
	// OnTick is called every tick period, in the plugin context.
	OnTick()
}

// QueueHandler is implemented by a Plugin that consumes shared queues.
type QueueHandler interface {
	// OnQueueReady is called, in the plugin context, when an item was
	// enqueued on q.
	OnQueueReady(q Queue)
}

// Filter handles one HTTP stream. Embed DefaultFilter and override the
// callbacks the filter needs. Callbacks run one at a time, in stream order.
type Filter interface {
	// OnRequestHeaders is called with the request headers;
	// endOfStream is true when the request has no body.
	OnRequestHeaders(s *Stream, endOfStream bool) Action
	// OnRequestBody is called for each request body chunk; bodySize is
	// the size of the body buffered so far (it grows while the filter
	// returns Pause).
	OnRequestBody(s *Stream, bodySize int, endOfStream bool) Action
	// OnRequestTrailers is called with the request trailers.
	OnRequestTrailers(s *Stream) Action
	// OnResponseHeaders is called with the response headers;
	// endOfStream is true when the response has no body.
	OnResponseHeaders(s *Stream, endOfStream bool) Action
	// OnResponseBody is called for each response body chunk, like
	// OnRequestBody.
	OnResponseBody(s *Stream, bodySize int, endOfStream bool) Action
	// OnResponseTrailers is called with the response trailers.
	OnResponseTrailers(s *Stream) Action
	// OnDone is called once when the stream is finished, before it is
	// deleted; headers are still readable, for access logs. s must not
	// be used after OnDone returns.
	OnDone(s *Stream)
}

// DefaultFilter implements every Filter callback as a no-op that returns
// Continue. Embed it in a filter type.
type DefaultFilter struct{}

// OnRequestHeaders returns Continue.
func (DefaultFilter) OnRequestHeaders(*Stream, bool) Action { return Continue }

// OnRequestBody returns Continue.
func (DefaultFilter) OnRequestBody(*Stream, int, bool) Action { return Continue }

// OnRequestTrailers returns Continue.
func (DefaultFilter) OnRequestTrailers(*Stream) Action { return Continue }

// OnResponseHeaders returns Continue.
func (DefaultFilter) OnResponseHeaders(*Stream, bool) Action { return Continue }

// OnResponseBody returns Continue.
func (DefaultFilter) OnResponseBody(*Stream, int, bool) Action { return Continue }

// OnResponseTrailers returns Continue.
func (DefaultFilter) OnResponseTrailers(*Stream) Action { return Continue }

// OnDone does nothing.
func (DefaultFilter) OnDone(*Stream) {}

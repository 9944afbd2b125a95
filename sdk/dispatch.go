package sdk

import (
	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// The module's state. A module runs one callback at a time, so none of it
// is locked.
var (
	factory PluginFactory
	roots   = map[uint32]*rootContext{}
	streams = map[uint32]*Stream{}
	calls   = map[uint32]pendingCall{}
	// current is the host's effective context: the context of the running
	// callback, or the one the SDK switched to with
	// proxy_set_effective_context.
	current uint32
)

// rootContext is a plugin context, with its plugin once configured.
type rootContext struct {
	id     uint32
	plugin Plugin
}

func init() { abi.Callbacks = dispatcher{} }

// dispatcher turns the host's callbacks into calls on plugins and filters.
type dispatcher struct{}

func (dispatcher) OnContextCreate(id, parent uint32) {
	current = id
	if parent == 0 {
		roots[id] = &rootContext{id: id}
		return
	}
	s := &Stream{id: id, root: roots[parent]}
	if s.root != nil && s.root.plugin != nil {
		s.filter = s.root.plugin.NewFilter()
	} else {
		Errorf("sdk: stream %d created under plugin context %d, which is not configured", id, parent)
	}
	streams[id] = s
}

func (dispatcher) OnVMStart(rootID, size uint32) bool {
	current = rootID
	return true
}

func (dispatcher) OnConfigure(rootID, size uint32) bool {
	current = rootID
	root := roots[rootID]
	if root == nil {
		root = &rootContext{id: rootID}
		roots[rootID] = root
	}
	if factory == nil {
		Errorf("sdk: configure: no plugin registered: call sdk.Register from an init function (main does not run in a c-shared wasm module)")
		return false
	}
	var cfg PluginConfig
	if size > 0 {
		data, st := host().GetBufferBytes(abi.BufferPluginConfiguration, 0, size)
		if st != abi.StatusOK {
			Errorf("%v", check("configure: get plugin configuration", st))
			return false
		}
		cfg.Data = data
	}
	p, err := factory(cfg)
	if err == nil && p == nil {
		err = errNilPlugin
	}
	if err != nil {
		Errorf("plugin configuration refused: %v", err)
		return false
	}
	root.plugin = p
	return true
}

func (dispatcher) OnTick(rootID uint32) {
	current = rootID
	if root := roots[rootID]; root != nil {
		if t, ok := root.plugin.(Ticker); ok {
			t.OnTick()
		}
	}
}

func (dispatcher) OnQueueReady(rootID, queueID uint32) {
	current = rootID
	if root := roots[rootID]; root != nil {
		if q, ok := root.plugin.(QueueHandler); ok {
			q.OnQueueReady(Queue(queueID))
		}
	}
}

// stream returns the stream id with a filter, making it current.
func stream(id uint32) *Stream {
	current = id
	s := streams[id]
	if s == nil || s.filter == nil {
		return nil
	}
	return s
}

func (dispatcher) OnRequestHeaders(id, _ uint32, endOfStream bool) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnRequestHeaders(s, endOfStream))
	}
	return abi.ActionContinue
}

func (dispatcher) OnRequestBody(id, bodySize uint32, endOfStream bool) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnRequestBody(s, int(bodySize), endOfStream))
	}
	return abi.ActionContinue
}

func (dispatcher) OnRequestTrailers(id, _ uint32) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnRequestTrailers(s))
	}
	return abi.ActionContinue
}

func (dispatcher) OnResponseHeaders(id, _ uint32, endOfStream bool) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnResponseHeaders(s, endOfStream))
	}
	return abi.ActionContinue
}

func (dispatcher) OnResponseBody(id, bodySize uint32, endOfStream bool) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnResponseBody(s, int(bodySize), endOfStream))
	}
	return abi.ActionContinue
}

func (dispatcher) OnResponseTrailers(id, _ uint32) abi.Action {
	if s := stream(id); s != nil {
		return abi.Action(s.filter.OnResponseTrailers(s))
	}
	return abi.ActionContinue
}

// OnDone lets the host finish every context at once: the SDK never defers
// a context's end (proxy_done).
func (dispatcher) OnDone(id uint32) bool {
	current = id
	return true
}

func (dispatcher) OnLog(id uint32) {
	if s := stream(id); s != nil {
		finish(s)
	}
}

func (dispatcher) OnDelete(id uint32) {
	current = id
	if s := streams[id]; s != nil {
		if s.filter != nil {
			finish(s)
		}
		s.deleted = true
		delete(streams, id)
		return
	}
	delete(roots, id)
}

// finish calls the filter's OnDone once: from proxy_on_log, or from
// proxy_on_delete for a host that skips proxy_on_log.
func finish(s *Stream) {
	if !s.done {
		s.done = true
		s.filter.OnDone(s)
	}
}

func (dispatcher) OnHTTPCallResponse(id, callID, numHeaders, bodySize, numTrailers uint32) {
	current = id
	pc, ok := calls[callID]
	if !ok {
		return
	}
	delete(calls, callID)
	// Read the answer in the context the host delivered it to, then run
	// the callback in the context that made the call.
	resp, err := readCallResponse(numHeaders, bodySize, numTrailers)
	if s, isStream := streams[pc.caller]; isStream {
		if !s.enter() {
			return
		}
	} else if roots[pc.caller] == nil {
		return // the caller is gone
	} else if current != pc.caller {
		if host().SetEffectiveContext(pc.caller) != abi.StatusOK {
			return
		}
		current = pc.caller
	}
	if pc.callback != nil {
		pc.callback(resp, err)
	}
}

func (dispatcher) Reset() {
	clear(roots)
	clear(streams)
	clear(calls)
	current = 0
}

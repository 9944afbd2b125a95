//go:build wasip1

package abi

// The callbacks the host makes, as Proxy-Wasm 0.2.1 names them. Each hands
// over to Callbacks, the SDK's dispatcher.

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion021() {}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, parent uint32) { Callbacks.OnContextCreate(id, parent) }

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootID, size uint32) bool { return Callbacks.OnVMStart(rootID, size) }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootID, size uint32) bool { return Callbacks.OnConfigure(rootID, size) }

//go:wasmexport proxy_on_tick
func proxyOnTick(rootID uint32) { Callbacks.OnTick(rootID) }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, numHeaders uint32, endOfStream bool) Action {
	return Callbacks.OnRequestHeaders(id, numHeaders, endOfStream)
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, bodySize uint32, endOfStream bool) Action {
	return Callbacks.OnRequestBody(id, bodySize, endOfStream)
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(id, numTrailers uint32) Action {
	return Callbacks.OnRequestTrailers(id, numTrailers)
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, numHeaders uint32, endOfStream bool) Action {
	return Callbacks.OnResponseHeaders(id, numHeaders, endOfStream)
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, bodySize uint32, endOfStream bool) Action {
	return Callbacks.OnResponseBody(id, bodySize, endOfStream)
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(id, numTrailers uint32) Action {
	return Callbacks.OnResponseTrailers(id, numTrailers)
}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) bool { return Callbacks.OnDone(id) }

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) { Callbacks.OnLog(id) }

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) { Callbacks.OnDelete(id) }

//go:wasmexport proxy_on_http_call_response
func proxyOnHTTPCallResponse(id, callID, numHeaders, bodySize, numTrailers uint32) {
	Callbacks.OnHTTPCallResponse(id, callID, numHeaders, bodySize, numTrailers)
}

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(rootID, queueID uint32) { Callbacks.OnQueueReady(rootID, queueID) }

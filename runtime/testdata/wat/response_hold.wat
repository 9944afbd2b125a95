;; response_hold.wat — holds the response body (Proxy-Wasm 0.2.1).
;; Expected host behaviour: proxy_on_response_headers and
;; proxy_on_response_body return PAUSE until end_of_stream, then CONTINUE,
;; so the host holds the response headers and buffers the whole body,
;; sending them at the end, unchanged; past the plugin's body limit the
;; client gets 502. Every other callback continues.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (i32.eqz (local.get $eos)))
  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    ;; CONTINUE (0) at the end of the stream, PAUSE (1) before it
    (i32.eqz (local.get $eos)))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)

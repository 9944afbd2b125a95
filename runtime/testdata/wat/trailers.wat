;; trailers.wat — touches trailers (Proxy-Wasm 0.2.1), for the edge's
;; trailer callbacks. Expected host behaviour:
;;   proxy_on_request_trailers:  adds "x-wat-request-trailer: 1" to the
;;                               request trailers (map 1) and CONTINUEs
;;   proxy_on_response_trailers: adds "x-wat-trailer: 1" to the response
;;                               trailers (map 3) and CONTINUEs
;; Every other callback continues. No allocations are needed: the module
;; only writes to the host, so proxy_on_memory_allocate returns 0.
(module
  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "x-wat-request-trailer") ;; 21
  (data (i32.const 0x120) "x-wat-trailer")         ;; 13
  (data (i32.const 0x130) "1")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (drop (call $add (i32.const 1) (i32.const 0x100) (i32.const 21) (i32.const 0x130) (i32.const 1)))
    (i32.const 0))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32)
    (drop (call $add (i32.const 3) (i32.const 0x120) (i32.const 13) (i32.const 0x130) (i32.const 1)))
    (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)

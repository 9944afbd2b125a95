;; rt_tcp_only.wat — a network (TCP) filter: it exports the stream
;; callbacks of a TCP proxy filter and none of an HTTP filter
;; (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * the module compiles and loads (it is a well-formed filter);
;;   * the host sees it exports no HTTP callbacks
;;     (proxy_on_request_headers, proxy_on_request_body,
;;     proxy_on_request_trailers, proxy_on_response_headers,
;;     proxy_on_response_body, proxy_on_response_trailers) and does export
;;     network ones (proxy_on_new_connection, proxy_on_downstream_data,
;;     proxy_on_upstream_data, ...), so it refuses to put it on an HTTP
;;     route, with a message that says so;
;;   * the network callbacks CONTINUE (0); nothing here calls the host.
(module
  (memory (export "memory") 2)

  ;; ---- ABI marker ----------------------------------------------------
  (func (export "proxy_abi_version_0_2_1"))

  ;; ---- memory management (see add_header.wat for the layout) ---------
  (global $heap (mut i32) (i32.const 0x4000))

  (func $reset (global.set $heap (i32.const 0x4000)))

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i64)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (if (i32.lt_u (local.get $end) (local.get $p))
      (then (return (i32.const 0))))
    (local.set $pages (i64.shr_u
      (i64.add (i64.extend_i32_u (local.get $end)) (i64.const 0xffff)) (i64.const 16)))
    (if (i64.gt_u (local.get $pages) (i64.extend_i32_u (memory.size)))
      (then
        (if (i32.eq
              (memory.grow (i32.wrap_i64
                (i64.sub (local.get $pages) (i64.extend_i32_u (memory.size)))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (i32.const 1))

  ;; proxy_on_new_connection(context_id) -> action
  (func (export "proxy_on_new_connection") (param $ctx i32) (result i32)
    (i32.const 0))

  ;; proxy_on_downstream_data(context_id, data_size, end_of_stream) -> action
  (func (export "proxy_on_downstream_data")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (i32.const 0))

  ;; proxy_on_upstream_data(context_id, data_size, end_of_stream) -> action
  (func (export "proxy_on_upstream_data")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (i32.const 0))

  ;; proxy_on_downstream_connection_close(context_id, peer_type)
  (func (export "proxy_on_downstream_connection_close") (param $ctx i32) (param $peer i32))

  ;; proxy_on_upstream_connection_close(context_id, peer_type)
  (func (export "proxy_on_upstream_connection_close") (param $ctx i32) (param $peer i32))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32))
)

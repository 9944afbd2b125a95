;; body_upper.wat — buffers the whole request body and uppercases it
;; (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * proxy_on_request_body(ctx, body_size, end_of_stream):
;;       - end_of_stream == 0: returns PAUSE (1); the host keeps buffering
;;         and calls again with the grown body_size (spec: "body_size
;;         represents total available size ... will increment if the
;;         processing is paused");
;;       - end_of_stream == 1: reads the whole buffered body with
;;           proxy_get_buffer_bytes(HTTP_REQUEST_BODY=0, 0, body_size, ...)
;;         uppercases ASCII a-z in that copy (the host wrote it into memory
;;         it got from proxy_on_memory_allocate) and replaces the body with
;;           proxy_set_buffer_bytes(0, start=0, size=len, copy, len)
;;         then returns CONTINUE (0).
;;   * The upstream receives the same bytes uppercased, same length (a
;;     request sent in several chunks included): "hello, wasm!" ->
;;     "HELLO, WASM!". A body of 0 bytes is left alone.
;;   * If the read fails the body is forwarded unchanged (the test sees
;;     lowercase and fails); no trap.
;;   * Request/response headers and response body: CONTINUE, untouched.
(module
  ;; proxy_get_buffer_bytes(buffer_id, start, max_size,
  ;;                        return_value_data, return_value_size) -> status
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_set_buffer_bytes(buffer_id, start, size,
  ;;                        value_data, value_size) -> status
  (import "env" "proxy_set_buffer_bytes"
    (func $set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))

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

  ;; ---- helpers -------------------------------------------------------
  ;; upper uppercases ASCII a-z in [p, p+n) in place.
  (func $upper (param $p i32) (param $n i32)
    (local $end i32) (local $c i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        ;; 'a'..'z' is 0x61..0x7a: (c - 0x61) unsigned < 26
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 0x61)) (i32.const 26))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 0x20)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next))))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $p i32) (local $n i32)
    (call $reset)
    (if (i32.eqz (local.get $eos))
      (then (return (i32.const 1)))) ;; PAUSE: keep buffering
    (if (i32.eqz (local.get $size))
      (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0)))) ;; read failed: forward unchanged
    (local.set $p (i32.load (i32.const 0x1000)))
    (local.set $n (i32.load (i32.const 0x1004)))
    (call $upper (local.get $p) (local.get $n))
    (drop (call $set_buffer_bytes (i32.const 0)
      (i32.const 0) (local.get $n)     ;; replace [0, n)
      (local.get $p) (local.get $n)))
    (i32.const 0)) ;; CONTINUE

  (func (export "proxy_on_response_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32)
    (call $reset))
)

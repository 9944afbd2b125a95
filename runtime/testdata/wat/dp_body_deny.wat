;; dp_body_deny.wat — answers 403 from proxy_on_request_body when the
;; request has a body (Proxy-Wasm 0.2.1), as a body-validating filter
;; (JSON schema, WAF) does. Data-path integrity tests (issue 10 problem 2).
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers: CONTINUE.
;;   * proxy_on_request_body(ctx, body_size, end_of_stream):
;;       - end_of_stream == 0: PAUSE (1), the host keeps buffering;
;;       - end_of_stream == 1 and body_size == 0: CONTINUE (nothing to deny);
;;       - end_of_stream == 1 and body_size > 0: proxy_send_local_response(
;;           403, "body_denied", "denied by dp_body_deny" (22 bytes),
;;           {x-denied: body}, grpc_status -1) and returns PAUSE.
;;   * The client of any request with a body gets 403, `x-denied: body`
;;     and body "denied by dp_body_deny", on every route kind, `respond:`
;;     routes included; a request without a body gets the route's answer.
(module
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "body_denied")            ;; 11: details
  (data (i32.const 0x120) "denied by dp_body_deny") ;; 22: body
  ;; 26 bytes: {"x-denied": "body"}
  (data (i32.const 0x140)
    "\01\00\00\00"        ;; 1 pair
    "\08\00\00\00"        ;; key size 8
    "\04\00\00\00"        ;; value size 4
    "x-denied\00body\00")
  ;; ---- ABI marker ----------------------------------------------------
  (func (export "proxy_abi_version_0_2_1"))

  ;; ---- memory management (see add_header.wat for the layout) ---------
  (global $heap (mut i32) (i32.const 0x4000))

  (func $reset (global.set $heap (i32.const 0x4000)))

  (func $alloc (export "proxy_on_memory_allocate") (param $size i32) (result i32)
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
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (if (i32.eqz (local.get $eos))
      (then (return (i32.const 1)))) ;; PAUSE: see the whole body first
    (if (i32.eqz (local.get $size))
      (then (return (i32.const 0))))
    (drop (call $send_local_response
      (i32.const 403)
      (i32.const 0x100) (i32.const 11)   ;; details
      (i32.const 0x120) (i32.const 22)   ;; body
      (i32.const 0x140) (i32.const 26)   ;; serialized headers
      (i32.const -1)))                   ;; grpc_status: none
    (i32.const 1)) ;; PAUSE

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

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

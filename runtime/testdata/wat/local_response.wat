;; local_response.wat — answers every request itself (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers calls proxy_send_local_response with
;;       status_code         403
;;       status_code_details "denied_by_wat"
;;       body                "denied by wat"   (13 bytes)
;;       headers             one pair `x-denied: yes`, serialized per spec
;;       grpc_status         0xffffffff (-1: not a gRPC response; the spec
;;                           gives no "unset" value, -1 is the SDKs' one)
;;     and returns PAUSE (1).
;;   * The client gets 403, header `x-denied: yes`, body "denied by wat";
;;     the upstream is never contacted; the response phase callbacks of
;;     this filter are not expected to matter (they return CONTINUE).
;;
;; Serialized map (spec "Serialization", little-endian):
;;   u32 number of pairs, then u32 key size + u32 value size per pair,
;;   then key bytes, NUL, value bytes, NUL per pair.
;;   Note: the spec's example writes '1' as 0x49 and '2' as 0x50 (decimal
;;   ASCII codes written as hex); the bytes below are the real ASCII.
(module
  ;; proxy_send_local_response(status_code, status_code_details_data,
  ;;   status_code_details_size, body_data, body_size,
  ;;   serialized_headers_data, serialized_headers_size, grpc_status) -> status
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "denied_by_wat")  ;; 13: status code details
  (data (i32.const 0x120) "denied by wat")  ;; 13: body
  ;; 25 bytes: {"x-denied": "yes"}
  (data (i32.const 0x140)
    "\01\00\00\00"        ;; 1 pair
    "\08\00\00\00"        ;; key size 8
    "\03\00\00\00"        ;; value size 3
    "x-denied\00yes\00")

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
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    ;; The status is ignored: if the host fails the call, PAUSE with no
    ;; local response leaves the request hanging, which the test sees.
    (drop (call $send_local_response
      (i32.const 403)
      (i32.const 0x100) (i32.const 13)   ;; details
      (i32.const 0x120) (i32.const 13)   ;; body
      (i32.const 0x140) (i32.const 25)   ;; serialized headers
      (i32.const -1)))                   ;; grpc_status: none
    (i32.const 1)) ;; PAUSE

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
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

;; add_header.wat — a well-behaved Proxy-Wasm 0.2.1 filter (interop test).
;;
;; Written from the ABI spec only (proxy-wasm/spec abi-versions/v0.2.1).
;;
;; Expected host behaviour:
;;   * loads, proxy_on_vm_start and proxy_on_configure return true (1);
;;   * proxy_on_request_headers adds `x-wat: 1` to HTTP_REQUEST_HEADERS
;;     (map 0) and returns CONTINUE (0): the upstream sees `x-wat: 1`;
;;   * proxy_on_response_headers adds `x-wat-response: 1` to
;;     HTTP_RESPONSE_HEADERS (map 2), then reads the request header
;;     `:path` (map 0) with proxy_get_header_map_value and copies its
;;     value into the response header `x-wat-path`; returns CONTINUE.
;;     If that read fails, `x-wat-path` is absent and
;;     `x-wat-path-error: <decimal proxy_status_t>` is added instead, so a
;;     failing test says why.
;;     (Note: the spec lists map 0 as readable in on_request_headers and
;;     on_log only; reading it from on_response_headers is what Envoy and
;;     the SDKs allow and what Wedge is expected to allow.)
;;   * body callbacks return CONTINUE, on_done returns true.
;;
;; Memory layout (shared by all the test modules):
;;   0x0000-0x0fff  constant strings (data segments)
;;   0x1000-0x10ff  out-parameters for host calls (return_* pointers)
;;   0x1100-0x11ff  small scratch buffers (decimal formatting)
;;   0x4000-        heap: bump allocator behind proxy_on_memory_allocate,
;;                  grows memory on demand, reset at each callback entry
;;                  (nothing allocated survives a callback in this module).
(module
  ;; proxy_get_header_map_value(map_id, key_data, key_size,
  ;;                            return_value_data, return_value_size) -> status
  (import "env" "proxy_get_header_map_value"
    (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "x-wat")            ;; 5
  (data (i32.const 0x108) "1")                ;; 1
  (data (i32.const 0x110) "x-wat-response")   ;; 14
  (data (i32.const 0x120) ":path")            ;; 5
  (data (i32.const 0x128) "x-wat-path")       ;; 10
  (data (i32.const 0x138) "x-wat-path-error") ;; 16

  ;; ---- ABI marker ----------------------------------------------------
  (func (export "proxy_abi_version_0_2_1"))

  ;; ---- memory management ---------------------------------------------
  (global $heap (mut i32) (i32.const 0x4000))

  (func $reset (global.set $heap (i32.const 0x4000)))

  ;; proxy_on_memory_allocate(memory_size) -> memory_data (0 = failure)
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i64)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (if (i32.lt_u (local.get $end) (local.get $p)) ;; wrapped past 4 GiB
      (then (return (i32.const 0))))
    ;; pages needed = ceil(end / 64 KiB), computed in 64 bits
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
  ;; utoa writes the decimal form of $v so that it ends at 0x1110 and
  ;; returns its first byte's address; the length is 0x1110 - result.
  (func $utoa (param $v i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 0x1110))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
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
    ;; x-wat: 1 on HTTP_REQUEST_HEADERS (0)
    (drop (call $add_header (i32.const 0)
      (i32.const 0x100) (i32.const 5) (i32.const 0x108) (i32.const 1)))
    (i32.const 0)) ;; CONTINUE

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (local $st i32) (local $p i32)
    (call $reset)
    ;; x-wat-response: 1 on HTTP_RESPONSE_HEADERS (2)
    (drop (call $add_header (i32.const 2)
      (i32.const 0x110) (i32.const 14) (i32.const 0x108) (i32.const 1)))
    ;; value of request header :path -> *0x1000 (data), *0x1004 (size)
    (local.set $st (call $get_header (i32.const 0)
      (i32.const 0x120) (i32.const 5) (i32.const 0x1000) (i32.const 0x1004)))
    (if (i32.eqz (local.get $st))
      (then
        (drop (call $add_header (i32.const 2)
          (i32.const 0x128) (i32.const 10)
          (i32.load (i32.const 0x1000)) (i32.load (i32.const 0x1004)))))
      (else
        (local.set $p (call $utoa (local.get $st)))
        (drop (call $add_header (i32.const 2)
          (i32.const 0x138) (i32.const 16)
          (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p))))))
    (i32.const 0)) ;; CONTINUE

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

;; dp_protocol.wat — forwards the `request.protocol` property upstream
;; (Proxy-Wasm 0.2.1). Data-path integrity tests (issue 10 problem 9).
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers calls proxy_get_property with the path
;;     "request\0protocol" (segments joined by NUL, 16 bytes) and adds
;;     its value as request header `x-protocol`; if the call fails it adds
;;     `x-protocol-error: <decimal status>` instead. Returns CONTINUE.
;;   * The value is spelled as Envoy spells it: `HTTP/1.0`, `HTTP/1.1`,
;;     `HTTP/2`, `HTTP/3`.
(module
  (import "env" "proxy_get_property"
    (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "request\00protocol") ;; 16
  (data (i32.const 0x120) "x-protocol")        ;; 10
  (data (i32.const 0x130) "x-protocol-error")  ;; 16
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
    (local $st i32) (local $p i32)
    (call $reset)
    (local.set $st (call $get_property (i32.const 0x100) (i32.const 16)
      (i32.const 0x1000) (i32.const 0x1004)))
    (if (i32.eqz (local.get $st))
      (then
        (drop (call $add_header (i32.const 0) (i32.const 0x120) (i32.const 10)
          (i32.load (i32.const 0x1000)) (i32.load (i32.const 0x1004)))))
      (else
        (local.set $p (call $utoa (local.get $st)))
        (drop (call $add_header (i32.const 0) (i32.const 0x130) (i32.const 16)
          (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p))))))
    (i32.const 0))

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

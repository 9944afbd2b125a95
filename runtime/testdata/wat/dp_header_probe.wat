;; dp_header_probe.wat — reports which request headers a filter sees
;; (Proxy-Wasm 0.2.1). Data-path integrity tests (issue 10 problem 5).
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers reads, with proxy_get_header_map_value on
;;     HTTP_REQUEST_HEADERS (0), `x-forwarded-for`, `x-secret` and
;;     `keep-alive`, and sets (proxy_replace_header_map_value) request
;;     headers `x-probe-xff`, `x-probe-secret` and `x-probe-keepalive` to
;;     each one's value, or to `absent` when the read fails (NOT_FOUND).
;;     Returns CONTINUE.
;;   * Filters run on the cleaned request: hop-by-hop headers and those
;;     the client's Connection header names are gone, X-Forwarded-For is
;;     the edge's (the peer's address, or a trusted proxy's list extended
;;     by it). So from an untrusted loopback client sending
;;     `X-Forwarded-For: 6.6.6.6`, `Connection: x-secret`, `X-Secret: 1`,
;;     `Keep-Alive: timeout=5`, the upstream gets x-probe-xff `127.0.0.1`,
;;     x-probe-secret `absent`, x-probe-keepalive `absent`.
(module
  (import "env" "proxy_get_header_map_value"
    (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "x-forwarded-for")   ;; 15
  (data (i32.const 0x110) "x-probe-xff")       ;; 11
  (data (i32.const 0x120) "x-secret")          ;; 8
  (data (i32.const 0x130) "x-probe-secret")    ;; 14
  (data (i32.const 0x140) "keep-alive")        ;; 10
  (data (i32.const 0x150) "x-probe-keepalive") ;; 17
  (data (i32.const 0x170) "absent")            ;; 6
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

  ;; probe copies request header [k, k+kn) into [d, d+dn), or "absent".
  (func $probe (param $k i32) (param $kn i32) (param $d i32) (param $dn i32)
    (if (call $get_header (i32.const 0) (local.get $k) (local.get $kn)
          (i32.const 0x1000) (i32.const 0x1004))
      (then
        (drop (call $replace_header (i32.const 0) (local.get $d) (local.get $dn)
          (i32.const 0x170) (i32.const 6))))
      (else
        (drop (call $replace_header (i32.const 0) (local.get $d) (local.get $dn)
          (i32.load (i32.const 0x1000)) (i32.load (i32.const 0x1004)))))))

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
    (call $probe (i32.const 0x100) (i32.const 15) (i32.const 0x110) (i32.const 11))
    (call $probe (i32.const 0x120) (i32.const 8) (i32.const 0x130) (i32.const 14))
    (call $probe (i32.const 0x140) (i32.const 10) (i32.const 0x150) (i32.const 17))
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

;; dp_set_header.wat — sets one request header or pseudo-header from its
;; configuration (Proxy-Wasm 0.2.1). Data-path integrity tests (issue 10
;; problems 3, 4 and route re-selection).
;;
;; Configuration (plugin configuration): `<name>=<value>`, split at the
;; first `=` after the name's first byte, e.g. `:method=GET`,
;; `:path=/canary/x`, `:authority=b.test`, `x-canary=1`, `x-f7=7`. No `=`
;; or an empty name: proxy_on_configure returns false.
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers calls proxy_replace_header_map_value(
;;     HTTP_REQUEST_HEADERS=0, name, value) and returns CONTINUE: the
;;     request that goes upstream carries it (`:method` its method,
;;     `:path` its path and query, `:authority` its Host). Per the
;;     architecture, a change to `:authority`, `:path` or a header a route
;;     matches on selects the route again, within the same tenant; the
;;     served request's method (and so the response's framing) does not
;;     change.
;;   * Everything else: CONTINUE, untouched.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_replace_header_map_value(map_id, key, key_size, value, value_size)
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  ;; name and value, inside the configuration copy at 0x2000
  (global $name_len (mut i32) (i32.const 0))
  (global $value (mut i32) (i32.const 0))
  (global $value_len (mut i32) (i32.const 0))
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

  ;; ---- plugin configuration ------------------------------------------
  ;; load_config copies the plugin configuration (PLUGIN_CONFIGURATION,
  ;; buffer 7) to 0x2000 (at most 0x1000 bytes), where it outlives the
  ;; callback, and returns its length, or -1 if it cannot be read or is
  ;; too long.
  (func $load_config (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 0x1000))
      (then (return (i32.const -1))))
    (if (i32.eqz (local.get $size))
      (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const -1))))
    (if (i32.gt_u (i32.load (i32.const 0x1004)) (i32.const 0x1000))
      (then (return (i32.const -1))))
    (memory.copy (i32.const 0x2000) (i32.load (i32.const 0x1000)) (i32.load (i32.const 0x1004)))
    (i32.load (i32.const 0x1004)))

  ;; eq reports whether [p, p+n) holds the n bytes at [q, q+m), n == m.
  (func $eq (param $p i32) (param $n i32) (param $q i32) (param $m i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (local.get $m))
      (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $q) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (local $n i32) (local $i i32)
    (call $reset)
    (local.set $n (call $load_config (local.get $size)))
    (if (i32.lt_s (local.get $n) (i32.const 2))
      (then (return (i32.const 0))))
    ;; the first '=' at index >= 1
    (local.set $i (i32.const 1))
    (block $found
      (loop $next
        (if (i32.ge_u (local.get $i) (local.get $n))
          (then (return (i32.const 0)))) ;; no '='
        (br_if $found (i32.eq (i32.load8_u (i32.add (i32.const 0x2000) (local.get $i)))
                              (i32.const 0x3d)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $name_len (local.get $i))
    (global.set $value (i32.add (i32.const 0x2001) (local.get $i)))
    (global.set $value_len (i32.sub (i32.sub (local.get $n) (local.get $i)) (i32.const 1)))
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (drop (call $replace_header (i32.const 0)
      (i32.const 0x2000) (global.get $name_len)
      (global.get $value) (global.get $value_len)))
    (i32.const 0)) ;; CONTINUE

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

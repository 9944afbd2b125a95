;; dp2_set_header_status.wat — dp_set_header.wat that also reports the
;; status of its proxy_replace_header_map_value (Proxy-Wasm 0.2.1).
;; Issue 10 problem 7 (cmd/wedge TestE2EIntegrity2UpstreamWriterValidates).
;;
;; Configuration (plugin configuration): `<name>=<value>`, as for
;; dp_set_header.wat (split at the first `=` after the name's first byte;
;; no `=` or an empty name: proxy_on_configure returns false). Name and
;; value may hold any bytes (tabs, control bytes, CR, LF, NUL).
;;
;; Expected host behaviour:
;;   * proxy_on_request_headers calls proxy_replace_header_map_value(
;;     HTTP_REQUEST_HEADERS=0, name, value), then
;;     proxy_add_header_map_value(0, "x-dp2-status", <that status, in
;;     decimal>), and returns CONTINUE. Wedge answers BAD_ARGUMENT (2) for
;;     an empty name, a name with NUL, CR, LF, space or a ':' past its first
;;     byte, and a value with NUL, CR or LF, and stores nothing; other
;;     bytes are stored (OK, 0) and left to the upstream writer, which
;;     refuses a request whose method is not a token, or whose header
;;     names are not tokens or values hold control bytes (502, nothing
;;     sent).
;;   * Everything else: CONTINUE, untouched.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_replace_header_map_value(map_id, key, key_size, value, value_size)
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key, key_size, value, value_size)
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  ;; the reporting header's name; its value (decimal digits) goes to 0x1100
  (data (i32.const 0x0000) "x-dp2-status")

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
    (local $s i32) (local $len i32)
    (call $reset)
    (local.set $s (call $replace_header (i32.const 0)
      (i32.const 0x2000) (global.get $name_len)
      (global.get $value) (global.get $value_len)))
    ;; the status in decimal (statuses are below 100) at 0x1100
    (if (i32.ge_u (local.get $s) (i32.const 10))
      (then
        (i32.store8 (i32.const 0x1100)
          (i32.add (i32.const 0x30) (i32.div_u (local.get $s) (i32.const 10))))
        (i32.store8 (i32.const 0x1101)
          (i32.add (i32.const 0x30) (i32.rem_u (local.get $s) (i32.const 10))))
        (local.set $len (i32.const 2)))
      (else
        (i32.store8 (i32.const 0x1100) (i32.add (i32.const 0x30) (local.get $s)))
        (local.set $len (i32.const 1))))
    (drop (call $add_header (i32.const 0)
      (i32.const 0x0000) (i32.const 12)
      (i32.const 0x1100) (local.get $len)))
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

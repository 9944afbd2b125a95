;; dp_body_append.wat — lengthens the request body at its end of stream
;; (Proxy-Wasm 0.2.1). Data-path integrity tests (issue 10 problem 1,
;; cmd/wedge/e2e_integrity_test.go).
;;
;; Configuration (plugin configuration, exact ASCII): `[nocl-]<op>`
;;   append         does not pause: every chunk goes on as it comes; at
;;                  end_of_stream, proxy_set_buffer_bytes(HTTP_REQUEST_BODY=0,
;;                  start=body_size, size=0, "-APPENDED") appends 9 bytes
;;                  to what the host holds (the last chunk, possibly empty).
;;   append-paused  returns PAUSE (1) until end_of_stream, then appends
;;                  "-APPENDED" the same way to the whole buffered body.
;;   replace        PAUSE until end_of_stream, then reads the whole body B
;;                  and replaces it (start 0, size = body_size) with B+B,
;;                  twice as long.
;;   prepend        PAUSE until end_of_stream, then inserts "PREPENDED-"
;;                  (10 bytes) at 0 (start 0, size 0).
;;   nocl-<op>      the same, and proxy_on_request_headers first removes
;;                  `content-length` from the request headers (map 0).
;;   anything else  proxy_on_configure returns false (a typo fails loudly).
;;
;; Expected host behaviour: the upstream receives exactly the edited body
;; (body+"-APPENDED", body+body, "PREPENDED-"+body) with framing that
;; carries all of it: a Content-Length equal to its length, or chunked.
;; The response gets `x-dp-set-status: <decimal status of the last
;; proxy_set_buffer_bytes>` (absent if none was made), so a failing test
;; can say whether the host refused the edit. Empty bodies: untouched.
;; One request at a time per instance (the status is kept in a global).
(module
  ;; proxy_get_buffer_bytes(buffer_id, start, max_size,
  ;;                        return_value_data, return_value_size) -> status
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_set_buffer_bytes(buffer_id, start, size, value_data, value_size)
  (import "env" "proxy_set_buffer_bytes"
    (func $set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_remove_header_map_value(map_id, key_data, key_size) -> status
  (import "env" "proxy_remove_header_map_value"
    (func $remove_header (param i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key, key_size, value, value_size)
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "nocl-")           ;; 5
  (data (i32.const 0x108) "append")          ;; 6
  (data (i32.const 0x110) "append-paused")   ;; 13
  (data (i32.const 0x120) "replace")         ;; 7
  (data (i32.const 0x128) "prepend")         ;; 7
  (data (i32.const 0x130) "content-length")  ;; 14
  (data (i32.const 0x140) "-APPENDED")       ;; 9
  (data (i32.const 0x150) "PREPENDED-")      ;; 10
  (data (i32.const 0x160) "x-dp-set-status") ;; 15

  ;; The configuration: op 1 append, 2 replace (double), 3 prepend.
  (global $op (mut i32) (i32.const 0))
  (global $pause (mut i32) (i32.const 0))
  (global $nocl (mut i32) (i32.const 0))
  ;; Status of the last proxy_set_buffer_bytes, -1 before any.
  (global $st (mut i32) (i32.const -1))
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
    (local $p i32) (local $n i32)
    (call $reset)
    (local.set $n (call $load_config (local.get $size)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (return (i32.const 0))))
    (local.set $p (i32.const 0x2000))
    (if (i32.ge_u (local.get $n) (i32.const 5))
      (then
        (if (call $eq (local.get $p) (i32.const 5) (i32.const 0x100) (i32.const 5))
          (then
            (global.set $nocl (i32.const 1))
            (local.set $p (i32.add (local.get $p) (i32.const 5)))
            (local.set $n (i32.sub (local.get $n) (i32.const 5)))))))
    (if (call $eq (local.get $p) (local.get $n) (i32.const 0x108) (i32.const 6))
      (then (global.set $op (i32.const 1)) (global.set $pause (i32.const 0)) (return (i32.const 1))))
    (if (call $eq (local.get $p) (local.get $n) (i32.const 0x110) (i32.const 13))
      (then (global.set $op (i32.const 1)) (global.set $pause (i32.const 1)) (return (i32.const 1))))
    (if (call $eq (local.get $p) (local.get $n) (i32.const 0x120) (i32.const 7))
      (then (global.set $op (i32.const 2)) (global.set $pause (i32.const 1)) (return (i32.const 1))))
    (if (call $eq (local.get $p) (local.get $n) (i32.const 0x128) (i32.const 7))
      (then (global.set $op (i32.const 3)) (global.set $pause (i32.const 1)) (return (i32.const 1))))
    (i32.const 0)) ;; unknown configuration: refuse

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (global.set $st (i32.const -1))
    (if (global.get $nocl)
      (then (drop (call $remove_header (i32.const 0) (i32.const 0x130) (i32.const 14)))))
    (i32.const 0)) ;; CONTINUE

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $p i32) (local $n i32) (local $q i32)
    (call $reset)
    (if (i32.eqz (local.get $eos))
      (then (return (global.get $pause)))) ;; PAUSE (1) or CONTINUE (0)
    (if (i32.eq (global.get $op) (i32.const 1))
      (then
        (global.set $st (call $set_buffer_bytes (i32.const 0)
          (local.get $size) (i32.const 0)      ;; at the end, replacing nothing
          (i32.const 0x140) (i32.const 9)))
        (return (i32.const 0))))
    (if (i32.eq (global.get $op) (i32.const 3))
      (then
        (global.set $st (call $set_buffer_bytes (i32.const 0)
          (i32.const 0) (i32.const 0)          ;; at the start, replacing nothing
          (i32.const 0x150) (i32.const 10)))
        (return (i32.const 0))))
    ;; replace: B -> B+B
    (if (i32.eqz (local.get $size))
      (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0)))) ;; read failed: no edit, the test sees it
    (local.set $p (i32.load (i32.const 0x1000)))
    (local.set $n (i32.load (i32.const 0x1004)))
    (local.set $q (call $alloc (i32.shl (local.get $n) (i32.const 1))))
    (if (i32.eqz (local.get $q))
      (then (return (i32.const 0))))
    (memory.copy (local.get $q) (local.get $p) (local.get $n))
    (memory.copy (i32.add (local.get $q) (local.get $n)) (local.get $p) (local.get $n))
    (global.set $st (call $set_buffer_bytes (i32.const 0)
      (i32.const 0) (local.get $size)          ;; the whole body
      (local.get $q) (i32.shl (local.get $n) (i32.const 1))))
    (i32.const 0)) ;; CONTINUE

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (local $p i32)
    (call $reset)
    (if (i32.ge_s (global.get $st) (i32.const 0))
      (then
        (local.set $p (call $utoa (global.get $st)))
        (drop (call $add_header (i32.const 2)
          (i32.const 0x160) (i32.const 15)
          (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p))))))
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

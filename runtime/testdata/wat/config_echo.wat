;; config_echo.wat — validates and echoes its plugin configuration
;; (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * proxy_on_configure(plugin_context_id, plugin_configuration_size)
;;     reads the configuration with
;;       proxy_get_buffer_bytes(PLUGIN_CONFIGURATION=7, 0, size, ...)
;;     and returns true (1) only if it is exactly the 2 bytes "ok";
;;     anything else ("", "no", "okay", "OK", a failed read) returns
;;     false (0): the host must refuse to start the plugin and report it.
;;   * proxy_on_request_headers adds `x-config: <configuration>` (so
;;     `x-config: ok`) to the request headers (map 0); CONTINUE.
;;
;; The accepted configuration is copied to 0x1200 (outside the heap, which
;; is reset at each callback) with its length in $cfg_len.
(module
  ;; proxy_get_buffer_bytes(buffer_id, start, max_size,
  ;;                        return_value_data, return_value_size) -> status
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "x-config") ;; 8

  (global $cfg_len (mut i32) (i32.const 0))

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
    (local $p i32)
    (call $reset)
    (global.set $cfg_len (i32.const 0))
    ;; "ok" is 2 bytes: any other size is refused without reading.
    (if (i32.ne (local.get $size) (i32.const 2))
      (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0)))) ;; status != OK
    (if (i32.ne (i32.load (i32.const 0x1004)) (i32.const 2))
      (then (return (i32.const 0))))
    (local.set $p (i32.load (i32.const 0x1000)))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x6f))          ;; 'o'
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u offset=1 (local.get $p)) (i32.const 0x6b)) ;; 'k'
      (then (return (i32.const 0))))
    ;; keep a copy outside the heap for the request callbacks
    (i32.store16 (i32.const 0x1200) (i32.load16_u (local.get $p)))
    (global.set $cfg_len (i32.const 2))
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (drop (call $add_header (i32.const 0)
      (i32.const 0x100) (i32.const 8) (i32.const 0x1200) (global.get $cfg_len)))
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

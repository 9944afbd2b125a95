;; rt_vm_config.wat — reads its VM configuration in proxy_on_vm_start,
;; logs it and echoes it on every request (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * proxy_on_vm_start(root_context_id, vm_configuration_size) gets the
;;     size of the VM configuration; the module reads it with
;;       proxy_get_buffer_bytes(VM_CONFIGURATION=6, 0, size, ...)
;;     (not read when the size is 0), keeps a copy at 0x1300, and logs
;;     `vm_config: <bytes>` at info level (proxy_log level 2). It returns
;;     false (0) when the configuration starts with "!", when it is longer
;;     than 4096 bytes, and when the read fails or returns another size:
;;     the host must refuse to start the plugin.
;;   * proxy_on_configure reads nothing and returns true.
;;   * proxy_on_request_headers adds `x-vm-config: <bytes>` (an empty
;;     value when there is no VM configuration) to the request headers
;;     (map 0); CONTINUE.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_log(level, message_data, message_size) -> status
  (import "env" "proxy_log"
    (func $log (param i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "x-vm-config") ;; 11
  ;; the log line: "vm_config: " (11 bytes) then the configuration
  (data (i32.const 0x12f5) "vm_config: ")

  (global $vm_len (mut i32) (i32.const 0))

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
    (global.set $vm_len (i32.const 0))
    (if (i32.gt_u (local.get $size) (i32.const 4096))
      (then (return (i32.const 0))))
    (if (local.get $size)
      (then
        (if (call $get_buffer_bytes (i32.const 6) (i32.const 0) (local.get $size)
              (i32.const 0x1000) (i32.const 0x1004))
          (then (return (i32.const 0)))) ;; status != OK
        (if (i32.ne (i32.load (i32.const 0x1004)) (local.get $size))
          (then (return (i32.const 0))))
        (memory.copy (i32.const 0x1300) (i32.load (i32.const 0x1000)) (local.get $size))
        (if (i32.eq (i32.load8_u (i32.const 0x1300)) (i32.const 0x21)) ;; '!'
          (then (return (i32.const 0))))
        (global.set $vm_len (local.get $size))))
    (drop (call $log (i32.const 2)
      (i32.const 0x12f5) (i32.add (i32.const 11) (global.get $vm_len))))
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (drop (call $add_header (i32.const 0)
      (i32.const 0x100) (i32.const 11) (i32.const 0x1300) (global.get $vm_len)))
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32)
    (call $reset))
)

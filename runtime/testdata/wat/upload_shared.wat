;; upload_shared.wat — remembers, in shared data, that it has started
;; (Proxy-Wasm 0.2.1). The admin API's isolation test of the namespace
;; uploads are checked in.
;;
;; Expected host behaviour:
;;   * proxy_on_vm_start reads the shared data key "upload-started"
;;     (proxy_get_shared_data). Found: it returns false (0), and the host
;;     must refuse to start the plugin. Not found: it sets the key to "1"
;;     (proxy_set_shared_data, cas 0) and returns true (1).
;;   * every other callback does nothing and continues.
;;
;; So a plugin of this module starts in a namespace only if no plugin of
;; it started there before.
(module
  ;; proxy_get_shared_data(key_data, key_size, return_value_data,
  ;;                       return_value_size, return_cas) -> status
  (import "env" "proxy_get_shared_data"
    (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_set_shared_data(key_data, key_size, value_data, value_size,
  ;;                       cas) -> status
  (import "env" "proxy_set_shared_data"
    (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "upload-started") ;; 14
  (data (i32.const 0x120) "1")

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
    ;; status 0 (OK): the key is there, written by an earlier start.
    (if (i32.eqz (call $get_shared (i32.const 0x100) (i32.const 14)
          (i32.const 0x1000) (i32.const 0x1004) (i32.const 0x1008)))
      (then (return (i32.const 0))))
    (drop (call $set_shared (i32.const 0x100) (i32.const 14)
      (i32.const 0x120) (i32.const 1) (i32.const 0)))
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
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

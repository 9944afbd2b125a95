;; wild_imports.wat — imports env functions the host does not know
;; (Proxy-Wasm 0.2.1).
;;
;; Expected host behaviour:
;;   * the module loads: every unknown `env.proxy_*` import is linked to a
;;     stub with the import's own signature that returns UNIMPLEMENTED (12)
;;     in its first i32/i64 result (zeros otherwise) and does nothing else;
;;   * proxy_on_request_headers (request headers, map 0, CONTINUE):
;;       1. calls env.proxy_unknown_no_result () -> (): must simply return
;;          (a stub with no results must not write a result);
;;       2. calls env.proxy_something_unknown(1, 2) and adds its status as
;;          `x-status: 12`;
;;       3. calls env.proxy_unknown_i64(7) and adds the low 32 bits of the
;;          i64 result as `x-status-i64: 12`;
;;       4. calls env.proxy_grpc_call (a real 0.2.1 function) with valid
;;          arguments (upstream "wild", service "svc", method "m", no
;;          metadata, message "wild", timeout 1000) and adds
;;          `x-status-grpc: <status>`: 12 while Wedge has no gRPC calls;
;;   * env.proxy_unknown_float (f64 i32) -> f32 is linked but never called.
(module
  (import "env" "proxy_something_unknown"
    (func $unknown (param i32 i32) (result i32)))
  (import "env" "proxy_unknown_no_result" (func $unknown_void))
  (import "env" "proxy_unknown_i64" (func $unknown_i64 (param i64) (result i64)))
  (import "env" "proxy_unknown_float" (func $unknown_float (param f64 i32) (result f32)))
  ;; proxy_grpc_call(upstream_name_data, upstream_name_size,
  ;;   service_name_data, service_name_size, method_name_data,
  ;;   method_name_size, serialized_initial_metadata_data,
  ;;   serialized_initial_metadata_size, message_data, message_size,
  ;;   timeout, return_call_id) -> status
  (import "env" "proxy_grpc_call"
    (func $grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "wild")          ;; 4
  (data (i32.const 0x108) "svc")           ;; 3
  (data (i32.const 0x110) "m")             ;; 1
  (data (i32.const 0x120) "x-status")      ;; 8
  (data (i32.const 0x130) "x-status-i64")  ;; 12
  (data (i32.const 0x140) "x-status-grpc") ;; 13

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

  ;; ---- helpers -------------------------------------------------------
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

  ;; report: adds request header (key, key_size): <decimal v>
  (func $report (param $key i32) (param $key_size i32) (param $v i32)
    (local $p i32)
    (local.set $p (call $utoa (local.get $v)))
    (drop (call $add_header (i32.const 0) (local.get $key) (local.get $key_size)
      (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p)))))

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
    (call $unknown_void)
    (call $report (i32.const 0x120) (i32.const 8)
      (call $unknown (i32.const 1) (i32.const 2)))
    (call $report (i32.const 0x130) (i32.const 12)
      (i32.wrap_i64 (call $unknown_i64 (i64.const 7))))
    (call $report (i32.const 0x140) (i32.const 13)
      (call $grpc_call
        (i32.const 0x100) (i32.const 4)   ;; upstream "wild"
        (i32.const 0x108) (i32.const 3)   ;; service "svc"
        (i32.const 0x110) (i32.const 1)   ;; method "m"
        (i32.const 0) (i32.const 0)       ;; no initial metadata (empty map)
        (i32.const 0x100) (i32.const 4)   ;; message "wild"
        (i32.const 1000)                  ;; timeout, ms
        (i32.const 0x1000)))              ;; return_call_id
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

;; fuzz_call.wat — calls any Proxy-Wasm 0.2.1 host function with
;; arguments taken from the request body (Proxy-Wasm 0.2.1), for the
;; runtime's FuzzHostCalls: a fuzzer-made body becomes one host call made
;; from inside the guest, with pointers and lengths the host must check.
;;
;; Written from the ABI spec (proxy-wasm/spec, abi-versions/v0.2.1): it
;; imports every host function the spec lists, 39 in env and 8 in
;; wasi_snapshot_preview1, with the spec's signatures (the list below).
;;
;; proxy_on_request_body(ctx, body_size, end_of_stream), at end of stream
;; with a body of 4 bytes or more:
;;   1. reads the whole body with proxy_get_buffer_bytes(0, 0, body_size,
;;      ...). The heap is reset at each callback, so the body is the
;;      callback's first allocation and sits at 0x4000: guest address
;;      0x4000 + k is byte k of the body, which is how a call's pointers
;;      reach data the body carries.
;;   2. copies the first 100 bytes of the body (zero-padded) to 0x2004:
;;
;;        body offset  guest address  meaning
;;        0   .. 3     0x2004         u32 function number, taken modulo 47
;;        4   .. 11    0x2008         argument 0, u64 little-endian
;;        12  .. 19    0x2010         argument 1
;;        ...          0x2008 + 8*k   argument k (k < 12)
;;        100 ..       (0x4064 ..)    free: data for the pointers
;;
;;      An i32 parameter takes the low 32 bits of its 8-byte slot, an i64
;;      parameter all of it. A function uses its first n slots and ignores
;;      the others.
;;   3. calls the function (call_indirect over one small wrapper per
;;      function, type () -> i32; proc_exit's wrapper returns 0 if it ever
;;      comes back);
;;   4. calls proxy_set_effective_context(ctx), in case the call changed
;;      the effective context, and adds the status as request header
;;      `x-fuzz-status: <decimal>` (map 0);
;;   5. returns CONTINUE.
;; Shorter bodies and chunks before the end of stream: CONTINUE, no call.
;;
;; Nothing the host writes can make this module trap: the function number
;; and arguments are loaded before the call, and after it only constants
;; and the callback's ctx parameter are used. So a call fails only when
;; the host fails it (or proc_exit is called, or proxy_on_memory_allocate
;; cannot grow memory for data the host returns).
;;
;; proxy_on_http_call_response reads the response (headers, body, status)
;; with out-parameters in 0x1000-0x101f. No proxy_on_tick and no
;; proxy_on_queue_ready, so no guest code runs outside the callbacks the
;; host is driven through. Every other callback: CONTINUE / true.
;;
;; Memory: 2 pages, no maximum. 0x0000-0x0fff constants, 0x1000-0x10ff
;; out-parameters of this module's own calls, 0x1100-0x110f decimal
;; formatting, 0x2000-0x206f the call, 0x3000-0x3fff free (for
;; out-parameters a body chooses), 0x4000- heap (bump allocator behind
;; proxy_on_memory_allocate, growing memory on demand, 0 when it cannot).
;;
;; Function numbers and parameters:
;;    0 proxy_log                            i32 i32 i32
;;    1 proxy_get_log_level                  i32
;;    2 proxy_get_current_time_nanoseconds   i32
;;    3 proxy_set_tick_period_milliseconds   i32
;;    4 proxy_get_property                   i32 i32 i32 i32
;;    5 proxy_set_property                   i32 i32 i32 i32
;;    6 proxy_get_header_map_pairs           i32 i32 i32
;;    7 proxy_set_header_map_pairs           i32 i32 i32
;;    8 proxy_get_header_map_value           i32 i32 i32 i32 i32
;;    9 proxy_add_header_map_value           i32 i32 i32 i32 i32
;;   10 proxy_replace_header_map_value       i32 i32 i32 i32 i32
;;   11 proxy_remove_header_map_value        i32 i32 i32
;;   12 proxy_get_header_map_size            i32 i32
;;   13 proxy_get_buffer_bytes               i32 i32 i32 i32 i32
;;   14 proxy_get_buffer_status              i32 i32 i32
;;   15 proxy_set_buffer_bytes               i32 i32 i32 i32 i32
;;   16 proxy_continue_stream                i32
;;   17 proxy_close_stream                   i32
;;   18 proxy_get_status                     i32 i32 i32
;;   19 proxy_send_local_response            i32 i32 i32 i32 i32 i32 i32 i32
;;   20 proxy_http_call                      i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
;;   21 proxy_grpc_call                      i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
;;   22 proxy_grpc_stream                    i32 i32 i32 i32 i32 i32 i32 i32 i32
;;   23 proxy_grpc_send                      i32 i32 i32 i32
;;   24 proxy_grpc_cancel                    i32
;;   25 proxy_grpc_close                     i32
;;   26 proxy_set_shared_data                i32 i32 i32 i32 i32
;;   27 proxy_get_shared_data                i32 i32 i32 i32 i32
;;   28 proxy_register_shared_queue          i32 i32 i32
;;   29 proxy_resolve_shared_queue           i32 i32 i32 i32 i32
;;   30 proxy_enqueue_shared_queue           i32 i32 i32
;;   31 proxy_dequeue_shared_queue           i32 i32 i32
;;   32 proxy_define_metric                  i32 i32 i32 i32
;;   33 proxy_record_metric                  i32 i64
;;   34 proxy_increment_metric               i32 i64
;;   35 proxy_get_metric                     i32 i32
;;   36 proxy_set_effective_context          i32
;;   37 proxy_done                           -
;;   38 proxy_call_foreign_function          i32 i32 i32 i32 i32 i32
;;   39 fd_write                             i32 i32 i32 i32
;;   40 clock_time_get                       i32 i64 i32
;;   41 random_get                           i32 i32
;;   42 environ_sizes_get                    i32 i32
;;   43 environ_get                          i32 i32
;;   44 args_sizes_get                       i32 i32
;;   45 args_get                             i32 i32
;;   46 proc_exit                            i32
(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_log_level" (func $proxy_get_log_level (param i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $proxy_get_current_time_nanoseconds (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $proxy_set_tick_period_milliseconds (param i32) (result i32)))
  (import "env" "proxy_get_property" (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $proxy_set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $proxy_set_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $proxy_replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $proxy_remove_header_map_value (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $proxy_get_header_map_size (param i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $proxy_get_buffer_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $proxy_set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $proxy_continue_stream (param i32) (result i32)))
  (import "env" "proxy_close_stream" (func $proxy_close_stream (param i32) (result i32)))
  (import "env" "proxy_get_status" (func $proxy_get_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $proxy_http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_call" (func $proxy_grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream" (func $proxy_grpc_stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $proxy_grpc_send (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $proxy_grpc_cancel (param i32) (result i32)))
  (import "env" "proxy_grpc_close" (func $proxy_grpc_close (param i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $proxy_set_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $proxy_get_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $proxy_register_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $proxy_resolve_shared_queue (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $proxy_enqueue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $proxy_dequeue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $proxy_define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $proxy_record_metric (param i32 i64) (result i32)))
  (import "env" "proxy_increment_metric" (func $proxy_increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_get_metric" (func $proxy_get_metric (param i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $proxy_set_effective_context (param i32) (result i32)))
  (import "env" "proxy_done" (func $proxy_done (result i32)))
  (import "env" "proxy_call_foreign_function" (func $proxy_call_foreign_function (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  (memory (export "memory") 2)

  (data (i32.const 0x100) "x-fuzz-status") ;; 13

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

  ;; ---- the calls, one wrapper per function ---------------------------
  (type $call (func (result i32)))
  (table 47 funcref)
  (elem (i32.const 0)
    $c0 $c1 $c2 $c3 $c4 $c5 $c6 $c7 $c8 $c9
    $c10 $c11 $c12 $c13 $c14 $c15 $c16 $c17 $c18 $c19
    $c20 $c21 $c22 $c23 $c24 $c25 $c26 $c27 $c28 $c29
    $c30 $c31 $c32 $c33 $c34 $c35 $c36 $c37 $c38 $c39
    $c40 $c41 $c42 $c43 $c44 $c45 $c46)

  (func $c0 (type $call) ;; 0 proxy_log
    (call $proxy_log
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c1 (type $call) ;; 1 proxy_get_log_level
    (call $proxy_get_log_level
      (i32.load (i32.const 0x2008))))
  (func $c2 (type $call) ;; 2 proxy_get_current_time_nanoseconds
    (call $proxy_get_current_time_nanoseconds
      (i32.load (i32.const 0x2008))))
  (func $c3 (type $call) ;; 3 proxy_set_tick_period_milliseconds
    (call $proxy_set_tick_period_milliseconds
      (i32.load (i32.const 0x2008))))
  (func $c4 (type $call) ;; 4 proxy_get_property
    (call $proxy_get_property
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020))))
  (func $c5 (type $call) ;; 5 proxy_set_property
    (call $proxy_set_property
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020))))
  (func $c6 (type $call) ;; 6 proxy_get_header_map_pairs
    (call $proxy_get_header_map_pairs
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c7 (type $call) ;; 7 proxy_set_header_map_pairs
    (call $proxy_set_header_map_pairs
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c8 (type $call) ;; 8 proxy_get_header_map_value
    (call $proxy_get_header_map_value
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c9 (type $call) ;; 9 proxy_add_header_map_value
    (call $proxy_add_header_map_value
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c10 (type $call) ;; 10 proxy_replace_header_map_value
    (call $proxy_replace_header_map_value
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c11 (type $call) ;; 11 proxy_remove_header_map_value
    (call $proxy_remove_header_map_value
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c12 (type $call) ;; 12 proxy_get_header_map_size
    (call $proxy_get_header_map_size
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c13 (type $call) ;; 13 proxy_get_buffer_bytes
    (call $proxy_get_buffer_bytes
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c14 (type $call) ;; 14 proxy_get_buffer_status
    (call $proxy_get_buffer_status
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c15 (type $call) ;; 15 proxy_set_buffer_bytes
    (call $proxy_set_buffer_bytes
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c16 (type $call) ;; 16 proxy_continue_stream
    (call $proxy_continue_stream
      (i32.load (i32.const 0x2008))))
  (func $c17 (type $call) ;; 17 proxy_close_stream
    (call $proxy_close_stream
      (i32.load (i32.const 0x2008))))
  (func $c18 (type $call) ;; 18 proxy_get_status
    (call $proxy_get_status
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c19 (type $call) ;; 19 proxy_send_local_response
    (call $proxy_send_local_response
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028)) (i32.load (i32.const 0x2030))
      (i32.load (i32.const 0x2038)) (i32.load (i32.const 0x2040))))
  (func $c20 (type $call) ;; 20 proxy_http_call
    (call $proxy_http_call
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028)) (i32.load (i32.const 0x2030))
      (i32.load (i32.const 0x2038)) (i32.load (i32.const 0x2040)) (i32.load (i32.const 0x2048))
      (i32.load (i32.const 0x2050))))
  (func $c21 (type $call) ;; 21 proxy_grpc_call
    (call $proxy_grpc_call
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028)) (i32.load (i32.const 0x2030))
      (i32.load (i32.const 0x2038)) (i32.load (i32.const 0x2040)) (i32.load (i32.const 0x2048))
      (i32.load (i32.const 0x2050)) (i32.load (i32.const 0x2058)) (i32.load (i32.const 0x2060))))
  (func $c22 (type $call) ;; 22 proxy_grpc_stream
    (call $proxy_grpc_stream
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028)) (i32.load (i32.const 0x2030))
      (i32.load (i32.const 0x2038)) (i32.load (i32.const 0x2040)) (i32.load (i32.const 0x2048))))
  (func $c23 (type $call) ;; 23 proxy_grpc_send
    (call $proxy_grpc_send
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020))))
  (func $c24 (type $call) ;; 24 proxy_grpc_cancel
    (call $proxy_grpc_cancel
      (i32.load (i32.const 0x2008))))
  (func $c25 (type $call) ;; 25 proxy_grpc_close
    (call $proxy_grpc_close
      (i32.load (i32.const 0x2008))))
  (func $c26 (type $call) ;; 26 proxy_set_shared_data
    (call $proxy_set_shared_data
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c27 (type $call) ;; 27 proxy_get_shared_data
    (call $proxy_get_shared_data
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c28 (type $call) ;; 28 proxy_register_shared_queue
    (call $proxy_register_shared_queue
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c29 (type $call) ;; 29 proxy_resolve_shared_queue
    (call $proxy_resolve_shared_queue
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028))))
  (func $c30 (type $call) ;; 30 proxy_enqueue_shared_queue
    (call $proxy_enqueue_shared_queue
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c31 (type $call) ;; 31 proxy_dequeue_shared_queue
    (call $proxy_dequeue_shared_queue
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c32 (type $call) ;; 32 proxy_define_metric
    (call $proxy_define_metric
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020))))
  (func $c33 (type $call) ;; 33 proxy_record_metric
    (call $proxy_record_metric
      (i32.load (i32.const 0x2008)) (i64.load (i32.const 0x2010))))
  (func $c34 (type $call) ;; 34 proxy_increment_metric
    (call $proxy_increment_metric
      (i32.load (i32.const 0x2008)) (i64.load (i32.const 0x2010))))
  (func $c35 (type $call) ;; 35 proxy_get_metric
    (call $proxy_get_metric
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c36 (type $call) ;; 36 proxy_set_effective_context
    (call $proxy_set_effective_context
      (i32.load (i32.const 0x2008))))
  (func $c37 (type $call) ;; 37 proxy_done
    (call $proxy_done))
  (func $c38 (type $call) ;; 38 proxy_call_foreign_function
    (call $proxy_call_foreign_function
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020)) (i32.load (i32.const 0x2028)) (i32.load (i32.const 0x2030))))
  (func $c39 (type $call) ;; 39 fd_write
    (call $fd_write
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))
      (i32.load (i32.const 0x2020))))
  (func $c40 (type $call) ;; 40 clock_time_get
    (call $clock_time_get
      (i32.load (i32.const 0x2008)) (i64.load (i32.const 0x2010)) (i32.load (i32.const 0x2018))))
  (func $c41 (type $call) ;; 41 random_get
    (call $random_get
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c42 (type $call) ;; 42 environ_sizes_get
    (call $environ_sizes_get
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c43 (type $call) ;; 43 environ_get
    (call $environ_get
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c44 (type $call) ;; 44 args_sizes_get
    (call $args_sizes_get
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c45 (type $call) ;; 45 args_get
    (call $args_get
      (i32.load (i32.const 0x2008)) (i32.load (i32.const 0x2010))))
  (func $c46 (type $call) ;; 46 proc_exit
    (call $proc_exit
      (i32.load (i32.const 0x2008))) (i32.const 0))

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
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $n i32) (local $i i32) (local $status i32) (local $p i32)
    (call $reset)
    (if (i32.or (i32.eqz (local.get $eos)) (i32.lt_u (local.get $size) (i32.const 4)))
      (then (return (i32.const 0))))
    ;; 1. the whole body, at 0x4000
    (if (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0))))
    ;; 2. its first 100 bytes, zero-padded, to 0x2004 (byte by byte: no
    ;;    bulk-memory instructions needed)
    (local.set $n (i32.load (i32.const 0x1004)))
    (if (i32.gt_u (local.get $n) (i32.const 100)) (then (local.set $n (i32.const 100))))
    (local.set $p (i32.load (i32.const 0x1000)))
    (block $copied
      (loop $copy
        (br_if $copied (i32.ge_u (local.get $i) (i32.const 104)))
        (i32.store8 (i32.add (i32.const 0x2004) (local.get $i))
          (select
            (i32.load8_u (i32.add (local.get $p) (local.get $i)))
            (i32.const 0)
            (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    ;; 3. the call
    (local.set $status (call_indirect (type $call)
      (i32.rem_u (i32.load (i32.const 0x2004)) (i32.const 47))))
    ;; 4. back to this stream, report
    (drop (call $proxy_set_effective_context (local.get $ctx)))
    (local.set $p (call $utoa (local.get $status)))
    (drop (call $proxy_add_header_map_value (i32.const 0)
      (i32.const 0x100) (i32.const 13)
      (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p))))
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_response_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (i32.const 0))

  (func (export "proxy_on_http_call_response")
    (param $ctx i32) (param $token i32) (param $headers i32) (param $body i32) (param $trailers i32)
    (call $reset)
    (drop (call $proxy_get_header_map_pairs (i32.const 6) (i32.const 0x1000) (i32.const 0x1004)))
    (drop (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0) (local.get $body)
      (i32.const 0x1008) (i32.const 0x100c)))
    (drop (call $proxy_get_status (i32.const 0x1010) (i32.const 0x1014) (i32.const 0x1018))))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32)
    (call $reset))
)

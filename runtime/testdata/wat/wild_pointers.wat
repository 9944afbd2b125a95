;; wild_pointers.wat — imports every host function of Proxy-Wasm 0.2.1 and
;; calls one of them with bad pointers chosen by its configuration.
;;
;; Loading this module at all checks that the host provides all 47
;; functions the spec lists ("All functions exposed by the host are
;; required"), with the spec's signatures (see the import list below).
;;
;; Configuration (plugin configuration, exact ASCII):
;;
;;   "none"             no wild call; every request gets `x-wild: 1`
;;   "<function>:<mode>" e.g. "proxy_log:oob", "fd_write:ret"
;;   anything else, or a mode the function has no use for: proxy_on_configure
;;   returns false (refused) — a typo in a test fails loudly.
;;
;; <function> is the import's field name, without module (so "fd_write",
;; not "wasi_snapshot_preview1.fd_write"). Only functions that take a
;; pointer are in the table below.
;;
;; <mode>, applied to every pointer argument of the call:
;;   oob   input pointers and out-parameters (return_*) are 0xfffffff0,
;;         input sizes 16: entirely outside memory
;;   wrap  input pointers 0xffffff00 with size 0x200: pointer + size wraps
;;         past 2^32 to 0x100, inside memory, if computed in 32 bits;
;;         out-parameters valid
;;   long  input pointers valid, sizes 0x7ffffff0 (far beyond memory, and
;;         too big to allocate first); out-parameters valid
;;   ret   inputs valid; every out-parameter is memory_size - 2, so its
;;         4- or 8-byte write straddles the end of memory
;;   "in" = has input (pointer, size) pairs: oob, wrap, long apply;
;;   "out" = has out-parameters: oob, ret apply.
;;
;; The call is made in proxy_on_request_headers, except the three buffer
;; functions (proxy_set_buffer_bytes, proxy_get_buffer_bytes,
;; proxy_get_buffer_status), which are made in proxy_on_request_body on
;; HTTP_REQUEST_BODY (buffer 0), where that buffer exists: the test must
;; send a non-empty request body for those.
;;
;; Report: the returned status (proxy_status_t, or wasi errno for the WASI
;; functions) in ASCII decimal:
;;   * as request header `x-status` (map 0), right after a call made in
;;     proxy_on_request_headers;
;;   * as response header `x-status` (map 2) in proxy_on_response_headers,
;;     for every call (both phases): a test can always read it there.
;; The module keeps the last status in a global, reset for each new stream
;; context: run one request at a time through an instance.
;; Every request also gets `x-wild: 1` (added before the wild call, so
;; proxy_get_header_map_value has a key to find).
;;
;; Expected results: see README.md (INVALID_MEMORY_ACCESS = 6 for the proxy_
;; functions, FAULT = 21 for the WASI ones, and no trap, no host panic, no
;; side effect — e.g. no local response sent, headers unchanged).
;;
;; Wild-call table (index: function, class, valid arguments besides the
;; wild ones; "pre" = valid calls made first so the wild call gets past its
;; NOT_FOUND/EMPTY checks):
;;    1 proxy_log                          in   level INFO(2), "wild"
;;    2 proxy_get_log_level                out
;;    3 proxy_get_current_time_nanoseconds out
;;    4 proxy_set_buffer_bytes             in   body phase, buffer 0, start 0, size 0
;;    5 proxy_get_buffer_bytes             out  body phase, buffer 0, start 0, max_size 1
;;    6 proxy_get_buffer_status            out  body phase, buffer 0
;;    7 proxy_get_header_map_size          out  map 0
;;    8 proxy_get_header_map_pairs         out  map 0
;;    9 proxy_set_header_map_pairs         in   map 0, {":method":"GET",":path":"/",":authority":"wild"}
;;   10 proxy_get_header_map_value         both map 0, key "x-wild"
;;   11 proxy_add_header_map_value         in   map 0, "x-wild" "1"
;;   12 proxy_replace_header_map_value     in   map 0, "x-wild" "1"
;;   13 proxy_remove_header_map_value      in   map 0, "x-wild"
;;   14 proxy_get_status                   out
;;   15 proxy_send_local_response          in   200, details "wild", body "wild", the map above, grpc -1
;;   16 proxy_http_call                    both upstream "wild", the map above, body "wild", trailers "" (size 0), timeout 1000
;;   17 proxy_grpc_call                    both upstream "wild", service "svc", method "1", the map, message "wild", timeout 1000
;;   18 proxy_grpc_stream                  both as grpc_call without message/timeout
;;   19 proxy_grpc_send                    in   stream 1, message "wild", end_stream 0
;;   20 proxy_set_shared_data              in   key "wild-key", value "1", cas 0
;;   21 proxy_get_shared_data              both key "wild-key"; pre: set it to "1"
;;   22 proxy_register_shared_queue        both name "wild-queue"
;;   23 proxy_resolve_shared_queue         both vm_id "" (size 0), name "wild-queue"; pre: register it
;;   24 proxy_enqueue_shared_queue         in   pre: register "wild-queue", value "wild"
;;   25 proxy_dequeue_shared_queue         out  pre: register "wild-queue", enqueue "wild"
;;   26 proxy_define_metric                both COUNTER(0), "wild_metric"
;;   27 proxy_get_metric                   out  pre: define COUNTER "wild_metric"
;;   28 proxy_get_property                 both path "plugin_name"
;;   29 proxy_set_property                 in   path "plugin_name", value "1"
;;   30 proxy_call_foreign_function        both name "wild", arguments "wild"
;;   31 fd_write                           both fd 1, 1 iovec {"wild", 4}; the iovec array
;;                                              pointer and the iovec's buffer both get the
;;                                              input treatment, nwritten the out one
;;   32 clock_time_get                     out  REALTIME(0), precision 0
;;   33 random_get                         in   4 bytes
;;   34 environ_sizes_get                  out
;;   35 environ_get                        out
;;   36 args_sizes_get                     out
;;   37 args_get                           out
;; Imported but not in the table (no pointer argument):
;; proxy_set_tick_period_milliseconds, proxy_continue_stream,
;; proxy_close_stream, proxy_grpc_cancel, proxy_grpc_close,
;; proxy_record_metric, proxy_increment_metric, proxy_done,
;; proxy_set_effective_context, proc_exit.
(module
  ;; ---- every host function of the spec, in the spec's order ----------
  ;; Context lifecycle
  (import "env" "proxy_done" (func $proxy_done (result i32)))
  (import "env" "proxy_set_effective_context"
    (func $proxy_set_effective_context (param i32) (result i32)))
  ;; Logging
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_log_level" (func $proxy_get_log_level (param i32) (result i32)))
  ;; Clocks
  (import "env" "proxy_get_current_time_nanoseconds"
    (func $proxy_get_current_time_nanoseconds (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  ;; Timers
  (import "env" "proxy_set_tick_period_milliseconds"
    (func $proxy_set_tick_period_milliseconds (param i32) (result i32)))
  ;; Randomness
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  ;; Environment variables
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  ;; Buffers
  (import "env" "proxy_set_buffer_bytes"
    (func $proxy_set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status"
    (func $proxy_get_buffer_status (param i32 i32 i32) (result i32)))
  ;; HTTP fields
  (import "env" "proxy_get_header_map_size"
    (func $proxy_get_header_map_size (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs"
    (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs"
    (func $proxy_set_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value"
    (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $proxy_replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value"
    (func $proxy_remove_header_map_value (param i32 i32 i32) (result i32)))
  ;; Common stream operations
  (import "env" "proxy_continue_stream" (func $proxy_continue_stream (param i32) (result i32)))
  (import "env" "proxy_close_stream" (func $proxy_close_stream (param i32) (result i32)))
  (import "env" "proxy_get_status" (func $proxy_get_status (param i32 i32 i32) (result i32)))
  ;; HTTP
  (import "env" "proxy_send_local_response"
    (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  ;; HTTP calls
  (import "env" "proxy_http_call"
    (func $proxy_http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  ;; gRPC calls
  (import "env" "proxy_grpc_call"
    (func $proxy_grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream"
    (func $proxy_grpc_stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $proxy_grpc_send (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $proxy_grpc_cancel (param i32) (result i32)))
  (import "env" "proxy_grpc_close" (func $proxy_grpc_close (param i32) (result i32)))
  ;; Shared key-value store
  (import "env" "proxy_set_shared_data"
    (func $proxy_set_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data"
    (func $proxy_get_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  ;; Shared queues
  (import "env" "proxy_register_shared_queue"
    (func $proxy_register_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue"
    (func $proxy_resolve_shared_queue (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue"
    (func $proxy_enqueue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue"
    (func $proxy_dequeue_shared_queue (param i32 i32 i32) (result i32)))
  ;; Metrics
  (import "env" "proxy_define_metric"
    (func $proxy_define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $proxy_record_metric (param i32 i64) (result i32)))
  (import "env" "proxy_increment_metric"
    (func $proxy_increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_get_metric" (func $proxy_get_metric (param i32 i32) (result i32)))
  ;; Properties
  (import "env" "proxy_get_property"
    (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property"
    (func $proxy_set_property (param i32 i32 i32 i32) (result i32)))
  ;; Foreign function interface
  (import "env" "proxy_call_foreign_function"
    (func $proxy_call_foreign_function (param i32 i32 i32 i32 i32 i32) (result i32)))
  ;; Unimplemented WASI functions
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  (memory (export "memory") 2)

  ;; ---- constants -----------------------------------------------------
  (data (i32.const 0x100) "wild")        ;; 4
  (data (i32.const 0x108) "x-wild")      ;; 6
  (data (i32.const 0x110) "1")           ;; 1
  (data (i32.const 0x118) "x-status")    ;; 8
  (data (i32.const 0x120) "svc")         ;; 3
  (data (i32.const 0x128) "wild-key")    ;; 8
  (data (i32.const 0x130) "wild-queue")  ;; 10
  (data (i32.const 0x140) "wild_metric") ;; 11
  (data (i32.const 0x150) "plugin_name") ;; 11
  (data (i32.const 0x160) "oob\00wrap\00long\00ret\00\00") ;; mode table: 1..4
  ;; 0x180: the fd_write iovec {buf, len}, written before each call
  (data (i32.const 0x1a0) "none")        ;; 4
  ;; 0x200: 64 bytes, {":method": "GET", ":path": "/", ":authority": "wild"}
  (data (i32.const 0x200)
    "\03\00\00\00"
    "\07\00\00\00" "\03\00\00\00"
    "\05\00\00\00" "\01\00\00\00"
    "\0a\00\00\00" "\04\00\00\00"
    ":method\00GET\00"
    ":path\00/\00"
    ":authority\00wild\00")
  ;; 0x300 + index: class of each table row, bit 0 = in, bit 1 = out
  (data (i32.const 0x300)
    "\00"                                  ;; (unused)
    "\01\02\02\01\02\02\02\02\01\03"       ;;  1-10
    "\01\01\01\02\01\03\03\03\01\01"       ;; 11-20
    "\03\03\03\01\02\03\02\03\01\03"       ;; 21-30
    "\03\02\01\02\02\02\02")               ;; 31-37
  ;; 0x800: function names, row order (NUL-terminated, empty name ends)
  (data (i32.const 0x800)
    "proxy_log\00"                          ;;  1
    "proxy_get_log_level\00"                ;;  2
    "proxy_get_current_time_nanoseconds\00" ;;  3
    "proxy_set_buffer_bytes\00"             ;;  4
    "proxy_get_buffer_bytes\00"             ;;  5
    "proxy_get_buffer_status\00"            ;;  6
    "proxy_get_header_map_size\00"          ;;  7
    "proxy_get_header_map_pairs\00"         ;;  8
    "proxy_set_header_map_pairs\00"         ;;  9
    "proxy_get_header_map_value\00"         ;; 10
    "proxy_add_header_map_value\00"         ;; 11
    "proxy_replace_header_map_value\00"     ;; 12
    "proxy_remove_header_map_value\00"      ;; 13
    "proxy_get_status\00"                   ;; 14
    "proxy_send_local_response\00"          ;; 15
    "proxy_http_call\00"                    ;; 16
    "proxy_grpc_call\00"                    ;; 17
    "proxy_grpc_stream\00"                  ;; 18
    "proxy_grpc_send\00"                    ;; 19
    "proxy_set_shared_data\00"              ;; 20
    "proxy_get_shared_data\00"              ;; 21
    "proxy_register_shared_queue\00"        ;; 22
    "proxy_resolve_shared_queue\00"         ;; 23
    "proxy_enqueue_shared_queue\00"         ;; 24
    "proxy_dequeue_shared_queue\00"         ;; 25
    "proxy_define_metric\00"                ;; 26
    "proxy_get_metric\00"                   ;; 27
    "proxy_get_property\00"                 ;; 28
    "proxy_set_property\00"                 ;; 29
    "proxy_call_foreign_function\00"        ;; 30
    "fd_write\00"                           ;; 31
    "clock_time_get\00"                     ;; 32
    "random_get\00"                         ;; 33
    "environ_sizes_get\00"                  ;; 34
    "environ_get\00"                        ;; 35
    "args_sizes_get\00"                     ;; 36
    "args_get\00"                           ;; 37
    "\00")

  ;; Out-parameter slots (8-byte aligned for 64-bit results):
  ;;   0x1000 OUT0, 0x1008 OUT1, 0x1010 OUT2 — for the wild call
  ;;   0x1040, 0x1048 — for the "pre" calls
  ;;   0x1100-0x110f decimal status; 0x1120 random_get's valid buffer

  (global $fn (mut i32) (i32.const 0))    ;; table row, 0 = "none"
  (global $mode (mut i32) (i32.const 0))  ;; 1 oob, 2 wrap, 3 long, 4 ret
  (global $status (mut i32) (i32.const 0))
  (global $called (mut i32) (i32.const 0))

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

  (func $memeq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; lookup: 1-based index of the name (s, n) in a name table, 0 if absent.
  (func $lookup (param $table i32) (param $s i32) (param $n i32) (result i32)
    (local $idx i32) (local $len i32)
    (loop $entry
      (local.set $idx (i32.add (local.get $idx) (i32.const 1)))
      (local.set $len (i32.const 0))
      (block $end
        (loop $scan
          (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $table) (local.get $len)))))
          (local.set $len (i32.add (local.get $len) (i32.const 1)))
          (br $scan)))
      (if (i32.eqz (local.get $len)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $len) (local.get $n))
        (then
          (if (call $memeq (local.get $table) (local.get $s) (local.get $n))
            (then (return (local.get $idx))))))
      (local.set $table (i32.add (local.get $table) (i32.add (local.get $len) (i32.const 1))))
      (br $entry))
    (unreachable))

  ;; Argument transformers: each takes the valid value and returns what the
  ;; current mode passes instead.
  ;; ip: input pointer
  (func $ip (param $valid i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then (return (i32.const 0xfffffff0))))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (return (i32.const 0xffffff00))))
    (local.get $valid))
  ;; il: input size
  (func $il (param $valid i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then (return (i32.const 16))))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (return (i32.const 0x200))))
    (if (i32.eq (global.get $mode) (i32.const 3)) (then (return (i32.const 0x7ffffff0))))
    (local.get $valid))
  ;; op: out-parameter pointer
  (func $op (param $valid i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then (return (i32.const 0xfffffff0))))
    (if (i32.eq (global.get $mode) (i32.const 4))
      (then (return (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 2)))))
    (local.get $valid))

  ;; ---- the wild calls, one per table row -----------------------------
  (type $wild (func (result i32)))
  (table 38 funcref)
  (elem (i32.const 1)
    $w1 $w2 $w3 $w4 $w5 $w6 $w7 $w8 $w9 $w10
    $w11 $w12 $w13 $w14 $w15 $w16 $w17 $w18 $w19 $w20
    $w21 $w22 $w23 $w24 $w25 $w26 $w27 $w28 $w29 $w30
    $w31 $w32 $w33 $w34 $w35 $w36 $w37)

  (func $w1 (type $wild) ;; proxy_log
    (call $proxy_log (i32.const 2) (call $ip (i32.const 0x100)) (call $il (i32.const 4))))
  (func $w2 (type $wild) ;; proxy_get_log_level
    (call $proxy_get_log_level (call $op (i32.const 0x1000))))
  (func $w3 (type $wild) ;; proxy_get_current_time_nanoseconds
    (call $proxy_get_current_time_nanoseconds (call $op (i32.const 0x1000))))
  (func $w4 (type $wild) ;; proxy_set_buffer_bytes (body phase)
    (call $proxy_set_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 0)
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))))
  (func $w5 (type $wild) ;; proxy_get_buffer_bytes (body phase)
    (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 1)
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w6 (type $wild) ;; proxy_get_buffer_status (body phase)
    (call $proxy_get_buffer_status (i32.const 0)
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w7 (type $wild) ;; proxy_get_header_map_size
    (call $proxy_get_header_map_size (i32.const 0) (call $op (i32.const 0x1000))))
  (func $w8 (type $wild) ;; proxy_get_header_map_pairs
    (call $proxy_get_header_map_pairs (i32.const 0)
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w9 (type $wild) ;; proxy_set_header_map_pairs
    (call $proxy_set_header_map_pairs (i32.const 0)
      (call $ip (i32.const 0x200)) (call $il (i32.const 64))))
  (func $w10 (type $wild) ;; proxy_get_header_map_value
    (call $proxy_get_header_map_value (i32.const 0)
      (call $ip (i32.const 0x108)) (call $il (i32.const 6))
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w11 (type $wild) ;; proxy_add_header_map_value
    (call $proxy_add_header_map_value (i32.const 0)
      (call $ip (i32.const 0x108)) (call $il (i32.const 6))
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))))
  (func $w12 (type $wild) ;; proxy_replace_header_map_value
    (call $proxy_replace_header_map_value (i32.const 0)
      (call $ip (i32.const 0x108)) (call $il (i32.const 6))
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))))
  (func $w13 (type $wild) ;; proxy_remove_header_map_value
    (call $proxy_remove_header_map_value (i32.const 0)
      (call $ip (i32.const 0x108)) (call $il (i32.const 6))))
  (func $w14 (type $wild) ;; proxy_get_status
    (call $proxy_get_status (call $op (i32.const 0x1000))
      (call $op (i32.const 0x1008)) (call $op (i32.const 0x1010))))
  (func $w15 (type $wild) ;; proxy_send_local_response
    (call $proxy_send_local_response (i32.const 200)
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; details
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; body
      (call $ip (i32.const 0x200)) (call $il (i32.const 64))  ;; headers
      (i32.const -1)))
  (func $w16 (type $wild) ;; proxy_http_call
    (call $proxy_http_call
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; upstream
      (call $ip (i32.const 0x200)) (call $il (i32.const 64))  ;; headers
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; body
      (call $ip (i32.const 0x100)) (call $il (i32.const 0))   ;; trailers
      (i32.const 1000)
      (call $op (i32.const 0x1000))))
  (func $w17 (type $wild) ;; proxy_grpc_call
    (call $proxy_grpc_call
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; upstream
      (call $ip (i32.const 0x120)) (call $il (i32.const 3))   ;; service
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))   ;; method
      (call $ip (i32.const 0x200)) (call $il (i32.const 64))  ;; initial metadata
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; message
      (i32.const 1000)
      (call $op (i32.const 0x1000))))
  (func $w18 (type $wild) ;; proxy_grpc_stream
    (call $proxy_grpc_stream
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))
      (call $ip (i32.const 0x120)) (call $il (i32.const 3))
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))
      (call $ip (i32.const 0x200)) (call $il (i32.const 64))
      (call $op (i32.const 0x1000))))
  (func $w19 (type $wild) ;; proxy_grpc_send
    (call $proxy_grpc_send (i32.const 1)
      (call $ip (i32.const 0x100)) (call $il (i32.const 4)) (i32.const 0)))
  (func $w20 (type $wild) ;; proxy_set_shared_data
    (call $proxy_set_shared_data
      (call $ip (i32.const 0x128)) (call $il (i32.const 8))
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))
      (i32.const 0)))
  (func $w21 (type $wild) ;; proxy_get_shared_data
    (drop (call $proxy_set_shared_data (i32.const 0x128) (i32.const 8)
      (i32.const 0x110) (i32.const 1) (i32.const 0)))
    (call $proxy_get_shared_data
      (call $ip (i32.const 0x128)) (call $il (i32.const 8))
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008)) (call $op (i32.const 0x1010))))
  (func $w22 (type $wild) ;; proxy_register_shared_queue
    (call $proxy_register_shared_queue
      (call $ip (i32.const 0x130)) (call $il (i32.const 10)) (call $op (i32.const 0x1000))))
  (func $w23 (type $wild) ;; proxy_resolve_shared_queue
    (drop (call $proxy_register_shared_queue (i32.const 0x130) (i32.const 10) (i32.const 0x1040)))
    (call $proxy_resolve_shared_queue
      (call $ip (i32.const 0x100)) (call $il (i32.const 0))    ;; vm_id ""
      (call $ip (i32.const 0x130)) (call $il (i32.const 10))   ;; name
      (call $op (i32.const 0x1000))))
  (func $w24 (type $wild) ;; proxy_enqueue_shared_queue
    (drop (call $proxy_register_shared_queue (i32.const 0x130) (i32.const 10) (i32.const 0x1040)))
    (call $proxy_enqueue_shared_queue (i32.load (i32.const 0x1040))
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))))
  (func $w25 (type $wild) ;; proxy_dequeue_shared_queue
    (drop (call $proxy_register_shared_queue (i32.const 0x130) (i32.const 10) (i32.const 0x1040)))
    (drop (call $proxy_enqueue_shared_queue (i32.load (i32.const 0x1040))
      (i32.const 0x100) (i32.const 4)))
    (call $proxy_dequeue_shared_queue (i32.load (i32.const 0x1040))
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w26 (type $wild) ;; proxy_define_metric
    (call $proxy_define_metric (i32.const 0)
      (call $ip (i32.const 0x140)) (call $il (i32.const 11)) (call $op (i32.const 0x1000))))
  (func $w27 (type $wild) ;; proxy_get_metric
    (drop (call $proxy_define_metric (i32.const 0) (i32.const 0x140) (i32.const 11) (i32.const 0x1040)))
    (call $proxy_get_metric (i32.load (i32.const 0x1040)) (call $op (i32.const 0x1000))))
  (func $w28 (type $wild) ;; proxy_get_property
    (call $proxy_get_property
      (call $ip (i32.const 0x150)) (call $il (i32.const 11))
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w29 (type $wild) ;; proxy_set_property
    (call $proxy_set_property
      (call $ip (i32.const 0x150)) (call $il (i32.const 11))
      (call $ip (i32.const 0x110)) (call $il (i32.const 1))))
  (func $w30 (type $wild) ;; proxy_call_foreign_function
    (call $proxy_call_foreign_function
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; name
      (call $ip (i32.const 0x100)) (call $il (i32.const 4))   ;; arguments
      (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w31 (type $wild) ;; fd_write
    ;; the iovec at 0x180 points at the message (or wildly)
    (i32.store (i32.const 0x180) (call $ip (i32.const 0x100)))
    (i32.store (i32.const 0x184) (call $il (i32.const 4)))
    (call $fd_write (i32.const 1) (call $ip (i32.const 0x180)) (i32.const 1)
      (call $op (i32.const 0x1000))))
  (func $w32 (type $wild) ;; clock_time_get
    (call $clock_time_get (i32.const 0) (i64.const 0) (call $op (i32.const 0x1000))))
  (func $w33 (type $wild) ;; random_get
    (call $random_get (call $ip (i32.const 0x1120)) (call $il (i32.const 4))))
  (func $w34 (type $wild) ;; environ_sizes_get
    (call $environ_sizes_get (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w35 (type $wild) ;; environ_get
    (call $environ_get (call $op (i32.const 0x1000)) (call $op (i32.const 0x1040))))
  (func $w36 (type $wild) ;; args_sizes_get
    (call $args_sizes_get (call $op (i32.const 0x1000)) (call $op (i32.const 0x1008))))
  (func $w37 (type $wild) ;; args_get
    (call $args_get (call $op (i32.const 0x1000)) (call $op (i32.const 0x1040))))

  ;; wild: makes the configured call and keeps its status.
  (func $wild
    (global.set $status (call_indirect (type $wild) (global.get $fn)))
    (global.set $called (i32.const 1)))

  ;; body_phase: 1 if the configured call belongs in proxy_on_request_body.
  (func $body_phase (result i32)
    (i32.and (i32.ge_u (global.get $fn) (i32.const 4)) (i32.le_u (global.get $fn) (i32.const 6))))

  ;; report: adds `x-status: <status>` to map $map.
  (func $report (param $map i32)
    (local $p i32)
    (local.set $p (call $utoa (global.get $status)))
    (drop (call $proxy_add_header_map_value (local.get $map)
      (i32.const 0x118) (i32.const 8)
      (local.get $p) (i32.sub (i32.const 0x1110) (local.get $p)))))

  ;; parse: 1 if (p, n) is a valid configuration; sets $fn and $mode.
  (func $parse (param $p i32) (param $n i32) (result i32)
    (local $colon i32) (local $fn i32) (local $mode i32) (local $class i32) (local $i i32)
    (if (i32.and (i32.eq (local.get $n) (i32.const 4))
                 (call $memeq (local.get $p) (i32.const 0x1a0) (i32.const 4)))
      (then
        (global.set $fn (i32.const 0))
        (global.set $mode (i32.const 0))
        (return (i32.const 1))))
    (local.set $colon (i32.const -1))
    (block $found
      (loop $scan
        (br_if $found (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 0x3a))
          (then (local.set $colon (local.get $i)) (br $found)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (if (i32.eq (local.get $colon) (i32.const -1)) (then (return (i32.const 0))))
    (local.set $fn (call $lookup (i32.const 0x800) (local.get $p) (local.get $colon)))
    (local.set $mode (call $lookup (i32.const 0x160)
      (i32.add (local.get $p) (i32.add (local.get $colon) (i32.const 1)))
      (i32.sub (local.get $n) (i32.add (local.get $colon) (i32.const 1)))))
    (if (i32.or (i32.eqz (local.get $fn)) (i32.eqz (local.get $mode)))
      (then (return (i32.const 0))))
    ;; does the mode apply? oob: always; wrap/long: "in"; ret: "out"
    (local.set $class (i32.load8_u (i32.add (i32.const 0x300) (local.get $fn))))
    (if (i32.and (i32.or (i32.eq (local.get $mode) (i32.const 2)) (i32.eq (local.get $mode) (i32.const 3)))
                 (i32.eqz (i32.and (local.get $class) (i32.const 1))))
      (then (return (i32.const 0))))
    (if (i32.and (i32.eq (local.get $mode) (i32.const 4))
                 (i32.eqz (i32.and (local.get $class) (i32.const 2))))
      (then (return (i32.const 0))))
    (global.set $fn (local.get $fn))
    (global.set $mode (local.get $mode))
    (i32.const 1))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset)
    (if (local.get $parent)
      (then (global.set $called (i32.const 0)))))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (if (i32.or (i32.eqz (local.get $size)) (i32.gt_u (local.get $size) (i32.const 64)))
      (then (return (i32.const 0))))
    (if (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size)
          (i32.const 0x1040) (i32.const 0x1048))
      (then (return (i32.const 0))))
    (call $parse (i32.load (i32.const 0x1040)) (i32.load (i32.const 0x1048))))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (drop (call $proxy_add_header_map_value (i32.const 0)
      (i32.const 0x108) (i32.const 6) (i32.const 0x110) (i32.const 1)))
    (if (i32.and (i32.ne (global.get $fn) (i32.const 0)) (i32.eqz (call $body_phase)))
      (then
        (call $wild)
        (call $report (i32.const 0))))
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (if (call $body_phase)
      (then (call $wild)))
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (if (global.get $called)
      (then (call $report (i32.const 2))))
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

;; limits.wat — makes the host hold as much as it can (Proxy-Wasm 0.2.1),
;; for the runtime's accounting tests (limits_test.go): header maps grown
;; with 1 MiB values, HTTP calls fired in a loop from proxy_on_tick,
;; thousands of items enqueued at once. The host must refuse what is past
;; its limits with a status, store nothing of it, and keep its own memory
;; and goroutines bounded.
;;
;; Configuration (plugin configuration, exact ASCII): a scenario, and for
;; the header scenarios the map they work on, "<scenario>[:<map>]" with
;; <map> one digit 0-3 (default 0). Anything else: proxy_on_configure
;; returns false.
;;
;; The header scenarios run in the callback of their map: map 0
;; (HTTP_REQUEST_HEADERS) in proxy_on_request_headers, 1
;; (HTTP_REQUEST_TRAILERS) in proxy_on_request_trailers, 2
;; (HTTP_RESPONSE_HEADERS) in proxy_on_response_headers, 3
;; (HTTP_RESPONSE_TRAILERS) in proxy_on_response_trailers. BIG is 1 MiB
;; of 'a'. Every status is recorded (see "Results").
;;
;;   add      64 x add(map, "x-big", BIG), then add(map, "x-small", "1")
;;   replace  replace(map, "x-big", the first n bytes of BIG) for n = 1 KiB,
;;            2 KiB, ... 1 MiB (11 calls), then 64 x with all of BIG
;;   shrink   add(map, "x-more", "1"); replace(map, "x-huge", 1 KiB of
;;            BIG); remove(map, "x-p"); add(map, "x-more", "1")
;;   pairs    set_pairs(map, {"x-big": BIG}); set_pairs(map, 100000 x
;;            {"a": "b"}); set_pairs(map, {"x-ok": "1"})
;;   many     1000 x add(map, "x-n", "1")
;;
;; The other scenarios:
;;
;;   calls    proxy_on_configure sets a 10 ms tick. Each proxy_on_tick
;;            makes 1000 proxy_http_call to upstream "up" (GET / with
;;            :authority up, no body, timeout 60 s), recording each
;;            status; the third tick sets the period to 0 (no more ticks).
;;            proxy_on_request_headers makes one such call from the stream
;;            and stores its status at 0x1214 (not recorded). Each
;;            proxy_on_http_call_response counts at 0x1210.
;;   queue    proxy_on_configure registers queue "q" (its id at 0x1218).
;;            proxy_on_request_headers enqueues 5000 items of 16 bytes,
;;            recording each status. proxy_on_queue_ready counts its calls
;;            at 0x121c and dequeues until the queue answers anything but
;;            OK, counting items at 0x1220.
;;
;; Every callback not described returns CONTINUE / true.
;;
;; Results, u32 little-endian (a test reads them from memory):
;;   0x1200 statuses that were OK          0x1204 statuses that were not
;;   0x1208 the last status that was not OK
;;   0x120c ticks        0x1210 HTTP call responses
;;   0x1214 the stream's HTTP call status  0x1218 queue id
;;   0x121c proxy_on_queue_ready calls     0x1220 items dequeued
;;   0x13fc n, the statuses recorded; 0x1400 the first min(n, 512) of them
;; A header scenario clears 0x1200-0x1208 and n first.
;;
;; Memory: 48 pages (3 MiB), no maximum. 0x0000-0x0fff constants,
;; 0x1000-0x10ff out-parameters, 0x1200-0x1bff results, 0x10000-0x10ffff
;; BIG, 0x120000-0x2effff serialized maps built here, 0x2f0000- heap (bump
;; allocator behind proxy_on_memory_allocate, grown on demand, reset at
;; each callback).
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value"
    (func $remove (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs"
    (func $set_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call"
    (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds"
    (func $set_tick (param i32) (result i32)))
  (import "env" "proxy_register_shared_queue"
    (func $register_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue"
    (func $enqueue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue"
    (func $dequeue (param i32 i32 i32) (result i32)))

  (memory (export "memory") 48)

  ;; scenario names
  (data (i32.const 0x100) "add")     ;; 3
  (data (i32.const 0x108) "replace") ;; 7
  (data (i32.const 0x110) "shrink")  ;; 6
  (data (i32.const 0x118) "pairs")   ;; 5
  (data (i32.const 0x120) "many")    ;; 4
  (data (i32.const 0x128) "calls")   ;; 5
  (data (i32.const 0x130) "queue")   ;; 5
  ;; header names and values
  (data (i32.const 0x140) "x-big")   ;; 5
  (data (i32.const 0x148) "x-small") ;; 7
  (data (i32.const 0x150) "x-more")  ;; 6
  (data (i32.const 0x158) "x-huge")  ;; 6
  (data (i32.const 0x160) "x-p")     ;; 3
  (data (i32.const 0x164) "x-n")     ;; 3
  (data (i32.const 0x168) "1")       ;; 1
  (data (i32.const 0x170) "up")      ;; 2
  (data (i32.const 0x178) "q")       ;; 1
  ;; {"x-ok": "1"}, serialized: 19 bytes
  (data (i32.const 0x180)
    "\01\00\00\00" "\04\00\00\00\01\00\00\00" "x-ok\00" "1\00")
  ;; {":method": "GET", ":path": "/", ":authority": "up"}, serialized: 62 bytes
  (data (i32.const 0x1a0)
    "\03\00\00\00"
    "\07\00\00\00\03\00\00\00" "\05\00\00\00\01\00\00\00" "\0a\00\00\00\02\00\00\00"
    ":method\00GET\00" ":path\00/\00" ":authority\00up\00")
  ;; a queue item: 16 bytes
  (data (i32.const 0x1e0) "0123456789abcdef")

  (global $mode (mut i32) (i32.const 0)) ;; 1 add .. 7 queue
  (global $map (mut i32) (i32.const 0))

  ;; ---- ABI marker ----------------------------------------------------
  (func (export "proxy_abi_version_0_2_1"))

  ;; ---- memory management ---------------------------------------------
  (global $heap (mut i32) (i32.const 0x2f0000))

  (func $reset (global.set $heap (i32.const 0x2f0000)))

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
  ;; eq: the bytes at $a ($an long) equal those at $b ($bn long).
  (func $eq (param $a i32) (param $an i32) (param $b i32) (param $bn i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $an) (local.get $bn))
      (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $an)))
        (if (i32.ne
              (i32.load8_u (i32.add (local.get $a) (local.get $i)))
              (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; copy: $n bytes from $src to $dst.
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
          (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; fill: $n bytes (a multiple of 8) of 'a' at $p.
  (func $fill (param $p i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i64.store (i32.add (local.get $p) (local.get $i)) (i64.const 0x6161616161616161))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next))))

  ;; incr: add one to the u32 at $p.
  (func $incr (param $p i32)
    (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1))))

  ;; rec: record one status.
  (func $rec (param $st i32)
    (local $n i32)
    (if (i32.eqz (local.get $st))
      (then (call $incr (i32.const 0x1200)))
      (else
        (call $incr (i32.const 0x1204))
        (i32.store (i32.const 0x1208) (local.get $st))))
    (local.set $n (i32.load (i32.const 0x13fc)))
    (if (i32.lt_u (local.get $n) (i32.const 512))
      (then
        (i32.store (i32.add (i32.const 0x1400) (i32.shl (local.get $n) (i32.const 2)))
          (local.get $st))
        (i32.store (i32.const 0x13fc) (i32.add (local.get $n) (i32.const 1))))))

  (func $clear
    (i32.store (i32.const 0x1200) (i32.const 0))
    (i32.store (i32.const 0x1204) (i32.const 0))
    (i32.store (i32.const 0x1208) (i32.const 0))
    (i32.store (i32.const 0x13fc) (i32.const 0)))

  ;; ---- header scenarios ----------------------------------------------
  (func $scenario (param $m i32)
    (local $i i32) (local $n i32) (local $d i32)
    (call $clear)
    (call $fill (i32.const 0x10000) (i32.const 0x100000))
    (block $out
      (block $many
        (block $pairs
          (block $shrink
            (block $replace
              (block $add
                (br_table $out $add $replace $shrink $pairs $many $out
                  (global.get $mode)))
              ;; add
              (local.set $i (i32.const 0))
              (loop $next
                (call $rec (call $add (local.get $m)
                  (i32.const 0x140) (i32.const 5) (i32.const 0x10000) (i32.const 0x100000)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $next (i32.lt_u (local.get $i) (i32.const 64))))
              (call $rec (call $add (local.get $m)
                (i32.const 0x148) (i32.const 7) (i32.const 0x168) (i32.const 1)))
              (br $out))
            ;; replace
            (local.set $n (i32.const 1024))
            (loop $grow
              (call $rec (call $replace (local.get $m)
                (i32.const 0x140) (i32.const 5) (i32.const 0x10000) (local.get $n)))
              (local.set $n (i32.shl (local.get $n) (i32.const 1)))
              (br_if $grow (i32.le_u (local.get $n) (i32.const 0x100000))))
            (local.set $i (i32.const 0))
            (loop $next
              (call $rec (call $replace (local.get $m)
                (i32.const 0x140) (i32.const 5) (i32.const 0x10000) (i32.const 0x100000)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $next (i32.lt_u (local.get $i) (i32.const 64))))
            (br $out))
          ;; shrink
          (call $rec (call $add (local.get $m)
            (i32.const 0x150) (i32.const 6) (i32.const 0x168) (i32.const 1)))
          (call $rec (call $replace (local.get $m)
            (i32.const 0x158) (i32.const 6) (i32.const 0x10000) (i32.const 1024)))
          (call $rec (call $remove (local.get $m) (i32.const 0x160) (i32.const 3)))
          (call $rec (call $add (local.get $m)
            (i32.const 0x150) (i32.const 6) (i32.const 0x168) (i32.const 1)))
          (br $out))
        ;; pairs: {"x-big": BIG} at 0x120000
        (i32.store (i32.const 0x120000) (i32.const 1))
        (i32.store (i32.const 0x120004) (i32.const 5))
        (i32.store (i32.const 0x120008) (i32.const 0x100000))
        (call $copy (i32.const 0x12000c) (i32.const 0x140) (i32.const 5))
        (i32.store8 (i32.const 0x120011) (i32.const 0))
        (call $fill (i32.const 0x120012) (i32.const 0x100000))
        (i32.store8 (i32.const 0x220012) (i32.const 0))
        (call $rec (call $set_pairs (local.get $m) (i32.const 0x120000) (i32.const 0x100013)))
        ;; 100000 x {"a": "b"}: sizes from 0x120004, data after them
        (local.set $n (i32.const 100000))
        (i32.store (i32.const 0x120000) (local.get $n))
        (local.set $d (i32.add (i32.const 0x120004) (i32.shl (local.get $n) (i32.const 3))))
        (local.set $i (i32.const 0))
        (loop $next
          (i32.store (i32.add (i32.const 0x120004) (i32.shl (local.get $i) (i32.const 3)))
            (i32.const 1))
          (i32.store (i32.add (i32.const 0x120008) (i32.shl (local.get $i) (i32.const 3)))
            (i32.const 1))
          (i32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2)))
            (i32.const 0x00620061)) ;; "a\00b\00"
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
        (call $rec (call $set_pairs (local.get $m) (i32.const 0x120000)
          (i32.add (i32.const 4) (i32.mul (local.get $n) (i32.const 12)))))
        (call $rec (call $set_pairs (local.get $m) (i32.const 0x180) (i32.const 19)))
        (br $out))
      ;; many
      (local.set $i (i32.const 0))
      (loop $next
        (call $rec (call $add (local.get $m)
          (i32.const 0x164) (i32.const 3) (i32.const 0x168) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))))

  ;; headers scenario for map $m, if that is the configured one.
  (func $maybe (param $m i32)
    (if (i32.and
          (i32.le_u (global.get $mode) (i32.const 5))
          (i32.eq (global.get $map) (local.get $m)))
      (then (call $scenario (local.get $m)))))

  ;; call: one proxy_http_call to "up"; its status.
  (func $call (result i32)
    (call $http_call
      (i32.const 0x170) (i32.const 2)
      (i32.const 0x1a0) (i32.const 62)
      (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0)
      (i32.const 60000)
      (i32.const 0x1000)))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (local $p i32) (local $n i32) (local $name i32) (local $c i32)
    (call $reset)
    (if (call $get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0))))
    (local.set $p (i32.load (i32.const 0x1000)))
    (local.set $n (i32.load (i32.const 0x1004)))
    ;; "<name>:<digit>": the name is all but the last two bytes
    (local.set $name (local.get $n))
    (if (i32.ge_u (local.get $n) (i32.const 2))
      (then
        (if (i32.eq (i32.load8_u (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 2)))
              (i32.const 58)) ;; ':'
          (then
            (local.set $c (i32.sub
              (i32.load8_u (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 1)))
              (i32.const 48)))
            (if (i32.gt_u (local.get $c) (i32.const 3))
              (then (return (i32.const 0))))
            (global.set $map (local.get $c))
            (local.set $name (i32.sub (local.get $n) (i32.const 2)))))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x100) (i32.const 3))
      (then (global.set $mode (i32.const 1))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x108) (i32.const 7))
      (then (global.set $mode (i32.const 2))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x110) (i32.const 6))
      (then (global.set $mode (i32.const 3))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x118) (i32.const 5))
      (then (global.set $mode (i32.const 4))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x120) (i32.const 4))
      (then (global.set $mode (i32.const 5))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x128) (i32.const 5))
      (then (global.set $mode (i32.const 6))))
    (if (call $eq (local.get $p) (local.get $name) (i32.const 0x130) (i32.const 5))
      (then (global.set $mode (i32.const 7))))
    (if (i32.eqz (global.get $mode))
      (then (return (i32.const 0))))
    ;; only the header scenarios take a map
    (if (i32.and (i32.gt_u (global.get $mode) (i32.const 5))
                 (i32.ne (local.get $name) (local.get $n)))
      (then (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 6))
      (then (drop (call $set_tick (i32.const 10)))))
    (if (i32.eq (global.get $mode) (i32.const 7))
      (then
        (if (call $register_queue (i32.const 0x178) (i32.const 1) (i32.const 0x1218))
          (then (return (i32.const 0))))))
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (local $i i32)
    (call $reset)
    (if (i32.eq (global.get $mode) (i32.const 6))
      (then (i32.store (i32.const 0x1214) (call $call))))
    (if (i32.eq (global.get $mode) (i32.const 7))
      (then
        (loop $next
          (call $rec (call $enqueue (i32.load (i32.const 0x1218))
            (i32.const 0x1e0) (i32.const 16)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (i32.const 5000))))))
    (call $maybe (i32.const 0))
    (i32.const 0))

  (func (export "proxy_on_request_trailers") (param $ctx i32) (param $n i32) (result i32)
    (call $reset)
    (call $maybe (i32.const 1))
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (call $maybe (i32.const 2))
    (i32.const 0))

  (func (export "proxy_on_response_trailers") (param $ctx i32) (param $n i32) (result i32)
    (call $reset)
    (call $maybe (i32.const 3))
    (i32.const 0))

  (func (export "proxy_on_tick") (param $ctx i32)
    (local $i i32)
    (call $reset)
    (if (i32.ne (global.get $mode) (i32.const 6))
      (then (return)))
    (call $incr (i32.const 0x120c))
    (loop $next
      (call $rec (call $call))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))
    (if (i32.ge_u (i32.load (i32.const 0x120c)) (i32.const 3))
      (then (drop (call $set_tick (i32.const 0))))))

  (func (export "proxy_on_http_call_response")
    (param $ctx i32) (param $token i32) (param $nh i32) (param $body i32) (param $nt i32)
    (call $reset)
    (call $incr (i32.const 0x1210)))

  (func (export "proxy_on_queue_ready") (param $ctx i32) (param $id i32)
    (call $reset)
    (call $incr (i32.const 0x121c))
    (block $empty
      (loop $next
        (br_if $empty (call $dequeue (local.get $id) (i32.const 0x1000) (i32.const 0x1004)))
        (call $incr (i32.const 0x1220))
        (br $next))))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $reset)
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32)
    (call $reset))
)

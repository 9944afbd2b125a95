;; hostile.wat — misbehaves in one callback chosen by its configuration
;; (Proxy-Wasm 0.2.1). The host must contain it: no Go panic, no hang, no
;; unbounded memory, the failing instance discarded, other requests and
;; plugins unaffected.
;;
;; Configuration (plugin configuration, exact ASCII, no whitespace):
;;
;;   "ok"                  behave: every callback succeeds
;;   "trap:<callback>"     `unreachable` in <callback> (a Wasm trap)
;;   "loop:<callback>"     `loop br 0` in <callback>: never returns; the
;;                         host must interrupt it (deadline / fuel)
;;   "grow:<callback>"     memory.grow in <callback> until it returns -1
;;                         (16 pages at a time, then 1 at a time, so memory
;;                         ends exactly at the host's limit), then trap
;;   "growquiet:<callback>" the same growth, then return normally (CONTINUE,
;;                         or true for vm_start/configure/done): nothing
;;                         failed, but the instance now holds the maximum
;;                         memory and the host must still discard/recycle it
;;   anything else         proxy_on_configure returns false (refused)
;;
;;   <callback>         callback                    fires for
;;   vm_start           proxy_on_vm_start           see "vm_start" below
;;   configure          proxy_on_configure          the plugin context
;;   context_create     proxy_on_context_create     stream contexts only
;;                                                  (parent_context_id != 0)
;;   request_headers    proxy_on_request_headers    every request
;;   request_body       proxy_on_request_body       every body chunk
;;   response_headers   proxy_on_response_headers   every response
;;   response_body      proxy_on_response_body      every body chunk
;;   done               proxy_on_done               stream contexts only
;;   delete             proxy_on_delete             stream contexts only
;;
;; (The plugin context is created before any configuration can be read, and
;; done/delete of the plugin context happen at shutdown; those are not
;; targeted, so a test's shutdown stays quick.)
;;
;; vm_start: proxy_on_vm_start runs before proxy_on_configure, so it cannot
;; see what on_configure reads. It reads the same syntax itself, first from
;; VM_CONFIGURATION (buffer 6, the one the spec makes readable there) when
;; vm_configuration_size > 0, then from PLUGIN_CONFIGURATION (buffer 7) if
;; the host offers it there (the spec only promises it in on_configure). So
;; "trap:vm_start" etc. fire only if the host passes the string as VM
;; configuration, or makes the plugin configuration readable in vm_start.
;; Unparsable or unavailable configuration in vm_start is ignored (vm_start
;; returns true); on_configure decides.
;;
;; When not misbehaving, proxy_on_request_headers adds
;; `x-hostile: <configuration>` to the request headers (map 0), so a test
;; can see a healthy instance serve a request (e.g. after a growquiet one).
(module
  ;; proxy_get_buffer_bytes(buffer_id, start, max_size,
  ;;                        return_value_data, return_value_size) -> status
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_get_buffer_status(buffer_id, return_buffer_size,
  ;;                         return_ignored) -> status
  (import "env" "proxy_get_buffer_status"
    (func $get_buffer_status (param i32 i32 i32) (result i32)))
  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  ;; Name tables: NUL-terminated names, an empty name ends the table.
  ;; Index = position + 1 (0 = not found).
  (data (i32.const 0x100) "trap\00loop\00grow\00growquiet\00\00")
  (data (i32.const 0x140)
    "vm_start\00"          ;; 1
    "configure\00"         ;; 2
    "context_create\00"    ;; 3
    "request_headers\00"   ;; 4
    "request_body\00"      ;; 5
    "response_headers\00"  ;; 6
    "response_body\00"     ;; 7
    "done\00"              ;; 8
    "delete\00"            ;; 9
    "\00")
  (data (i32.const 0x200) "ok")         ;; 2
  (data (i32.const 0x210) "x-hostile")  ;; 9

  ;; Callback numbers (rows of the table above).
  ;; vm_start=1 configure=2 context_create=3 request_headers=4
  ;; request_body=5 response_headers=6 response_body=7 done=8 delete=9

  ;; action: 0 none, 1 trap, 2 loop, 3 grow, 4 growquiet
  (global $action (mut i32) (i32.const 0))
  (global $target (mut i32) (i32.const 0))
  ;; a copy of the accepted configuration lives at 0x1200 (max 64 bytes)
  (global $cfg_len (mut i32) (i32.const 0))
  ;; the plugin (root) context id, to leave it out of done/delete
  (global $root (mut i32) (i32.const 0))

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

  ;; ---- configuration parsing -----------------------------------------
  ;; memeq: 1 if the n bytes at a and b are equal.
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
      ;; len = strlen(table)
      (local.set $len (i32.const 0))
      (block $end
        (loop $scan
          (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $table) (local.get $len)))))
          (local.set $len (i32.add (local.get $len) (i32.const 1)))
          (br $scan)))
      (if (i32.eqz (local.get $len)) (then (return (i32.const 0)))) ;; end of table
      (if (i32.eq (local.get $len) (local.get $n))
        (then
          (if (call $memeq (local.get $table) (local.get $s) (local.get $n))
            (then (return (local.get $idx))))))
      (local.set $table (i32.add (local.get $table) (i32.add (local.get $len) (i32.const 1))))
      (br $entry))
    (unreachable))

  ;; parse: 1 and sets $action/$target/$cfg_len if (p, n) is a valid
  ;; configuration, else 0 and changes nothing.
  (func $parse (param $p i32) (param $n i32) (result i32)
    (local $colon i32) (local $action i32) (local $target i32) (local $i i32)
    (if (i32.gt_u (local.get $n) (i32.const 64)) (then (return (i32.const 0))))
    (if (i32.and (i32.eq (local.get $n) (i32.const 2))
                 (call $memeq (local.get $p) (i32.const 0x200) (i32.const 2)))
      (then
        (local.set $action (i32.const 0))
        (local.set $target (i32.const 0)))
      (else
        ;; colon = index of the first ':'
        (local.set $colon (i32.const -1))
        (block $found
          (loop $scan
            (br_if $found (i32.ge_u (local.get $i) (local.get $n)))
            (if (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 0x3a))
              (then (local.set $colon (local.get $i)) (br $found)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (if (i32.eq (local.get $colon) (i32.const -1)) (then (return (i32.const 0))))
        (local.set $action (call $lookup (i32.const 0x100) (local.get $p) (local.get $colon)))
        (local.set $target (call $lookup (i32.const 0x140)
          (i32.add (local.get $p) (i32.add (local.get $colon) (i32.const 1)))
          (i32.sub (local.get $n) (i32.add (local.get $colon) (i32.const 1)))))
        (if (i32.or (i32.eqz (local.get $action)) (i32.eqz (local.get $target)))
          (then (return (i32.const 0))))))
    ;; accepted: copy it (byte by byte) to 0x1200
    (local.set $i (i32.const 0))
    (block $copied
      (loop $copy
        (br_if $copied (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (i32.const 0x1200) (local.get $i))
          (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (global.set $cfg_len (local.get $n))
    (global.set $action (local.get $action))
    (global.set $target (local.get $target))
    (i32.const 1))

  ;; read_config: reads up to 64 bytes of buffer $buf (size $size) and
  ;; parses them; 1 if accepted.
  (func $read_config (param $buf i32) (param $size i32) (result i32)
    (if (i32.or (i32.eqz (local.get $size)) (i32.gt_u (local.get $size) (i32.const 64)))
      (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (local.get $buf) (i32.const 0) (local.get $size)
          (i32.const 0x1000) (i32.const 0x1004))
      (then (return (i32.const 0))))
    (call $parse (i32.load (i32.const 0x1000)) (i32.load (i32.const 0x1004))))

  ;; ---- misbehaviour --------------------------------------------------
  ;; hostile: does the configured action if $cb is the configured target.
  (func $hostile (param $cb i32)
    (if (i32.ne (local.get $cb) (global.get $target)) (then (return)))
    (block $grow
      (block $loop
        (block $trap
          (br_table $trap $trap $loop $grow $grow (global.get $action)))
        ;; action 0 never reaches here ($target is 0 then), 1 = trap
        (unreachable))
      ;; 2 = loop forever
      (loop $spin (br $spin)))
    ;; 3 = grow, 4 = growquiet: grow until memory.grow fails
    (block $full
      (loop $big
        (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $big)))
    (block $full1
      (loop $small
        (br_if $full1 (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $small)))
    (if (i32.eq (global.get $action) (i32.const 3)) (then (unreachable))))

  ;; ---- callbacks -----------------------------------------------------
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $reset)
    (if (i32.eqz (local.get $parent))
      (then (global.set $root (local.get $ctx)) (return)))
    (call $hostile (i32.const 3)))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (global.set $root (local.get $ctx))
    ;; VM_CONFIGURATION first, then PLUGIN_CONFIGURATION if offered here
    (if (i32.eqz (call $read_config (i32.const 6) (local.get $size)))
      (then
        (if (i32.eqz (call $get_buffer_status (i32.const 7) (i32.const 0x1008) (i32.const 0x100c)))
          (then
            (drop (call $read_config (i32.const 7) (i32.load (i32.const 0x1008))))))))
    (call $hostile (i32.const 1))
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $reset)
    (global.set $root (local.get $ctx))
    (if (i32.eqz (call $read_config (i32.const 7) (local.get $size)))
      (then (return (i32.const 0)))) ;; refused
    (call $hostile (i32.const 2))
    (i32.const 1))

  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (call $hostile (i32.const 4))
    (drop (call $add_header (i32.const 0)
      (i32.const 0x210) (i32.const 9) (i32.const 0x1200) (global.get $cfg_len)))
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (call $hostile (i32.const 5))
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)
    (call $hostile (i32.const 6))
    (i32.const 0))

  (func (export "proxy_on_response_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $reset)
    (call $hostile (i32.const 7))
    (i32.const 0))

  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $reset)
    (if (i32.ne (local.get $ctx) (global.get $root))
      (then (call $hostile (i32.const 8))))
    (i32.const 1))

  (func (export "proxy_on_delete") (param $ctx i32)
    (call $reset)
    (if (i32.ne (local.get $ctx) (global.get $root))
      (then (call $hostile (i32.const 9)))))
)

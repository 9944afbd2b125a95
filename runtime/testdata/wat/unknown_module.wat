;; unknown_module.wat — imports a function from a module that is neither
;; "env" nor "wasi_snapshot_preview1".
;;
;; Expected host behaviour: loading fails with an error naming the import
;; (module "not_env", field "proxy_log"); no callback is ever called (each
;; of them would trap). Unlike unknown `env.proxy_*` functions
;; (wild_imports.wat), an unknown module is not stubbed.
(module
  (import "not_env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (func (export "proxy_abi_version_0_2_1"))

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (unreachable))
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (unreachable))
  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (unreachable))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 0) (i32.const 0)))
    (unreachable))
  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (unreachable))
  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (unreachable))
  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (unreachable))
  (func (export "proxy_on_response_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (unreachable))
  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (unreachable))
  (func (export "proxy_on_delete") (param $ctx i32)
    (unreachable))
)

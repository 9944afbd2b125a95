;; no_abi.wat — a valid Wasm module with every Proxy-Wasm callback but no
;; proxy_abi_version_* export.
;;
;; Expected host behaviour: loading fails with an error that says the module
;; does not declare a supported Proxy-Wasm ABI version (no
;; proxy_abi_version_0_2_1 / _0_2_0 export); no callback is ever called
;; (each of them would trap, so a host that runs one anyway fails loudly).
(module
  (memory (export "memory") 1)

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (unreachable))
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (unreachable))
  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (unreachable))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
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

//! Host bindings generated from `wit/` by `wasmtime::component::bindgen!`. Generated code only.
//!
//! WASI packages are mapped onto wasmtime-wasi and wasmtime-wasi-http, so the HTTP types a
//! guest sees are the ones the HTTP capability's egress hooks operate on.

#![allow(missing_docs, unreachable_pub)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "corral:tool/tool-plugin",
    imports: {
        // SQL runs on the database driver's own async I/O; the other capabilities never block
        // for long (storage is bounded local file I/O) and stay synchronous.
        "corral:tool/database": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    require_store_data_send: true,
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

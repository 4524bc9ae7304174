//! Guest bindings generated from `wit/` by wit-bindgen. Generated code only; authors use the
//! typed wrappers in this crate instead.

#![allow(missing_docs, unreachable_pub, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    path: "../wit",
    world: "corral:tool/tool-plugin",
    // The export macro is used from the author's crate through `export_tools!`.
    pub_export_macro: true,
    export_macro_name: "__export_tool_plugin",
    default_bindings_module: "corral_plugin_sdk::bindings",
    runtime_path: "corral_plugin_sdk::__private::wit_bindgen::rt",
    generate_all,
});

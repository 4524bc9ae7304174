//! Hostile test guest: every tool misbehaves on purpose. The host's tests show each one is
//! contained with a clear error and that the next call still works.

use corral_plugin_sdk::http::{Method, Request};
use corral_plugin_sdk::prelude::*;
use corral_plugin_sdk::storage;
use std::hint::black_box;

/// No arguments.
#[derive(Deserialize, JsonSchema)]
struct Nothing {}

fn spin_forever(_: Nothing, _: &Context) -> Result<serde_json::Value, ToolError> {
    let mut x: u64 = 0;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

fn allocate_unbounded(_: Nothing, _: &Context) -> Result<serde_json::Value, ToolError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk[black_box(4096)] = 1; // touch it so it is really committed
        hoard.push(black_box(chunk));
    }
}

#[inline(never)]
#[allow(
    unconditional_recursion,
    reason = "hostile on purpose: it must overflow the stack"
)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(black_box(depth + 1)) + frame[black_box(3)]
}

fn recurse_deeply(_: Nothing, _: &Context) -> Result<serde_json::Value, ToolError> {
    Ok(json!(recurse(0)))
}

fn panic_now(_: Nothing, _: &Context) -> Result<serde_json::Value, ToolError> {
    panic!("hostile guest panicked on purpose");
}

/// How much output.
#[derive(Deserialize, JsonSchema)]
struct Size {
    /// Mebibytes of text to return.
    megabytes: u32,
}

fn huge_output(args: Size, _: &Context) -> Result<String, ToolError> {
    Ok("x".repeat(args.megabytes as usize * 1024 * 1024))
}

/// A host path.
#[derive(Deserialize, JsonSchema)]
struct PathArg {
    /// Any path on the host.
    path: String,
}

fn read_host_file(args: PathArg, _: &Context) -> Result<String, ToolError> {
    std::fs::read_to_string(&args.path)
        .map_err(|e| ToolError::failed(format!("reading {}: {e}", args.path)))
}

fn read_env(_: Nothing, _: &Context) -> Result<serde_json::Value, ToolError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().collect();
    Ok(json!({ "vars": vars, "args": args }))
}

/// Where to send a GET.
#[derive(Deserialize, JsonSchema)]
struct Url {
    /// Any URL.
    url: String,
    /// Redirects to follow (default 5).
    max_redirects: Option<u32>,
}

fn http_get(args: Url, _: &Context) -> Result<serde_json::Value, ToolError> {
    let response = Request::new(Method::Get, &args.url)
        .max_redirects(args.max_redirects.unwrap_or(5))
        .send()
        .map_err(ToolError::failed)?;
    Ok(json!({ "status": response.status, "body": response.text() }))
}

/// Text to print.
#[derive(Deserialize, JsonSchema)]
struct Text {
    /// Printed to stdout and stderr.
    text: String,
}

fn print_stdout(args: Text, _: &Context) -> Result<serde_json::Value, ToolError> {
    println!("{}", args.text);
    eprintln!("{}", args.text);
    Ok(json!({ "ok": true }))
}

fn write_storage_path(args: PathArg, _: &Context) -> Result<serde_json::Value, ToolError> {
    let info = storage::write(&args.path, b"planted", None)?;
    Ok(json!({ "path": info.path }))
}

fn read_storage_path(args: PathArg, _: &Context) -> Result<String, ToolError> {
    Ok(storage::read_to_string(&args.path)?)
}

corral_plugin_sdk::export_tools![
    Tool::new("spin_forever", "Loops forever.", spin_forever),
    Tool::new(
        "allocate_unbounded",
        "Allocates memory until something stops it.",
        allocate_unbounded
    ),
    Tool::new("recurse_deeply", "Recurses without end.", recurse_deeply),
    Tool::new("panic_now", "Panics.", panic_now),
    Tool::new("huge_output", "Returns a huge result.", huge_output),
    Tool::new(
        "read_host_file",
        "Tries to read a file of the host.",
        read_host_file
    ),
    Tool::new(
        "read_env",
        "Tries to read the host's environment and arguments.",
        read_env
    ),
    Tool::new("http_get", "GETs any URL, following redirects.", http_get),
    Tool::new("print_stdout", "Prints to stdout and stderr.", print_stdout),
    Tool::new(
        "write_storage_path",
        "Writes to any storage path.",
        write_storage_path
    ),
    Tool::new(
        "read_storage_path",
        "Reads any storage path.",
        read_storage_path
    ),
];

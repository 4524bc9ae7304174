//! Corral: an agent server whose tools all run as sandboxed WebAssembly components.
//!
//! # Layout
//! - [`sandbox`]: wasmtime engine, compile cache, per-call stores, limits, trap handling.
//! - [`capabilities`]: what a guest may import (log, config, storage, database, HTTP), each
//!   denied unless the tool assignment grants it.
//! - [`boundary`]: the one path every tool call takes: resolve, inject `config_override`,
//!   validate, gate on confirmation, execute, record.
//! - [`tool`]: descriptors and typed failures shared by all of the above.
//! - [`cli`]: the `corral` command line (`corral tool new|build|inspect|call`).
//! - [`bindings`]: code generated from `wit/`.

pub mod bindings;
pub mod boundary;
pub mod capabilities;
pub mod cli;
pub mod sandbox;
pub mod tool;

/// The WIT contract, embedded so the CLI can hand it to tool projects and toolchains.
pub mod wit_files;

#[doc(hidden)]
pub mod artifacts;

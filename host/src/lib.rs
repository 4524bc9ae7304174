//! Corral: an agent server whose tools all run as sandboxed WebAssembly components.
//!
//! # Layout
//! - [`sandbox`]: wasmtime engine, compile cache, per-call stores, limits, trap handling.
//! - [`capabilities`]: what a guest may import (log, config, storage, database, HTTP), each
//!   denied unless the tool assignment grants it.
//! - [`boundary`]: the one path every tool call takes: resolve, inject `config_override`,
//!   validate, gate on confirmation, execute, record.
//! - [`tool`]: descriptors and typed failures shared by all of the above.
//! - [`store`]: persistence (SQLite default, Postgres) behind one set of queries.
//! - [`registry`]: every assignable tool: builtins shipped in the binary and custom tools.
//! - [`api`]: the REST API (axum), with auth, errors and the OpenAPI document.
//! - [`server`]: `corral serve` start-up, admin key, graceful shutdown.
//! - [`agent_settings`], [`hooks`]: the rules agent settings and hook registrations follow.
//! - [`cli`]: the `corral` command line (`corral serve`, `corral tool new|build|inspect|call`).
//! - [`bindings`]: code generated from `wit/`.

pub mod agent_settings;
pub mod api;
pub mod bindings;
pub mod boundary;
pub mod capabilities;
pub mod cli;
pub mod engine;
pub mod hooks;
pub mod llm;
pub mod registry;
pub mod sandbox;
pub mod server;
pub mod store;
pub mod tool;

/// The WIT contract, embedded so the CLI can hand it to tool projects and toolchains.
pub mod wit_files;

#[doc(hidden)]
pub mod artifacts;

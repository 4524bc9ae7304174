//! Paths of the tool components `host/build.rs` built from `plugins/`, for tests, benchmarks
//! and examples. Not part of the public API.

#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

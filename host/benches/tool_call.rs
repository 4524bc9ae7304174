//! `cargo bench -p corral --bench tool_call`
//!
//! The full host-boundary round trip (resolve, inject, validate, gate, fresh store + instance,
//! call, drop, record) for a trivial Rust tool, side by side with bare wasmtime
//! instantiate + call + drop of the same component on the same engine; then the Python and
//! JavaScript examples through the boundary. Numbers go to BENCHMARKS.md.

use corral::artifacts;
use corral::bindings::ToolPluginPre;
use corral::bindings::exports::corral::tool::tool::CallContext;
use corral::boundary::assignment::{Assignment, AssignmentSpec, Toolset};
use corral::boundary::catalog::Catalog;
use corral::boundary::gate::MemoryPendingStore;
use corral::boundary::record::NoRecorder;
use corral::boundary::{Boundary, CallOutcome, ToolCall};
use corral::capabilities::config::{ConfigCtx, ConfigView};
use corral::capabilities::log::{LogCtx, LogView};
use corral::sandbox::{Sandbox, SandboxConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The least a store needs to run the `echo` component: WASI and the two capabilities it imports.
struct BareState {
    wasi: WasiCtx,
    table: ResourceTable,
    log: LogCtx,
    config: ConfigCtx,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn sandbox() -> Arc<Sandbox> {
    let data = std::env::temp_dir().join("corral-bench");
    let mut config = SandboxConfig::in_data_dir(&data);
    config.cache_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/corral-bench-cache");
    Arc::new(Sandbox::new(config).expect("sandbox"))
}

fn boundary_for(
    rt: &tokio::runtime::Runtime,
    sandbox: &Arc<Sandbox>,
    path: &Path,
    tool: &str,
    config: &[(&str, &str)],
) -> (Boundary, Toolset) {
    let bytes = std::fs::read(path).expect("component");
    let (component, _) = rt.block_on(sandbox.load(&bytes, || {})).expect("load");
    let catalog = Catalog::new();
    catalog.add_component(&component).expect("catalog");
    let spec = AssignmentSpec {
        id: "bench".into(),
        tool_name: tool.into(),
        config_override: serde_json::json!({}),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let mut toolset = Toolset::new();
    toolset.insert(
        Assignment::prepare(spec, &catalog, &sandbox.config().ceilings).expect("assignment"),
    );
    let boundary = Boundary::new(
        sandbox.clone(),
        Arc::new(MemoryPendingStore::default()),
        Arc::new(NoRecorder),
    );
    (boundary, toolset)
}

async fn through_boundary(
    boundary: &Boundary,
    toolset: &Toolset,
    tool: &str,
    arguments: serde_json::Value,
) {
    let call = ToolCall {
        call_id: "bench".into(),
        tool_name: tool.into(),
        arguments,
        run_id: None,
    };
    match boundary.call(toolset, call, false).await {
        CallOutcome::Finished(done) => {
            done.result.expect("the benchmarked call succeeds");
        }
        CallOutcome::Pending(_) => panic!("not gated"),
    }
}

fn rust_tool(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = sandbox();
    let engine = sandbox.engine().clone();
    let bytes = std::fs::read(artifacts::ECHO).unwrap();
    let (component, _) = sandbox.cache().load(&engine, &bytes, || {}).unwrap();

    let mut linker: Linker<BareState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    corral::capabilities::log::add_to_linker(&mut linker, |s: &mut BareState| {
        LogView::new(&mut s.log)
    })
    .unwrap();
    corral::capabilities::config::add_to_linker(&mut linker, |s: &mut BareState| {
        ConfigView::new(&s.config)
    })
    .unwrap();
    let pre = ToolPluginPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    let context = CallContext {
        call_id: "bench".into(),
        run_id: None,
        assignment_id: None,
    };

    let (boundary, toolset) = boundary_for(&rt, &sandbox, Path::new(artifacts::ECHO), "add", &[]);

    let mut group = c.benchmark_group("rust_add");
    group.bench_function("bare_wasmtime", |b| {
        b.to_async(&rt).iter(|| async {
            let state = BareState {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                log: LogCtx::new("add", "bench"),
                config: ConfigCtx::denied(),
            };
            let mut store = Store::new(&engine, state);
            store.set_epoch_deadline(1000);
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let out = instance
                .corral_tool_tool()
                .call_invoke(&mut store, "add", r#"{"a":1,"b":2}"#, &context)
                .await
                .unwrap();
            assert!(out.is_ok());
        })
    });
    group.bench_function("boundary", |b| {
        b.to_async(&rt).iter(|| {
            through_boundary(
                &boundary,
                &toolset,
                "add",
                serde_json::json!({"a": 1, "b": 2}),
            )
        })
    });
    group.finish();
}

fn polyglot_tools(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/polyglot");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = sandbox();
    let mut group = c.benchmark_group("polyglot");
    group.sample_size(30);
    // `greet` is the trivial Python tool (one config read, one f-string): the counterpart of
    // the Rust `add`. `word_stats` does real work (Counter, sorting) on a short text.
    let prefix: &[(&str, &str)] = &[("greeting_prefix", "Howdy")];
    for (file, tool, args, config) in [
        (
            "word_stats.wasm",
            "greet",
            serde_json::json!({"name": "Ada"}),
            prefix,
        ),
        (
            "word_stats.wasm",
            "word_stats",
            serde_json::json!({"text": "the cat and the hat"}),
            &[],
        ),
        (
            "unit_convert.wasm",
            "convert_length",
            serde_json::json!({"value": 1, "from": "m", "to": "cm"}),
            &[],
        ),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!(
                "{} missing: run scripts/build-polyglot.sh to benchmark it",
                path.display()
            );
            continue;
        }
        let (boundary, toolset) = boundary_for(&rt, &sandbox, &path, tool, config);
        group.bench_function(format!("boundary_{tool}"), |b| {
            b.to_async(&rt)
                .iter(|| through_boundary(&boundary, &toolset, tool, args.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, rust_tool, polyglot_tools);
criterion_main!(benches);

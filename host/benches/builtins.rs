//! `cargo bench -p corral --bench builtins`
//!
//! One call of each builtin tool through the host boundary on a small input: the whole path a
//! model's call takes (inject, validate, gate, fresh instance, capability work, record). The
//! HTTP tools talk to a loopback server started here (a page, a JSON search answer), the
//! database tools to a SQLite data database with a ten-row table. Numbers go to BENCHMARKS.md.

use axum::Router;
use axum::routing::get;
use corral::artifacts;
use corral::boundary::assignment::{Assignment, AssignmentSpec, Toolset};
use corral::boundary::catalog::Catalog;
use corral::boundary::gate::{ConfirmationSetting, MemoryPendingStore};
use corral::boundary::record::NoRecorder;
use corral::boundary::{Boundary, CallOutcome, ToolCall};
use corral::capabilities::Grants;
use corral::capabilities::http::HttpGrant;
use corral::capabilities::storage::StorageGrant;
use corral::sandbox::{Sandbox, SandboxConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const PAGE: &str = "<html><head><title>Bench page</title></head><body><nav>menu</nav>\
    <main><h1>Hello</h1><p>A short paragraph with a <a href=\"/next\">link</a>.</p></main></body></html>";
const SEARCH: &str = r#"{"results": [
    {"title": "One", "url": "https://one.example/", "content": "first"},
    {"title": "Two", "url": "https://two.example/", "content": "second"}]}"#;

fn loopback_server(rt: &tokio::runtime::Runtime) -> String {
    let app = Router::new()
        .route("/page", get(|| async { axum::response::Html(PAGE) }))
        .route(
            "/api",
            get(|| async { axum::Json(json!({"ok": true, "items": [1, 2, 3]})) }),
        )
        .route(
            "/search",
            get(|| async { ([("content-type", "application/json")], SEARCH) }),
        );
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    })
}

fn bench_builtins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(data.path().join("data.db"))
        .unwrap()
        .execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
             INSERT INTO notes SELECT i, 'note ' || i FROM n;",
        )
        .unwrap();
    let mut config = SandboxConfig::in_data_dir(data.path());
    config.cache_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/corral-bench-cache");
    let sandbox = Arc::new(Sandbox::new(config).expect("sandbox"));
    let catalog = Catalog::new();
    for (_, bytes) in artifacts::BUILTINS {
        let (component, _) = rt.block_on(sandbox.load(bytes, || {})).expect("builtin");
        catalog.add_component(&component).expect("catalog");
    }
    let server = loopback_server(&rt);
    let mut http = HttpGrant::to_hosts(Vec::<String>::new());
    http.private_hosts = vec![server.clone()];
    let web = Grants {
        http: Some(http),
        storage: None,
    };
    let bucket = Grants {
        http: None,
        storage: Some(StorageGrant::new("bench").unwrap()),
    };
    let tables = json!({"schemas": {"main": ["notes"]}});
    let searxng = [
        ("backend".to_string(), "searxng".to_string()),
        ("base_url".to_string(), format!("http://{server}")),
    ];

    let cases: Vec<(&str, AssignmentSpec, Value)> = vec![
        (
            "database_query",
            AssignmentSpec {
                config_override: tables.clone(),
                ..spec("database_query")
            },
            json!({"sql": "SELECT id, body FROM notes WHERE id <= ?1", "params": [5]}),
        ),
        (
            "database_write",
            AssignmentSpec {
                config_override: tables.clone(),
                ..spec("database_write")
            },
            json!({"sql": "UPDATE notes SET body = ?1 WHERE id = 1", "params": ["bench"]}),
        ),
        (
            "http_request",
            AssignmentSpec {
                grants: web.clone(),
                ..spec("http_request")
            },
            json!({"url": format!("http://{server}/api")}),
        ),
        (
            "web_scrape",
            AssignmentSpec {
                grants: web.clone(),
                ..spec("web_scrape")
            },
            json!({"url": format!("http://{server}/page")}),
        ),
        (
            "web_search",
            AssignmentSpec {
                grants: web.clone(),
                config: searxng.into_iter().collect(),
                ..spec("web_search")
            },
            json!({"query": "corral", "max_results": 2}),
        ),
        (
            "storage_write",
            AssignmentSpec {
                grants: bucket.clone(),
                ..spec("storage_write")
            },
            json!({"action": "write", "path": "notes/a.txt", "content": "hello"}),
        ),
        (
            "storage_read",
            AssignmentSpec {
                grants: bucket.clone(),
                ..spec("storage_read")
            },
            json!({"action": "read", "path": "notes/a.txt"}),
        ),
        (
            "code_execute",
            spec("code_execute"),
            json!({"code": "sum(i * i for i in range(100))"}),
        ),
    ];

    let boundary = Boundary::new(
        sandbox.clone(),
        Arc::new(MemoryPendingStore::default()),
        Arc::new(NoRecorder),
    );
    let mut group = c.benchmark_group("builtin");
    group.sample_size(50);
    for (tool, spec, args) in cases {
        if catalog.get(tool).is_none() {
            eprintln!("{tool} is not built in; skipped");
            continue;
        }
        let mut toolset = Toolset::new();
        toolset.insert(
            Assignment::prepare(spec, &catalog, &sandbox.config().ceilings).expect("assignment"),
        );
        // Once outside the timing: it must succeed, and the storage object must exist.
        rt.block_on(call(&boundary, &toolset, tool, args.clone()));
        group.bench_function(tool, |b| {
            b.to_async(&rt)
                .iter(|| call(&boundary, &toolset, tool, args.clone()))
        });
    }
    group.finish();
}

/// `tool` with confirmation off: the benchmark measures the call, not a human.
fn spec(tool: &str) -> AssignmentSpec {
    AssignmentSpec {
        id: format!("bench-{tool}"),
        tool_name: tool.into(),
        config_override: json!({}),
        confirmation: ConfirmationSetting::Never,
        ..Default::default()
    }
}

async fn call(boundary: &Boundary, toolset: &Toolset, tool: &str, arguments: Value) {
    let call = ToolCall {
        call_id: "bench".into(),
        tool_name: tool.into(),
        arguments,
        run_id: None,
    };
    match boundary.call(toolset, call, false).await {
        CallOutcome::Finished(done) => {
            if let Err(failure) = done.result {
                panic!("{tool}: {:?} {}", failure.kind, failure.message);
            }
        }
        CallOutcome::Pending(_) => panic!("{tool}: not gated"),
    }
}

criterion_group!(benches, bench_builtins);
criterion_main!(benches);

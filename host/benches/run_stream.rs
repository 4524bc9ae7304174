//! `cargo bench -p corral --bench run_stream`
//!
//! The server's own cost of one agent run: a real HTTP `POST /api/agents/{id}/run/stream`
//! against `corral serve` (SQLite, in this process on a loopback port), with the `scripted`
//! model (so no model time is in the number) making one tool call (`add`, through the host
//! boundary and the sandbox) and then answering. The client reads the whole SSE stream. Then
//! runs/second with 1 and 4 clients at once. Numbers go to BENCHMARKS.md.

use corral::server::config::{FileConfig, Overrides, ServerConfig};
use corral::server::{AdminKey, build_state, ensure_admin_key, serve};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::time::{Duration, Instant};

struct Server {
    base: String,
    key: String,
    agent: String,
    _data: tempfile::TempDir,
}

async fn start() -> Server {
    let data = tempfile::tempdir().unwrap();
    let config = ServerConfig::resolve(
        Overrides {
            data_dir: Some(data.path().to_path_buf()),
            cache_dir: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/corral-test-cache"),
            ),
            ..Overrides::default()
        },
        FileConfig::default(),
    )
    .unwrap();
    let state = build_state(&config).await.unwrap();
    let AdminKey::Generated(key) = ensure_admin_key(&state.store, None).await.unwrap() else {
        panic!("fresh database")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, state, std::future::pending()));
    let http = reqwest::Client::new();
    let upload = http
        .post(format!("{base}/api/tools"))
        .bearer_auth(&key)
        .header("content-type", "application/wasm")
        .body(std::fs::read(corral::artifacts::ECHO).unwrap())
        .send()
        .await
        .unwrap();
    assert!(upload.status().is_success());
    let agent: serde_json::Value = http
        .post(format!("{base}/api/agents"))
        .bearer_auth(&key)
        .json(
            &json!({"name": "bench", "model": "scripted", "settings": {"script": [
                {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
                {"text": "The sum is 3."}
            ]}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent = agent["id"].as_str().unwrap().to_string();
    let assigned = http
        .post(format!("{base}/api/agents/{agent}/tools"))
        .bearer_auth(&key)
        .json(&json!({"tool_name": "add"}))
        .send()
        .await
        .unwrap();
    assert!(assigned.status().is_success());
    Server {
        base,
        key,
        agent,
        _data: data,
    }
}

async fn one_run(http: &reqwest::Client, server: &Server) {
    let body = http
        .post(format!(
            "{}/api/agents/{}/run/stream",
            server.base, server.agent
        ))
        .bearer_auth(&server.key)
        .json(&json!({"message": "add 1 and 2"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"complete\""), "{body}");
}

fn run_stream(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(start());
    let http = reqwest::Client::new();
    let mut group = c.benchmark_group("run_stream");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("scripted_one_tool_call", |b| {
        b.to_async(&runtime).iter(|| one_run(&http, &server));
    });
    group.finish();

    // Throughput: a fixed number of runs from 1 and from 4 concurrent clients.
    for clients in [1usize, 4] {
        let runs_per_client = 50;
        let started = Instant::now();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..clients)
                .map(|_| {
                    let http = http.clone();
                    let server = &server;
                    async move {
                        for _ in 0..runs_per_client {
                            one_run(&http, server).await;
                        }
                    }
                })
                .collect();
            futures::future::join_all(tasks).await;
        });
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "run_stream/throughput clients={clients}: {:.0} runs/s ({} runs in {elapsed:.2} s)",
            (clients * runs_per_client) as f64 / elapsed,
            clients * runs_per_client
        );
    }
}

criterion_group!(benches, run_stream);
criterion_main!(benches);

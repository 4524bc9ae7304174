//! Every hostile guest is contained with a clear error, and the host serves the next call.
//! `plugins/testing/hostile` does the hostile things; each test names one.

use corral::artifacts;
use corral::boundary::assignment::{AssignmentSpec, Toolset};
use corral::sandbox::limits::LimitOverrides;
use corral::tool::{FailureKind, ToolFailure};
use corral_tests::{Host, assign};
use serde_json::{Value, json};

async fn host() -> Host {
    let host = Host::new();
    host.load(artifacts::HOSTILE).await;
    host.load(artifacts::ECHO).await;
    host
}

fn with_limits(tool: &str, limits: LimitOverrides) -> AssignmentSpec {
    AssignmentSpec {
        limits,
        ..assign(tool)
    }
}

/// Calls the hostile tool, expects a failure, then proves the host still works: the same
/// component answers a benign call and another component answers too.
async fn contained(host: &Host, toolset: &Toolset, tool: &str, args: Value) -> ToolFailure {
    let failure = host
        .call(toolset, tool, args)
        .await
        .result
        .expect_err("a hostile call must fail");
    let benign = host
        .call(toolset, "print_stdout", json!({"text": "still alive"}))
        .await;
    assert_eq!(
        benign.result.unwrap(),
        json!({"ok": true}),
        "the hostile component still serves calls after {tool}"
    );
    let other = host.call(toolset, "add", json!({"a": 40, "b": 2})).await;
    assert_eq!(
        other.result.unwrap(),
        json!({"sum": 42.0}),
        "other components still serve calls after {tool}"
    );
    failure
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_its_time_limit() {
    let host = host().await;
    let spec = with_limits(
        "spin_forever",
        LimitOverrides {
            timeout_ms: Some(300),
            ..Default::default()
        },
    );
    let toolset = host.toolset([spec, assign("print_stdout"), assign("add")]);
    let started = std::time::Instant::now();
    let failure = contained(&host, &toolset, "spin_forever", json!({})).await;
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(failure.message.contains("300 ms"), "{}", failure.message);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped promptly"
    );
}

#[tokio::test]
async fn a_memory_bomb_hits_its_memory_limit() {
    let host = host().await;
    let toolset = host.toolset([
        assign("allocate_unbounded"),
        assign("print_stdout"),
        assign("add"),
    ]);
    let failure = contained(&host, &toolset, "allocate_unbounded", json!({})).await;
    assert_eq!(
        failure.kind,
        FailureKind::MemoryLimit,
        "{}",
        failure.message
    );
    assert!(failure.message.contains("64 MiB"), "{}", failure.message);
}

#[tokio::test]
async fn a_per_assignment_memory_limit_is_enforced() {
    let host = host().await;
    let spec = with_limits(
        "allocate_unbounded",
        LimitOverrides {
            memory_mib: Some(16),
            ..Default::default()
        },
    );
    let toolset = host.toolset([spec, assign("print_stdout"), assign("add")]);
    let failure = contained(&host, &toolset, "allocate_unbounded", json!({})).await;
    assert_eq!(failure.kind, FailureKind::MemoryLimit);
    assert!(failure.message.contains("16 MiB"), "{}", failure.message);
}

#[tokio::test]
async fn deep_recursion_is_a_stack_overflow_not_a_crash_of_the_host() {
    let host = host().await;
    let toolset = host.toolset([
        assign("recurse_deeply"),
        assign("print_stdout"),
        assign("add"),
    ]);
    let failure = contained(&host, &toolset, "recurse_deeply", json!({})).await;
    assert_eq!(failure.kind, FailureKind::Crashed);
    assert!(
        failure.message.contains("stack overflow"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let host = host().await;
    let toolset = host.toolset([assign("panic_now"), assign("print_stdout"), assign("add")]);
    let failure = contained(&host, &toolset, "panic_now", json!({})).await;
    assert_eq!(failure.kind, FailureKind::Crashed);
    assert!(
        failure
            .message
            .contains("hostile guest panicked on purpose"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn huge_output_is_refused_at_the_output_cap() {
    let host = host().await;
    let toolset = host.toolset([assign("huge_output"), assign("print_stdout"), assign("add")]);
    let failure = contained(&host, &toolset, "huge_output", json!({"megabytes": 4})).await;
    assert_eq!(failure.kind, FailureKind::OutputLimit);
    assert!(
        failure.message.contains("output limit"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn host_files_are_out_of_reach() {
    let host = host().await;
    let toolset = host.toolset([
        assign("read_host_file"),
        assign("print_stdout"),
        assign("add"),
    ]);
    for path in [
        "/etc/passwd",
        "/etc/hostname",
        "../../../../etc/passwd",
        env!("CARGO_MANIFEST_DIR"),
    ] {
        let failure = contained(&host, &toolset, "read_host_file", json!({"path": path})).await;
        assert_eq!(
            failure.kind,
            FailureKind::Failed,
            "{path}: {}",
            failure.message
        );
        assert!(
            !failure.message.contains("root:"),
            "no file content leaks: {}",
            failure.message
        );
    }
}

#[tokio::test]
async fn the_environment_and_arguments_are_empty() {
    let host = host().await;
    let toolset = host.toolset([assign("read_env")]);
    // SAFETY of the assertion: the test process has plenty of variables (PATH, CARGO_*).
    assert!(std::env::vars().count() > 0);
    let result = host
        .call(&toolset, "read_env", json!({}))
        .await
        .result
        .unwrap();
    assert_eq!(
        result["vars"],
        json!([]),
        "no host environment variable reaches the guest"
    );
    let args = result["args"].as_array().unwrap();
    assert!(
        args.is_empty(),
        "no host arguments reach the guest: {args:?}"
    );
}

#[tokio::test]
async fn guest_stdout_and_stderr_are_captured_not_printed() {
    let host = host().await;
    let toolset = host.toolset([assign("print_stdout")]);
    let result = host
        .call(
            &toolset,
            "print_stdout",
            json!({"text": "x".repeat(200_000)}),
        )
        .await;
    assert_eq!(
        result.result.unwrap(),
        json!({"ok": true}),
        "output past the capture cap is dropped, not an error"
    );
}

#[tokio::test]
async fn http_without_a_grant_is_refused() {
    let host = host().await;
    let toolset = host.toolset([assign("http_get"), assign("print_stdout"), assign("add")]);
    let failure = contained(
        &host,
        &toolset,
        "http_get",
        json!({"url": "http://example.com/"}),
    )
    .await;
    assert!(
        failure.message.contains("not granted"),
        "{}",
        failure.message
    );
}

fn http_get_with(hosts: &[&str], private_hosts: &[&str]) -> AssignmentSpec {
    let mut grant = corral::capabilities::http::HttpGrant::to_hosts(hosts.iter().copied());
    grant.private_hosts = private_hosts.iter().map(|s| s.to_string()).collect();
    AssignmentSpec {
        grants: corral::capabilities::Grants {
            http: Some(grant),
            storage: None,
        },
        ..assign("http_get")
    }
}

#[tokio::test]
async fn http_to_a_host_that_was_not_granted_is_refused() {
    let host = host().await;
    let toolset = host.toolset([
        http_get_with(&["api.example.com"], &[]),
        assign("print_stdout"),
        assign("add"),
    ]);
    let failure = contained(
        &host,
        &toolset,
        "http_get",
        json!({"url": "http://evil.example.net/steal"}),
    )
    .await;
    assert!(
        failure
            .message
            .contains("evil.example.net:80 refused: the host is not in this tool's allowed hosts"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn http_to_loopback_is_refused() {
    let host = host().await;
    let toolset = host.toolset([
        http_get_with(&["*"], &[]),
        assign("print_stdout"),
        assign("add"),
    ]);
    let failure = contained(
        &host,
        &toolset,
        "http_get",
        json!({"url": "http://127.0.0.1:9/"}),
    )
    .await;
    assert!(
        failure.message.contains("127.0.0.1, a loopback address"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn http_to_cloud_metadata_is_refused() {
    let host = host().await;
    let toolset = host.toolset([
        http_get_with(&["*"], &[]),
        assign("print_stdout"),
        assign("add"),
    ]);
    let failure = contained(
        &host,
        &toolset,
        "http_get",
        json!({"url": "http://169.254.169.254/latest/meta-data/iam"}),
    )
    .await;
    assert!(
        failure
            .message
            .contains("169.254.169.254, a cloud metadata address"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let server = corral_tests::http_server::TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([
        http_get_with(&["*"], &[&server.authority()]),
        assign("print_stdout"),
        assign("add"),
    ]);
    let url = server.url("/redirect?to=http://192.168.1.1/admin");
    let failure = contained(&host, &toolset, "http_get", json!({"url": url})).await;
    assert!(
        failure
            .message
            .contains("192.168.1.1, a private-network address"),
        "{}",
        failure.message
    );
    assert_eq!(server.hits(), 1, "only the first hop reached a server");
}

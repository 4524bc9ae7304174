//! The builtin tools (`plugins/builtins/`) through the real boundary: `storage_read` and
//! `storage_write` in a granted bucket, `http_request`, `web_scrape` and `web_search` against the
//! loopback test server (granted as a private host, as the egress tests do). Every refusal is
//! checked to happen before anything leaves the sandbox.

use corral::artifacts;
use corral::boundary::CallOutcome;
use corral::boundary::assignment::AssignmentSpec;
use corral::boundary::gate::{Approval, ConfirmationSetting};
use corral::capabilities::Grants;
use corral::capabilities::http::HttpGrant;
use corral::capabilities::storage::StorageGrant;
use corral::tool::{FailureKind, ToolFailure};
use corral_tests::http_server::{BRAVE_KEY, TestServer};
use corral_tests::{Host, assign, call};
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn host() -> Host {
    let host = Host::new();
    for component in [
        artifacts::STORAGE,
        artifacts::HTTP_REQUEST,
        artifacts::WEB_SCRAPE,
        artifacts::WEB_SEARCH,
    ] {
        host.load(component).await;
    }
    host
}

/// `tool` with `bucket` granted; confirmation off so tests can write without a human.
fn in_bucket(tool: &str, grant: StorageGrant) -> AssignmentSpec {
    AssignmentSpec {
        grants: Grants {
            http: None,
            storage: Some(grant),
        },
        confirmation: ConfirmationSetting::Never,
        ..assign(tool)
    }
}

/// `tool` allowed to reach the loopback test server (an internal host).
fn to_server(tool: &str, server: &TestServer) -> AssignmentSpec {
    let mut grant = HttpGrant::to_hosts(Vec::<String>::new());
    grant.private_hosts = vec![server.authority()];
    AssignmentSpec {
        grants: Grants {
            http: Some(grant),
            storage: None,
        },
        ..assign(tool)
    }
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn ok(
    host: &Host,
    toolset: &corral::boundary::assignment::Toolset,
    tool: &str,
    args: Value,
) -> Value {
    let done = host.call(toolset, tool, args.clone()).await;
    done.result
        .unwrap_or_else(|f| panic!("{tool} {args}: {:?} {}", f.kind, f.message))
}

async fn fails(
    host: &Host,
    toolset: &corral::boundary::assignment::Toolset,
    tool: &str,
    args: Value,
) -> ToolFailure {
    let done = host.call(toolset, tool, args.clone()).await;
    match done.result {
        Ok(value) => panic!("{tool} {args} unexpectedly succeeded: {value}"),
        Err(failure) => failure,
    }
}

// Tests have no base64 dependency; the alphabet is small enough to spell out.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in text.trim_end_matches('=').as_bytes().chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, c)| {
            let v = B64.iter().position(|b| b == c).expect("base64 character") as u32;
            n | (v << (18 - 6 * i))
        });
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

// ---------------------------------------------------------------- storage

#[tokio::test]
async fn storage_round_trips_text_and_binary_keeps_content_types_lists_and_deletes() {
    let host = host().await;
    let grant = StorageGrant::new("docs").unwrap();
    let toolset = host.toolset([
        in_bucket("storage_read", grant.clone()),
        in_bucket("storage_write", grant),
    ]);

    // Text, type guessed from the extension.
    let written = ok(
        &host,
        &toolset,
        "storage_write",
        json!({"action": "write", "path": "reports/summary.md", "content": "# Summary\nAll good."}),
    )
    .await;
    assert_eq!(
        written,
        json!({"action": "write", "path": "reports/summary.md", "size": 19, "content_type": "text/markdown"})
    );
    let read = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "read", "path": "reports/summary.md"}),
    )
    .await;
    assert_eq!(read["content"], "# Summary\nAll good.");
    assert_eq!(read["encoding"], "text");
    assert_eq!(read["truncated"], false);

    // An explicit content type is kept and served back.
    ok(
        &host,
        &toolset,
        "storage_write",
        json!({"action": "write", "path": "notes/todo", "content": "milk", "content_type": "text/x-todo; charset=utf-8"}),
    )
    .await;
    let read = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "read", "path": "notes/todo"}),
    )
    .await;
    assert_eq!(read["content_type"], "text/x-todo; charset=utf-8");
    assert_eq!(read["content"], "milk");

    // Binary data goes in and comes out as base64, byte for byte.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let written = ok(
        &host,
        &toolset,
        "storage_write",
        json!({"action": "write", "path": "blobs/all-bytes.bin", "content": base64_encode(&bytes),
               "encoding": "base64", "content_type": "application/octet-stream"}),
    )
    .await;
    assert_eq!(written["size"], 256);
    assert_eq!(
        std::fs::read(
            host.data
                .path()
                .join("buckets/docs/objects/blobs/all-bytes.bin")
        )
        .unwrap(),
        bytes
    );
    let read = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "read", "path": "blobs/all-bytes.bin"}),
    )
    .await;
    assert_eq!(read["encoding"], "base64");
    assert_eq!(read["content_type"], "application/octet-stream");
    assert_eq!(base64_decode(read["content"].as_str().unwrap()), bytes);
    // A cut read says so.
    let read = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "read", "path": "blobs/all-bytes.bin", "max_bytes": 3}),
    )
    .await;
    assert_eq!(base64_decode(read["content"].as_str().unwrap()), [0, 1, 2]);
    assert_eq!(
        (read["truncated"].clone(), read["size"].clone()),
        (json!(true), json!(256))
    );

    // Listing, all and under a prefix.
    let all = ok(&host, &toolset, "storage_read", json!({"action": "list"})).await;
    let paths: Vec<&str> = all["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["blobs/all-bytes.bin", "notes/todo", "reports/summary.md"]
    );
    let reports = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "list", "prefix": "reports/"}),
    )
    .await;
    assert_eq!(
        reports,
        json!({"prefix": "reports/", "truncated": false, "objects": [
            {"path": "reports/summary.md", "size": 19, "content_type": "text/markdown"}
        ]})
    );

    // Delete, then it is gone.
    let deleted = ok(
        &host,
        &toolset,
        "storage_write",
        json!({"action": "delete", "path": "notes/todo"}),
    )
    .await;
    assert_eq!(deleted, json!({"action": "delete", "path": "notes/todo"}));
    for (tool, args) in [
        (
            "storage_read",
            json!({"action": "read", "path": "notes/todo"}),
        ),
        (
            "storage_write",
            json!({"action": "delete", "path": "notes/todo"}),
        ),
    ] {
        let failure = fails(&host, &toolset, tool, args).await;
        assert_eq!(failure.kind, FailureKind::NotFound, "{}", failure.message);
    }
}

#[tokio::test]
async fn storage_write_asks_for_confirmation_by_default_and_storage_read_does_not() {
    let host = host().await;
    let grant = StorageGrant::new("docs").unwrap();
    let toolset = host.toolset([
        AssignmentSpec {
            confirmation: ConfirmationSetting::Default,
            ..in_bucket("storage_write", grant.clone())
        },
        AssignmentSpec {
            confirmation: ConfirmationSetting::Default,
            ..in_bucket("storage_read", grant)
        },
    ]);
    let args = json!({"action": "write", "path": "a.txt", "content": "x"});
    let CallOutcome::Pending(action) = host
        .boundary
        .call(&toolset, call("storage_write", args), false)
        .await
    else {
        panic!("storage_write must wait for approval by default");
    };
    assert!(
        !host.data.path().join("buckets/docs/objects/a.txt").exists(),
        "nothing is written before ALLOW"
    );
    host.boundary
        .decide(&toolset, &action.action_id, Approval::Allow, "op")
        .await
        .unwrap()
        .result
        .unwrap();
    let read = ok(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "read", "path": "a.txt"}),
    )
    .await;
    assert_eq!(read["content"], "x");
}

#[tokio::test]
async fn storage_paths_that_leave_the_bucket_are_refused() {
    let host = host().await;
    let grant = StorageGrant::new("jail").unwrap();
    let toolset = host.toolset([
        in_bucket("storage_read", grant.clone()),
        in_bucket("storage_write", grant),
    ]);
    for path in [
        "../escape.txt",
        "a/../../escape.txt",
        "..",
        "/etc/passwd",
        "/tmp/escape.txt",
        "a\0b",
        "",
    ] {
        for (tool, args) in [
            (
                "storage_write",
                json!({"action": "write", "path": path, "content": "x"}),
            ),
            ("storage_write", json!({"action": "delete", "path": path})),
            ("storage_read", json!({"action": "read", "path": path})),
        ] {
            let failure = fails(&host, &toolset, tool, args.clone()).await;
            assert_eq!(
                failure.kind,
                FailureKind::InvalidArguments,
                "{args}: {}",
                failure.message
            );
        }
    }
    let failure = fails(
        &host,
        &toolset,
        "storage_read",
        json!({"action": "list", "prefix": "a\0"}),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidArguments,
        "{}",
        failure.message
    );
    assert!(!host.data.path().join("buckets/escape.txt").exists());
    assert!(!host.data.path().join("escape.txt").exists());
    assert!(!std::path::Path::new("/tmp/escape.txt").exists());
}

#[tokio::test]
async fn storage_writes_over_the_size_caps_are_refused() {
    let host = host().await;
    let grant = StorageGrant {
        max_object_bytes: 100,
        max_bucket_bytes: 150,
        ..StorageGrant::new("small").unwrap()
    };
    let toolset = host.toolset([in_bucket("storage_write", grant)]);
    let write =
        |path: &str, n: usize| json!({"action": "write", "path": path, "content": "x".repeat(n)});
    let failure = fails(&host, &toolset, "storage_write", write("big.txt", 101)).await;
    assert_eq!(failure.kind, FailureKind::Failed, "{}", failure.message);
    assert!(
        failure.message.contains("object cap of 100 bytes"),
        "{}",
        failure.message
    );
    assert!(
        !host
            .data
            .path()
            .join("buckets/small/objects/big.txt")
            .exists()
    );
    ok(&host, &toolset, "storage_write", write("a.txt", 100)).await;
    let failure = fails(&host, &toolset, "storage_write", write("b.txt", 60)).await;
    assert!(
        failure.message.contains("over its cap of 150 bytes"),
        "{}",
        failure.message
    );
    // Replacing an object counts its new size only.
    ok(&host, &toolset, "storage_write", write("a.txt", 90)).await;
}

#[tokio::test]
async fn storage_is_denied_without_a_bucket_and_bad_arguments_are_explained() {
    let host = host().await;
    let toolset = host.toolset([assign("storage_read"), assign("storage_write")]);
    let failure = fails(&host, &toolset, "storage_read", json!({"action": "list"})).await;
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);

    let grant = StorageGrant::new("docs").unwrap();
    let toolset = host.toolset([
        in_bucket("storage_read", grant.clone()),
        in_bucket("storage_write", grant),
    ]);
    for (tool, args, says) in [
        ("storage_read", json!({"action": "read"}), "needs `path`"),
        (
            "storage_read",
            json!({"action": "list", "path": "a"}),
            "takes only `prefix`",
        ),
        (
            "storage_write",
            json!({"action": "write", "path": "a"}),
            "needs `content`",
        ),
        (
            "storage_write",
            json!({"action": "write", "path": "a", "content": "@@", "encoding": "base64"}),
            "not valid base64",
        ),
        (
            "storage_write",
            json!({"action": "write", "path": "a", "content": "x", "content_type": "not a type"}),
            "invalid content_type",
        ),
        (
            "storage_write",
            json!({"action": "rename", "path": "a"}),
            "input schema",
        ),
    ] {
        let failure = fails(&host, &toolset, tool, args.clone()).await;
        assert_eq!(failure.kind, FailureKind::InvalidArguments, "{args}");
        assert!(
            failure.message.contains(says),
            "{args}: {}",
            failure.message
        );
    }
}

// ---------------------------------------------------------------- http_request

#[tokio::test]
async fn http_request_to_a_host_that_was_not_granted_is_refused() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([AssignmentSpec {
        grants: Grants {
            http: Some(HttpGrant::to_hosts(["api.example.com"])),
            storage: None,
        },
        ..assign("http_request")
    }]);
    for url in [
        server.url("/echo"),
        "http://not-granted.example.org/".to_string(),
    ] {
        let failure = fails(&host, &toolset, "http_request", json!({"url": url})).await;
        assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
        assert!(
            failure.message.contains("not in this tool's allowed hosts"),
            "{}",
            failure.message
        );
    }
    // Without any HTTP grant, too.
    let toolset = host.toolset([assign("http_request")]);
    let failure = fails(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/echo")}),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
    assert_eq!(server.hits(), 0);
}

/// SSRF: with every public host granted (`*`), the builtins still cannot reach loopback,
/// private ranges or cloud metadata, however the address is spelled; nothing is sent.
#[tokio::test]
async fn http_request_and_web_scrape_refuse_ssrf_targets_even_with_a_wildcard_grant() {
    let server = TestServer::start().await;
    let host = host().await;
    let wildcard = |tool: &str| AssignmentSpec {
        grants: Grants {
            http: Some(HttpGrant::to_hosts(["*"])),
            storage: None,
        },
        ..assign(tool)
    };
    let toolset = host.toolset([wildcard("http_request"), wildcard("web_scrape")]);
    let port = server.authority().rsplit(':').next().unwrap().to_string();
    for url in [
        server.url("/echo"),
        format!("http://localhost:{port}/echo"),
        format!("http://127.1:{port}/echo"),
        format!("http://2130706433:{port}/echo"),
        format!("http://0x7f000001:{port}/echo"),
        format!("http://[::1]:{port}/echo"),
        format!("http://[::ffff:127.0.0.1]:{port}/echo"),
        format!("http://0.0.0.0:{port}/echo"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://172.16.0.1/".to_string(),
        "http://100.64.0.1/".to_string(),
    ] {
        for tool in ["http_request", "web_scrape"] {
            let failure = fails(&host, &toolset, tool, json!({"url": url})).await;
            assert!(
                matches!(
                    failure.kind,
                    FailureKind::Denied | FailureKind::Failed | FailureKind::InvalidArguments
                ),
                "{tool} {url}: {failure:?}"
            );
        }
    }
    assert_eq!(server.hits(), 0, "nothing reached the loopback server");
}

/// SSRF through a redirect: a granted server (trusted for private addresses) that redirects to
/// cloud metadata, a private range or another loopback service gets the hop refused, by both
/// tools, and the other service receives nothing.
#[tokio::test]
async fn http_request_and_web_scrape_refuse_redirects_to_private_targets() {
    let server = TestServer::start().await;
    let internal = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([
        to_server("http_request", &server),
        to_server("web_scrape", &server),
    ]);
    for target in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/admin".to_string(),
        internal.url("/page.html"),
    ] {
        let url = server.url(&format!("/redirect?to={target}"));
        for tool in ["http_request", "web_scrape"] {
            let failure = fails(&host, &toolset, tool, json!({"url": url})).await;
            assert_eq!(
                failure.kind,
                FailureKind::Denied,
                "{tool} {target}: {failure:?}"
            );
        }
    }
    assert_eq!(internal.hits(), 0, "the redirect reached another service");
    assert_eq!(
        server.hits(),
        6,
        "each call reached the granted server once"
    );
}

#[tokio::test]
async fn http_request_sends_method_body_and_the_operators_secret_headers() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([AssignmentSpec {
        secrets: strings(&[
            (
                "headers",
                r#"{"Authorization": "Bearer operator-token-123"}"#,
            ),
            ("header.X-Api-Key", "api-key-secret-456"),
        ]),
        // POST asks for approval by default; this operator lets it run.
        confirmation: ConfirmationSetting::Never,
        ..to_server("http_request", &server)
    }]);
    let done = host
        .call(
            &toolset,
            "http_request",
            json!({
                "method": "POST",
                "url": server.url("/echo/items"),
                "headers": {"Authorization": "Bearer from-the-model", "X-Trace": "t-1"},
                "body": "{\"name\": \"x\"}",
            }),
        )
        .await;
    let result = done.result.unwrap();
    assert_eq!(result["status"], 200);
    assert_eq!(result["encoding"], "text");
    assert_eq!(result["headers"]["content-type"], "application/json");
    let received = server.requests().pop().unwrap();
    assert_eq!(received.method, "POST");
    assert_eq!(received.target, "/echo/items");
    assert_eq!(
        received.header("authorization"),
        Some("Bearer operator-token-123")
    );
    assert_eq!(received.header("x-api-key"), Some("api-key-secret-456"));
    assert_eq!(received.header("x-trace"), Some("t-1"));
    assert_eq!(received.header("content-type"), Some("application/json"));
    assert_eq!(received.body, br#"{"name": "x"}"#);
    assert_eq!(received.header("content-length"), Some("13"));
    // A secret configured as its own `header.NAME` key is scrubbed from the record by value.
    let record = serde_json::to_string(&done.record).unwrap();
    assert!(!record.contains("api-key-secret-456"), "{record}");

    // Without configuration, requests go out with the model's headers only.
    let toolset = host.toolset([to_server("http_request", &server)]);
    let result = ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/echo"), "headers": {"Accept": "text/plain"}}),
    )
    .await;
    let echoed: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["headers"]["accept"], "text/plain");
    assert!(echoed["headers"].get("authorization").is_none());

    // Headers the client owns are refused, not silently dropped.
    let failure = fails(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/echo"), "headers": {"Host": "evil.example.com"}}),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidArguments,
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn http_request_asks_before_methods_that_change_things_unless_the_operator_says_otherwise() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("http_request", &server)]);
    for method in [None, Some("GET"), Some("HEAD")] {
        let mut args = json!({"url": server.url("/echo")});
        if let Some(method) = method {
            args["method"] = json!(method);
        }
        ok(&host, &toolset, "http_request", args).await;
    }
    let reads = server.requests().len();
    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let outcome = host
            .boundary
            .call(
                &toolset,
                call(
                    "http_request",
                    json!({"method": method, "url": server.url("/echo")}),
                ),
                false,
            )
            .await;
        let CallOutcome::Pending(action) = outcome else {
            panic!("{method} ran without approval");
        };
        assert_eq!(action.arguments["method"], method);
    }
    assert_eq!(
        server.requests().len(),
        reads,
        "nothing was sent before ALLOW"
    );

    // The operator decides per assignment: never ask, or always ask (GET included).
    let trusted = host.toolset([AssignmentSpec {
        confirmation: ConfirmationSetting::Never,
        ..to_server("http_request", &server)
    }]);
    ok(
        &host,
        &trusted,
        "http_request",
        json!({"method": "DELETE", "url": server.url("/echo")}),
    )
    .await;
    let strict = host.toolset([AssignmentSpec {
        confirmation: ConfirmationSetting::Always,
        ..to_server("http_request", &server)
    }]);
    let outcome = host
        .boundary
        .call(
            &strict,
            call("http_request", json!({"url": server.url("/echo")})),
            false,
        )
        .await;
    assert!(matches!(outcome, CallOutcome::Pending(_)));
    // The condition is the host's: the model never sees it in the schema.
    let tool = host.catalog.get("http_request").unwrap();
    assert!(
        tool.descriptor
            .input_schema
            .get("x-corral-confirm-if")
            .is_none()
    );
    assert!(tool.descriptor.confirm_if.is_some());
}

#[tokio::test]
async fn http_request_base_url_forced_by_the_operator_confines_every_request() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([AssignmentSpec {
        config_override: json!({"base_url": server.url("/echo/api")}),
        ..to_server("http_request", &server)
    }]);
    // A relative path, even with the model trying its own base_url, lands under the forced one.
    let result = ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": "users/42?fields=name", "base_url": "http://evil.example.com/"}),
    )
    .await;
    assert_eq!(result["status"], 200);
    assert_eq!(
        server.requests().pop().unwrap().target,
        "/echo/api/users/42?fields=name"
    );
    // An absolute URL under the base is fine too.
    ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/echo/api/x")}),
    )
    .await;
    assert_eq!(server.hits(), 2);

    for url in [
        "http://evil.example.com/echo/api/users".to_string(),
        server.url("/hello"),
        server.url("/echo/apix"),
        format!("http://localhost:{}/echo/api/users", server.addr.port()),
        "../../hello".to_string(),
        "users/../../../hello".to_string(),
    ] {
        let failure = fails(&host, &toolset, "http_request", json!({"url": url})).await;
        assert_eq!(
            failure.kind,
            FailureKind::Denied,
            "{url}: {}",
            failure.message
        );
        assert!(
            failure.message.contains("outside the base URL"),
            "{url}: {}",
            failure.message
        );
    }
    assert_eq!(server.hits(), 2, "refused before any request");
}

#[tokio::test]
async fn http_request_allowed_domains_restrict_targets_and_redirects() {
    let server = TestServer::start().await;
    let host = host().await;
    let only = |domains: Value| {
        host.toolset([AssignmentSpec {
            config_override: json!({ "allowed_domains": domains }),
            ..to_server("http_request", &server)
        }])
    };
    let toolset = only(json!(["example.com"]));
    let failure = fails(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/hello")}),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
    assert!(
        failure
            .message
            .contains("not in allowed_domains [example.com]"),
        "{}",
        failure.message
    );
    assert_eq!(server.hits(), 0);

    let toolset = only(json!(["127.0.0.1"]));
    let result = ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/hello")}),
    )
    .await;
    assert_eq!(result["body"], "hello from the test server");
    // A redirect off the allowed domains is refused at the hop, before it is followed.
    let away = format!("http://localhost:{}/hello", server.addr.port());
    let failure = fails(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url(&format!("/redirect?to={away}"))}),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
    assert!(
        failure.message.contains("redirected to"),
        "{}",
        failure.message
    );
    assert_eq!(server.hits(), 2);
    // Not following redirects returns the 3xx itself.
    let result = ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url(&format!("/redirect?to={away}")), "follow_redirects": false}),
    )
    .await;
    assert_eq!(result["status"], 302);
    assert_eq!(result["headers"]["location"], away);
}

#[tokio::test]
async fn http_request_truncates_long_bodies_and_says_so() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("http_request", &server)]);
    // (body size, bytes shown, cut). The last is past the host's 10 MiB response cap: only
    // the part shown is downloaded, so the cap is never reached; the size comes from
    // Content-Length.
    for (size, shown, cut) in [
        (5000, 1000, true),
        (500, 500, false),
        (20_000_000, 1000, true),
    ] {
        let result = ok(
            &host,
            &toolset,
            "http_request",
            json!({"url": server.url(&format!("/bytes?n={size}")), "max_response_bytes": 1000}),
        )
        .await;
        assert_eq!(result["body"].as_str().unwrap().len(), shown, "{size}");
        assert_eq!(result["truncated"], cut, "{size}");
        assert_eq!(result["size"], size, "{size}");
    }
    // Binary bodies come back as base64.
    let result = ok(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/image.png")}),
    )
    .await;
    assert_eq!(result["encoding"], "base64");
    assert_eq!(
        &base64_decode(result["body"].as_str().unwrap())[..4],
        b"\x89PNG"
    );
    // Past the schema's maximum, the host refuses the arguments.
    let failure = fails(
        &host,
        &toolset,
        "http_request",
        json!({"url": server.url("/hello"), "max_response_bytes": 10_000_000}),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidArguments,
        "{}",
        failure.message
    );
}

// ---------------------------------------------------------------- web_scrape

#[tokio::test]
async fn web_scrape_returns_title_markdown_and_absolute_links_without_the_noise() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("web_scrape", &server)]);
    let page = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/page.html")}),
    )
    .await;
    assert_eq!(page["status"], 200);
    assert_eq!(page["title"], "Test Article | Corral");
    assert_eq!(page["content_type"], "text/html; charset=utf-8");
    assert_eq!(page["truncated"], false);
    let content = page["content"].as_str().unwrap();
    let guide = server.url("/docs/guide?x=1");
    assert_eq!(
        content,
        format!(
            "# Article Heading\n\nFirst paragraph with **bold** text and a [relative link]({guide}).\n\n\
             - Item one\n- Item two\n\n\
             See also [an external page](https://example.org/external) and the top."
        )
    );
    for noise in ["SCRIPT-NOISE", "NAV-NOISE", "FOOTER-NOISE", "color: red"] {
        assert!(!content.contains(noise), "{noise} in {content}");
    }
    assert_eq!(
        page["links"],
        json!([
            {"text": "relative link", "href": guide},
            {"text": "an external page", "href": "https://example.org/external"},
        ])
    );

    let text = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/page.html"), "format": "text", "max_links": 1}),
    )
    .await;
    let content = text["content"].as_str().unwrap();
    assert!(
        content
            .starts_with("Article Heading\n\nFirst paragraph with bold text and a relative link."),
        "{content}"
    );
    assert!(
        !content.contains("**") && !content.contains("]("),
        "{content}"
    );
    assert_eq!(text["links"].as_array().unwrap().len(), 1);

    let cut = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/page.html"), "max_chars": 12}),
    )
    .await;
    assert_eq!(cut["content"], "# Article He");
    assert_eq!(cut["truncated"], true);
}

#[tokio::test]
async fn web_scrape_decodes_the_charset_from_the_header_or_meta() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("web_scrape", &server)]);
    let page = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/latin1.html")}),
    )
    .await;
    assert_eq!(page["title"], "Café");
    assert_eq!(page["content"], "Naïve © 2024");
    let page = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/meta-latin1.html"), "format": "text"}),
    )
    .await;
    assert_eq!(page["title"], "Café");
    assert_eq!(page["content"], "Naïve");
}

#[tokio::test]
async fn web_scrape_returns_text_as_is_and_refuses_binary() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("web_scrape", &server)]);
    let text = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/notes.txt")}),
    )
    .await;
    assert_eq!(text["content"], "Line one.\n<b>not markup</b> \u{2713}");
    assert_eq!(text["title"], Value::Null);
    assert_eq!(text["links"], json!([]));
    let data = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/data.json")}),
    )
    .await;
    assert_eq!(
        data["content"],
        r#"{"name": "corral", "tags": ["wasm", "agents"]}"#
    );

    let failure = fails(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/image.png")}),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidArguments,
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("`image/png`"),
        "{}",
        failure.message
    );
    let failure = fails(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/missing")}),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::NotFound, "{}", failure.message);
    let failure = fails(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": "file:///etc/passwd"}),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidArguments,
        "{}",
        failure.message
    );

    // Nothing is fetched from a host that was not granted.
    let hits = server.hits();
    let toolset = host.toolset([assign("web_scrape")]);
    let failure = fails(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/page.html")}),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
    assert_eq!(server.hits(), hits);
}

#[tokio::test]
async fn web_scrape_parses_a_page_near_the_download_cap_within_the_default_limits() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([to_server("web_scrape", &server)]);
    let page = ok(
        &host,
        &toolset,
        "web_scrape",
        json!({"url": server.url("/big.html?kb=1900"), "max_chars": 100000, "max_links": 200}),
    )
    .await;
    assert_eq!(page["truncated"], true);
    let chars = page["content"].as_str().unwrap().chars().count();
    assert!((99_990..=100_000).contains(&chars), "{chars}");
    assert_eq!(page["links"].as_array().unwrap().len(), 200);
    // Past the 2 MiB download cap, the start of the page is read and the rest never fetched:
    // 12 MB is also past the host's 10 MiB response cap, which reading it all would trip.
    for kb in [2100, 12_000] {
        let page = ok(
            &host,
            &toolset,
            "web_scrape",
            json!({"url": server.url(&format!("/big.html?kb={kb}")), "max_chars": 100}),
        )
        .await;
        assert_eq!(page["truncated"], true, "{kb} KB");
        assert!(page["content"].as_str().unwrap().len() <= 100, "{page}");
    }
}

// ---------------------------------------------------------------- web_search

/// Configuration or secret key/value pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

fn search_with(server: &TestServer, config: Pairs, secrets: Pairs) -> AssignmentSpec {
    AssignmentSpec {
        config: strings(config),
        secrets: strings(secrets),
        ..to_server("web_search", server)
    }
}

fn urls(results: &Value) -> Vec<&str> {
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn web_search_through_a_searxng_instance() {
    let server = TestServer::start().await;
    let host = host().await;
    let base = server.url("/searxng");
    let toolset = host.toolset([search_with(
        &server,
        &[("backend", "searxng"), ("base_url", &base)],
        &[],
    )]);
    let found = ok(
        &host,
        &toolset,
        "web_search",
        json!({"query": "  rust   language ", "max_results": 3}),
    )
    .await;
    assert_eq!(found["query"], "rust language");
    assert_eq!(
        found["results"],
        json!([
            {"title": "Rust Programming Language", "url": "https://www.rust-lang.org/", "snippet": "A language empowering everyone"},
            {"title": "Rust (programming language) - Wikipedia", "url": "https://en.wikipedia.org/wiki/Rust_(programming_language)", "snippet": "Rust is a general-purpose language"},
            {"title": "The Rust Book", "url": "https://doc.rust-lang.org/book/", "snippet": "An introductory book"},
        ])
    );
    let request = server.requests().pop().unwrap();
    assert!(
        request.target.starts_with("/searxng/search?"),
        "{}",
        request.target
    );
    assert_eq!(request.param("q").as_deref(), Some("rust language"));
    assert_eq!(request.param("format").as_deref(), Some("json"));

    // Default count, duplicates and non-web URLs dropped.
    let found = ok(&host, &toolset, "web_search", json!({"query": "rust"})).await;
    assert_eq!(urls(&found).len(), 5);

    // include_domains: `site:` terms for the engine, and the results filtered here too.
    let found = ok(
        &host,
        &toolset,
        "web_search",
        json!({"query": "rust", "include_domains": ["rust-lang.org"]}),
    )
    .await;
    assert_eq!(
        urls(&found),
        [
            "https://www.rust-lang.org/",
            "https://doc.rust-lang.org/book/",
            "https://blog.rust-lang.org/"
        ]
    );
    assert_eq!(
        server.requests().pop().unwrap().param("q").as_deref(),
        Some("rust site:rust-lang.org")
    );
    let found = ok(
        &host,
        &toolset,
        "web_search",
        json!({"query": "rust", "include_domains": ["https://docs.rs/", "wikipedia.org"], "max_results": 1}),
    )
    .await;
    assert_eq!(
        urls(&found),
        ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
    );
    assert_eq!(
        server.requests().pop().unwrap().param("q").as_deref(),
        Some("rust (site:docs.rs OR site:wikipedia.org)")
    );

    for args in [
        json!({"query": "rust", "max_results": 0}),
        json!({"query": "rust", "max_results": 21}),
        json!({"query": "   "}),
        json!({"query": "rust", "include_domains": ["not a domain"]}),
    ] {
        let failure = fails(&host, &toolset, "web_search", args.clone()).await;
        assert_eq!(
            failure.kind,
            FailureKind::InvalidArguments,
            "{args}: {}",
            failure.message
        );
    }
}

#[tokio::test]
async fn web_search_through_the_brave_api() {
    let server = TestServer::start().await;
    let host = host().await;
    let base = server.url("/brave");
    let toolset = host.toolset([search_with(
        &server,
        &[("backend", "brave"), ("base_url", &base)],
        &[("api_key", BRAVE_KEY)],
    )]);
    let found = ok(
        &host,
        &toolset,
        "web_search",
        json!({"query": "rust lang", "max_results": 2}),
    )
    .await;
    assert_eq!(
        found["results"],
        json!([
            {"title": "The Rust Programming Language", "url": "https://www.rust-lang.org/", "snippet": "A language empowering everyone"},
            {"title": "serde - Rust", "url": "https://docs.rs/serde", "snippet": "A serialization framework"},
        ])
    );
    let request = server.requests().pop().unwrap();
    assert!(
        request.target.starts_with("/brave/res/v1/web/search?"),
        "{}",
        request.target
    );
    assert_eq!(request.param("q").as_deref(), Some("rust lang"));
    assert_eq!(request.param("count").as_deref(), Some("2"));
    assert_eq!(request.header("x-subscription-token"), Some(BRAVE_KEY));
    // The key is a secret: scrubbed from anything recorded.
    assert!(
        !serde_json::to_string(&host.recorder.records())
            .unwrap()
            .contains(BRAVE_KEY)
    );

    let found = ok(
        &host,
        &toolset,
        "web_search",
        json!({"query": "rust", "include_domains": ["rust-lang.org"], "max_results": 10}),
    )
    .await;
    assert_eq!(
        urls(&found),
        [
            "https://www.rust-lang.org/",
            "https://blog.rust-lang.org/",
            "https://doc.rust-lang.org/book/"
        ]
    );
    assert_eq!(found["results"][1]["snippet"], "News & updates");
    // Filtering asks for a full page so enough results survive it.
    assert_eq!(
        server.requests().pop().unwrap().param("count").as_deref(),
        Some("20")
    );

    let toolset = host.toolset([search_with(
        &server,
        &[("backend", "brave"), ("base_url", &base)],
        &[("api_key", "wrong-key")],
    )]);
    let failure = fails(&host, &toolset, "web_search", json!({"query": "rust"})).await;
    assert_eq!(failure.kind, FailureKind::Failed, "{}", failure.message);
    assert!(
        failure.message.contains("`api_key`") && failure.message.contains("401"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn web_search_names_the_missing_or_invalid_configuration() {
    let server = TestServer::start().await;
    let host = host().await;
    let base = server.url("/searxng");
    let cases: [(Pairs, FailureKind, &str); 5] = [
        (&[], FailureKind::Denied, "`backend`"),
        (
            &[("base_url", base.as_str())],
            FailureKind::Failed,
            "`backend`",
        ),
        (&[("backend", "bing")], FailureKind::Failed, "`backend`"),
        (&[("backend", "searxng")], FailureKind::Failed, "`base_url`"),
        (&[("backend", "brave")], FailureKind::Failed, "`api_key`"),
    ];
    for (config, kind, key) in cases {
        let toolset = host.toolset([search_with(&server, config, &[])]);
        let failure = fails(&host, &toolset, "web_search", json!({"query": "rust"})).await;
        assert_eq!(failure.kind, kind, "{config:?}: {}", failure.message);
        assert!(
            failure.message.contains(key),
            "{config:?}: {}",
            failure.message
        );
    }
    let toolset = host.toolset([search_with(
        &server,
        &[
            ("backend", "searxng"),
            ("base_url", "ftp://search.example.com"),
        ],
        &[],
    )]);
    let failure = fails(&host, &toolset, "web_search", json!({"query": "rust"})).await;
    assert!(
        failure.message.contains("`base_url`"),
        "{}",
        failure.message
    );
    assert_eq!(
        server.hits(),
        0,
        "nothing was sent with a broken configuration"
    );
}

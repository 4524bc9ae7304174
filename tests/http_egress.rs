//! Outgoing HTTP from guests: only granted hosts, no private or metadata addresses unless the
//! operator allowed that host explicitly, every redirect hop re-checked, responses capped.
//! All traffic stays on 127.0.0.1: refused requests are refused before any connection.

use corral::artifacts;
use corral::boundary::assignment::AssignmentSpec;
use corral::capabilities::Grants;
use corral::capabilities::http::HttpGrant;
use corral::tool::FailureKind;
use corral_tests::http_server::TestServer;
use corral_tests::{Host, assign};
use serde_json::json;

fn with_http(tool: &str, hosts: &[&str], private_hosts: &[&str]) -> AssignmentSpec {
    let mut grant = HttpGrant::to_hosts(hosts.iter().copied());
    grant.private_hosts = private_hosts.iter().map(|s| s.to_string()).collect();
    AssignmentSpec {
        grants: Grants {
            http: Some(grant),
            storage: None,
        },
        ..assign(tool)
    }
}

async fn host() -> Host {
    let host = Host::new();
    host.load(artifacts::HOSTILE).await;
    host.load(artifacts::FETCH_PAGE).await;
    host
}

#[tokio::test]
async fn a_granted_internal_host_is_reachable() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([with_http("fetch_page", &[], &[&server.authority()])]);
    let result = host
        .call(&toolset, "fetch_page", json!({"url": server.url("/hello")}))
        .await
        .result
        .unwrap();
    assert_eq!(result["status"], 200);
    assert_eq!(result["body"], "hello from the test server");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_host_that_was_not_granted_is_refused() {
    let server = TestServer::start().await;
    let host = host().await;
    let toolset = host.toolset([with_http("http_get", &["api.example.com"], &[])]);
    let done = host
        .call(
            &toolset,
            "http_get",
            json!({"url": "http://not-granted.example.org/"}),
        )
        .await;
    let failure = done.result.unwrap_err();
    assert!(
        failure.message.contains("not in this tool's allowed hosts"),
        "{}",
        failure.message
    );
    assert_eq!(done.record.stats.unwrap().http_refusals.len(), 1);
    // The granted host list does not cover the loopback server either.
    let failure = host
        .call(&toolset, "http_get", json!({"url": server.url("/hello")}))
        .await
        .result
        .unwrap_err();
    assert!(
        failure.message.contains("not in this tool's allowed hosts"),
        "{}",
        failure.message
    );
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn loopback_is_refused_even_when_the_host_is_listed() {
    let server = TestServer::start().await;
    let host = host().await;
    // Listed as an ordinary (public) host: the address check still applies.
    let toolset = host.toolset([with_http(
        "http_get",
        &["127.0.0.1", &server.authority(), "localhost"],
        &[],
    )]);
    for url in [
        server.url("/hello"),
        format!("http://localhost:{}/hello", server.addr.port()),
    ] {
        let failure = host
            .call(&toolset, "http_get", json!({"url": url}))
            .await
            .result
            .unwrap_err();
        assert!(
            failure.message.contains("loopback"),
            "{url}: {}",
            failure.message
        );
    }
    assert_eq!(server.hits(), 0, "nothing reached the server");
}

#[tokio::test]
async fn cloud_metadata_is_refused_even_with_a_wildcard_or_private_grant() {
    let host = host().await;
    let toolset = host.toolset([with_http("http_get", &["*"], &["169.254.169.254"])]);
    let failure = host
        .call(
            &toolset,
            "http_get",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
        )
        .await
        .result
        .unwrap_err();
    assert!(failure.message.contains("metadata"), "{}", failure.message);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused_at_the_hop() {
    let server = TestServer::start().await;
    let host = host().await;
    // The test server itself is an allowed internal host; everything else only if public.
    let toolset = host.toolset([with_http("http_get", &["*"], &[&server.authority()])]);
    for target in [
        "http://10.0.0.1/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/",
    ] {
        let url = server.url(&format!("/redirect?to={target}"));
        let done = host.call(&toolset, "http_get", json!({"url": url})).await;
        let failure = done.result.unwrap_err();
        assert!(
            failure.message.contains("refused"),
            "{target}: {}",
            failure.message
        );
        let stats = done.record.stats.unwrap();
        assert_eq!(
            stats.http_requests, 2,
            "the first hop ran, the second was checked and refused"
        );
    }
    assert_eq!(server.hits(), 3);
    // A redirect that stays on the allowed server is followed.
    let url = server.url(&format!("/redirect?to={}", server.url("/hello")));
    let result = host
        .call(&toolset, "http_get", json!({"url": url}))
        .await
        .result
        .unwrap();
    assert_eq!(result["status"], 200);
}

#[tokio::test]
async fn responses_larger_than_the_grant_allows_are_cut_off() {
    let server = TestServer::start().await;
    let host = host().await;
    let mut spec = with_http("http_get", &[], &[&server.authority()]);
    spec.grants.http.as_mut().unwrap().max_response_bytes = 1000;
    let toolset = host.toolset([spec]);
    assert!(
        host.call(
            &toolset,
            "http_get",
            json!({"url": server.url("/bytes?n=900")})
        )
        .await
        .result
        .is_ok()
    );
    let failure = host
        .call(
            &toolset,
            "http_get",
            json!({"url": server.url("/bytes?n=5000")}),
        )
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::Failed, "{}", failure.message);
}

#[tokio::test]
async fn the_request_budget_per_call_is_enforced() {
    let server = TestServer::start().await;
    let host = host().await;
    let mut spec = with_http("http_get", &[], &[&server.authority()]);
    spec.grants.http.as_mut().unwrap().max_requests = 1;
    let toolset = host.toolset([spec]);
    let url = server.url(&format!("/redirect?to={}", server.url("/hello")));
    let failure = host
        .call(&toolset, "http_get", json!({"url": url}))
        .await
        .result
        .unwrap_err();
    assert!(
        failure.message.contains("allowed requests"),
        "{}",
        failure.message
    );
}

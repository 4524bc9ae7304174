//! One WIT, three languages: the Python (componentize-py) and JavaScript (componentize-js)
//! examples go through the same boundary, capabilities and limits as the Rust ones.
//! Built by `scripts/build-polyglot.sh`; compiled once per machine thanks to the shared cache.

use corral::boundary::assignment::AssignmentSpec;
use corral::capabilities::Grants;
use corral::capabilities::http::HttpGrant;
use corral::tool::{Confirmation, FailureKind};
use corral_tests::http_server::TestServer;
use corral_tests::{Host, assign, polyglot_component};
use serde_json::json;

#[tokio::test]
async fn python_tool_runs_with_config_and_schema_checks() {
    let host = Host::new();
    let component = host.load(polyglot_component("word_stats.wasm")).await;
    let word_stats = component
        .descriptor("word_stats")
        .expect("word_stats is described");
    assert_eq!(word_stats.confirmation, Confirmation::Never);
    assert_eq!(word_stats.input_schema["type"], "object");

    let mut greet = assign("greet");
    greet
        .config
        .insert("greeting_prefix".into(), "Howdy".into());
    let toolset = host.toolset([assign("word_stats"), greet]);
    let stats = host
        .call(
            &toolset,
            "word_stats",
            json!({"text": "the cat and the hat", "top": 1}),
        )
        .await
        .result
        .unwrap();
    assert_eq!(stats["words"], 5);
    assert_eq!(stats["top_words"], json!([["the", 2]]));
    let hello = host
        .call(&toolset, "greet", json!({"name": "Ada"}))
        .await
        .result
        .unwrap();
    assert_eq!(hello["greeting"], "Howdy, Ada!");
    // The host's schema check runs before Python sees anything.
    let bad = host
        .call(&toolset, "word_stats", json!({"text": 12}))
        .await
        .result
        .unwrap_err();
    assert_eq!(bad.kind, FailureKind::InvalidArguments);
}

#[tokio::test]
async fn python_config_is_denied_without_a_grant() {
    let host = Host::new();
    host.load(polyglot_component("word_stats.wasm")).await;
    let toolset = host.toolset([assign("greet")]);
    let failure = host
        .call(&toolset, "greet", json!({"name": "Ada"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
}

#[tokio::test]
async fn javascript_tool_runs_and_its_http_goes_through_the_egress_policy() {
    let server = TestServer::start().await;
    let host = Host::new();
    host.load(polyglot_component("unit_convert.wasm")).await;
    let mut fetch = assign("fetch_status");
    let mut grant = HttpGrant::to_hosts(Vec::<String>::new());
    grant.private_hosts.push(server.authority());
    fetch.grants = Grants {
        http: Some(grant),
        storage: None,
    };
    let toolset = host.toolset([assign("convert_length"), fetch]);

    let km = host
        .call(
            &toolset,
            "convert_length",
            json!({"value": 1500, "from": "m", "to": "km"}),
        )
        .await
        .result
        .unwrap();
    assert_eq!(km, json!({"value": 1.5, "unit": "km"}));
    let ok = host
        .call(
            &toolset,
            "fetch_status",
            json!({"url": server.url("/hello")}),
        )
        .await
        .result
        .unwrap();
    assert_eq!(ok["status"], 200);
    let refused = host
        .call(
            &toolset,
            "fetch_status",
            json!({"url": "http://169.254.169.254/"}),
        )
        .await
        .result
        .unwrap_err();
    assert!(refused.message.contains("refused"), "{}", refused.message);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_tight_memory_limit_stops_a_python_guest_cleanly() {
    let host = Host::new();
    host.load(polyglot_component("word_stats.wasm")).await;
    let spec = AssignmentSpec {
        limits: corral::sandbox::limits::LimitOverrides {
            memory_mib: Some(8),
            ..Default::default()
        },
        ..assign("word_stats")
    };
    let toolset = host.toolset([spec, assign("greet")]);
    let failure = host
        .call(&toolset, "word_stats", json!({"text": "x"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(
        failure.kind,
        FailureKind::MemoryLimit,
        "{}",
        failure.message
    );
}

//! The host boundary end to end with a real component (`plugins/testing/echo`):
//! injection, validation, gating and records, each rule with a test.

use corral::artifacts;
use corral::boundary::BoundaryError;
use corral::boundary::CallOutcome;
use corral::boundary::gate::{Approval, ConfirmationSetting, DecisionError};
use corral::boundary::record::Decision;
use corral::tool::FailureKind;
use corral_tests::{Host, assign, call};
use serde_json::json;

#[tokio::test]
async fn a_forced_key_replaces_what_the_model_sent_and_unknown_keys_are_reported() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let mut spec = assign("echo");
    spec.config_override = json!({"mode": "safe", "not_in_schema": 1});
    let toolset = host.toolset([spec]);
    let asg = toolset.by_tool_name("echo").unwrap();
    assert_eq!(asg.override_report.applied_keys, ["mode"]);
    assert_eq!(asg.override_report.ignored_keys, ["not_in_schema"]);

    let done = host
        .call(
            &toolset,
            "echo",
            json!({"message": "hi", "mode": "dangerous"}),
        )
        .await;
    // The guest echoes exactly what it received: the operator's value, not the model's.
    assert_eq!(
        done.result.unwrap(),
        json!({"message": "hi", "mode": "safe"})
    );
    assert_eq!(done.record.forced_keys, ["mode"]);
    assert_eq!(done.record.arguments["mode"], "safe");

    // Also when the model did not send the key at all.
    let done = host
        .call(&toolset, "echo", json!({"message": "again"}))
        .await;
    assert_eq!(done.result.unwrap()["mode"], "safe");
}

#[tokio::test]
async fn invalid_arguments_never_reach_the_guest() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("add"), assign("echo")]);
    for bad in [
        json!({"a": "one", "b": 2}),
        json!({"a": 1}),
        json!([1, 2]),
        json!("text"),
    ] {
        let done = host.call(&toolset, "add", bad.clone()).await;
        let failure = done.result.unwrap_err();
        assert_eq!(failure.kind, FailureKind::InvalidArguments, "{bad}");
        assert!(done.record.stats.is_none(), "nothing ran for {bad}");
    }
    let done = host
        .call(&toolset, "echo", json!({"message": "x", "extra": true}))
        .await;
    assert_eq!(done.result.unwrap_err().kind, FailureKind::InvalidArguments);
    assert_eq!(
        host.call(&toolset, "add", json!({"a": 2, "b": 3}))
            .await
            .result
            .unwrap(),
        json!({"sum": 5.0})
    );
}

#[tokio::test]
async fn a_forced_value_that_breaks_the_schema_is_caught_too() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let mut spec = assign("echo");
    spec.config_override = json!({"count": "not a number"});
    let toolset = host.toolset([spec]);
    let done = host
        .call(&toolset, "echo", json!({"message": "x", "count": 3}))
        .await;
    assert_eq!(done.result.unwrap_err().kind, FailureKind::InvalidArguments);
}

#[tokio::test]
async fn unknown_tools_are_a_not_found_for_the_model() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("add")]);
    let done = host.call(&toolset, "echo", json!({"message": "x"})).await;
    assert_eq!(done.result.unwrap_err().kind, FailureKind::NotFound);
}

#[tokio::test]
async fn a_gated_call_runs_only_after_allow_exactly_once_with_the_gated_arguments() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let mut spec = assign("echo");
    spec.confirmation = ConfirmationSetting::Always;
    spec.config_override = json!({"mode": "forced"});
    let toolset = host.toolset([spec]);

    let CallOutcome::Pending(action) = host
        .boundary
        .call(
            &toolset,
            call("echo", json!({"message": "m", "mode": "x"})),
            false,
        )
        .await
    else {
        panic!("echo with confirmation=always must wait for approval");
    };
    assert_eq!(action.tool_name, "echo");
    assert_eq!(
        action.arguments,
        json!({"message": "m", "mode": "forced"}),
        "the final arguments, after injection"
    );
    assert!(action.description.contains("echo"));
    assert_eq!(host.recorder.records().len(), 1);
    assert!(matches!(
        host.recorder.records()[0].decision,
        Decision::Pending { .. }
    ));
    assert!(
        host.recorder.records()[0].stats.is_none(),
        "nothing ran yet"
    );

    let done = host
        .boundary
        .decide(&toolset, &action.action_id, Approval::Allow, "alice")
        .await
        .unwrap();
    assert_eq!(
        done.result.unwrap(),
        json!({"message": "m", "mode": "forced"})
    );
    assert_eq!(
        done.record.decision,
        Decision::Allowed { by: "alice".into() }
    );

    let again = host
        .boundary
        .decide(&toolset, &action.action_id, Approval::Allow, "alice")
        .await;
    assert_eq!(
        again.unwrap_err(),
        BoundaryError::Decision(DecisionError::AlreadyDecided(action.action_id.clone()))
    );
    let ran = host
        .recorder
        .records()
        .iter()
        .filter(|r| r.stats.is_some())
        .count();
    assert_eq!(ran, 1, "exactly one execution");
}

#[tokio::test]
async fn deny_tells_the_model_and_runs_nothing() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("always_confirm")]);
    let CallOutcome::Pending(action) = host
        .boundary
        .call(
            &toolset,
            call("always_confirm", json!({"note": "n"})),
            false,
        )
        .await
    else {
        panic!("the tool's own default is `always`");
    };
    let done = host
        .boundary
        .decide(
            &toolset,
            &action.action_id,
            Approval::Deny {
                reason: Some("not now".into()),
            },
            "bob",
        )
        .await
        .unwrap();
    let failure = done.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Denied);
    assert_eq!(failure.message, "denied by the user: not now");
    assert!(done.record.stats.is_none());
    let unknown = host
        .boundary
        .decide(&toolset, "no-such-action", Approval::Allow, "bob")
        .await;
    assert!(matches!(
        unknown,
        Err(BoundaryError::Decision(DecisionError::NotFound(_)))
    ));
}

#[tokio::test]
async fn the_assignment_can_lift_a_tools_default_gate_and_hooks_can_add_one() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let mut never = assign("always_confirm");
    never.confirmation = ConfirmationSetting::Never;
    let toolset = host.toolset([never, assign("add")]);
    assert_eq!(
        host.call(&toolset, "always_confirm", json!({"note": "n"}))
            .await
            .result
            .unwrap(),
        json!({"done": "n"})
    );
    let gated_by_hook = host
        .boundary
        .call(&toolset, call("add", json!({"a": 1, "b": 1})), true)
        .await;
    assert!(matches!(gated_by_hook, CallOutcome::Pending(_)));
}

#[tokio::test]
async fn secrets_reach_the_tool_but_not_the_record() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let mut spec = assign("config_get");
    spec.secrets
        .insert("api_token".into(), "s3cr3t-value".into());
    spec.config.insert("region".into(), "eu".into());
    let toolset = host.toolset([spec]);
    let done = host
        .call(&toolset, "config_get", json!({"key": "api_token"}))
        .await;
    assert_eq!(
        done.result.unwrap(),
        json!({"value": "s3cr3t-value"}),
        "the tool can read it"
    );
    let record = serde_json::to_string(&done.record).unwrap();
    assert!(
        !record.contains("s3cr3t-value"),
        "the record must not: {record}"
    );
    let done = host
        .call(&toolset, "config_get", json!({"key": "region"}))
        .await;
    assert_eq!(done.result.unwrap(), json!({"value": "eu"}));
}

#[tokio::test]
async fn config_is_denied_without_values() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("config_get")]);
    let failure = host
        .call(&toolset, "config_get", json!({"key": "x"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::Denied);
}

#[tokio::test]
async fn guest_log_lines_do_not_break_the_call() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("write_log")]);
    assert_eq!(
        host.call(&toolset, "write_log", json!({"message": "hello log"}))
            .await
            .result
            .unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance() {
    let host = Host::new();
    host.load(artifacts::ECHO).await;
    let toolset = host.toolset([assign("counter")]);
    for _ in 0..3 {
        // The guest counts in a static; a reused instance would answer 2, 3, ...
        assert_eq!(
            host.call(&toolset, "counter", json!({}))
                .await
                .result
                .unwrap(),
            json!({"calls": 1})
        );
    }
}

//! Running agents end to end with the scripted model, on SQLite and on Postgres: the tool loop
//! over SSE, config_override in real calls, confirmation gating (a gated call never runs
//! before ALLOW, DENY never runs it, ALLOW runs it once), approvals after a restart, expiry,
//! cancel, rejoining a stream with Last-Event-ID, sessions and `/run`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use corral::artifacts;
use corral_tests::api::{Reply, TestApi};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(corral_tests::api::TestApi::new(corral_tests::api::Db::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(corral_tests::api::TestApi::new(corral_tests::api::Db::Postgres).await).await
                }
            )*
        }
    };
}

on_both_databases!(
    tool_loop_streams_every_event,
    gated_call_waits_for_allow_and_runs_once,
    deny_never_runs_the_call,
    approval_survives_a_restart,
    several_gated_calls_are_decided_separately,
    expired_approvals_count_as_deny,
    cancel_stops_a_paused_run,
    a_dropped_client_rejoins_without_gap_or_duplicate,
    sync_run_sessions_and_context,
    hooks_gate_and_block_tool_calls,
);

fn kinds(events: &[(i64, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, e)| e["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn of_kind<'a>(events: &'a [(i64, Value)], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(_, e)| e["event"] == kind)
        .map(|(_, e)| e)
        .collect()
}

/// A scripted agent with `tools` assigned (the echo component uploaded first).
async fn scripted_agent(api: &TestApi, script: Value, tools: &[&str]) -> String {
    let reply = api
        .post("/api/agents", json!({"name": "scripted", "model": "scripted", "settings": {"script": script, "max_steps": 5}}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let agent = reply.body["id"].as_str().unwrap().to_string();
    if !tools.is_empty()
        && api
            .get("/api/tools")
            .await
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "add")
    {
        let uploaded = api.upload(artifacts::ECHO).await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    }
    for tool in tools {
        let assigned = api
            .post(
                &format!("/api/agents/{agent}/tools"),
                json!({"tool_name": tool}),
            )
            .await;
        assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    }
    agent
}

/// A loopback endpoint counting the calls it gets, and an HTTP tool `ping` pointing at it,
/// assigned to `agent` with confirmation `always`.
async fn gated_ping(api: &TestApi, agent: &str, name: &str) -> Arc<AtomicUsize> {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/ping",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                axum::Json(json!({"pong": n, "got": body}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let created = api
        .post(
            "/api/tools",
            json!({"name": name, "description": "Pings a service.", "type": "http",
                   "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}},
                   "config": {"endpoint": format!("http://{addr}/ping"), "allow_private_network": true}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let assigned = api
        .post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": name, "confirmation": "always"}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    hits
}

async fn approve(api: &TestApi, run_id: &str, key: &str, body: Value) -> Reply {
    api.send(
        axum::http::Method::POST,
        &format!("/api/agents/runs/{run_id}/approve"),
        Some(key),
        Some(body),
    )
    .await
}

/// Follows a run's events from after `after` to the end of the stream.
async fn follow(
    router: &axum::Router,
    key: &str,
    run_id: &str,
    after: Option<i64>,
) -> Vec<(i64, Value)> {
    let mut request = Request::get(format!("/api/agents/runs/{run_id}/events"))
        .header("authorization", format!("Bearer {key}"));
    if let Some(after) = after {
        request = request.header("last-event-id", after.to_string());
    }
    let (status, events) = TestApi::sse_on(router, request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{events:?}");
    events
}

fn assert_consecutive(events: &[(i64, Value)], from: i64) {
    let ids: Vec<i64> = events.iter().map(|(id, _)| *id).collect();
    let expected: Vec<i64> = (from..from + ids.len() as i64).collect();
    assert_eq!(
        ids,
        expected,
        "ids must be consecutive, without gap or repeat: {:?}",
        kinds(events)
    );
}

async fn tool_loop_streams_every_event(api: TestApi) {
    let script = json!([
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "echo", "arguments": {"x": 1}}]},
        {"text": "The sum is 101."}
    ]);
    let agent = scripted_agent(&api, script, &["add", "echo"]).await;
    // The operator forces b = 100: the model's b = 2 never reaches the tool.
    let assignments = api.get(&format!("/api/agents/{agent}/tools")).await;
    let add = assignments
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["tool_name"] == "add")
        .unwrap();
    let patched = api
        .patch(
            &format!("/api/agents/{agent}/tools/{}", add["id"].as_str().unwrap()),
            json!({"config_override": {"b": 100}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);

    let user = api.key(&["agents:run"], Some("alice")).await;
    let events = api
        .run_stream(&agent, &user, json!({"message": "What is 1 + 2?"}))
        .await;
    assert_consecutive(&events, 1);
    let k = kinds(&events);
    assert_eq!(k.first().map(String::as_str), Some("start"));
    assert_eq!(k.last().map(String::as_str), Some("complete"));
    for kind in [
        "step_started",
        "step_completed",
        "tool_call",
        "tool_result",
        "chunk",
    ] {
        assert!(k.contains(&kind.to_string()), "no {kind} in {k:?}");
    }
    assert_eq!(of_kind(&events, "tool_call").len(), 2);
    let results = of_kind(&events, "tool_result");
    assert_eq!(results.len(), 2);
    let add_result = results.iter().find(|r| r["tool_name"] == "add").unwrap();
    assert!(
        add_result["result_preview"]
            .as_str()
            .unwrap()
            .contains("101"),
        "{add_result}"
    );
    let complete = of_kind(&events, "complete")[0];
    assert_eq!(complete["content"], "The sum is 101.");
    let session_id = complete["session_id"].as_str().unwrap().to_string();
    assert_eq!(of_kind(&events, "start")[0]["session_id"], session_id);
    assert_eq!(complete["tool_calls"].as_array().unwrap().len(), 2);
    let chunks: String = of_kind(&events, "chunk")
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(chunks, "The sum is 101.");

    // The run record has every field filled.
    let run_id = events[0].1["run_id"].as_str().unwrap();
    let run = api
        .send(
            axum::http::Method::GET,
            &format!("/api/agents/runs/{run_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(run.status, StatusCode::OK);
    let run = run.body;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["content"], "The sum is 101.");
    assert_eq!(run["steps"].as_array().unwrap().len(), 2);
    assert_eq!(run["events"].as_array().unwrap().len(), events.len());
    let calls = run["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c["duration_ms"].as_f64().is_some()));
    assert_eq!(
        calls.iter().find(|c| c["tool_name"] == "add").unwrap()["arguments"],
        json!({"a": 1, "b": 100})
    );
    assert!(run["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(run["started_at"].is_string() && run["completed_at"].is_string());
    assert_eq!(
        run["output_messages"].as_array().unwrap().len(),
        4,
        "assistant, 2 tool results, answer"
    );
    // Another user cannot see it.
    let bob = api.key(&["agents:run"], Some("bob")).await;
    let hidden = api
        .send(
            axum::http::Method::GET,
            &format!("/api/agents/runs/{run_id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let hidden_events = TestApi::sse_on(
        &api.router,
        Request::get(format!("/api/agents/runs/{run_id}/events"))
            .header("authorization", format!("Bearer {bob}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(hidden_events.0, StatusCode::NOT_FOUND);
}

async fn pause(api: &TestApi, key: &str, agent: &str) -> (String, Vec<(i64, Value)>) {
    let events = api
        .run_stream(agent, key, json!({"message": "ping it"}))
        .await;
    assert_eq!(
        kinds(&events).last().map(String::as_str),
        Some("run_paused"),
        "{:?}",
        kinds(&events)
    );
    let run_id = events[0].1["run_id"].as_str().unwrap().to_string();
    (run_id, events)
}

async fn gated_call_waits_for_allow_and_runs_once(api: TestApi) {
    let agent = scripted_agent(&api, json!([{"tool_calls": [{"name": "ping", "arguments": {"note": "hi"}}]}, {"text": "pinged"}]), &[]).await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let alice = api.key(&["agents:run"], Some("alice")).await;
    let bob = api.key(&["agents:run"], Some("bob")).await;
    let (run_id, events) = pause(&api, &alice, &agent).await;
    let requested = of_kind(&events, "approval_requested")[0];
    assert_eq!(requested["tool_name"], "ping");
    assert_eq!(requested["tool_input"], json!({"note": "hi"}));
    assert!(requested["message"].as_str().unwrap().contains("ping"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a gated call never runs before ALLOW"
    );
    let run = api.get(&format!("/api/agents/runs/{run_id}")).await;
    assert_eq!(run.body["status"], "awaiting_approval");

    // Another user's approval: 404, and nothing ran.
    assert_eq!(
        approve(&api, &run_id, &bob, json!({"approved": true}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // Bad bodies.
    assert_eq!(
        approve(&api, &run_id, &alice, json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        approve(
            &api,
            &run_id,
            &alice,
            json!({"approved": true, "action_id": "nope"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let allowed = approve(&api, &run_id, &alice, json!({"approved": true})).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert_eq!(allowed.body["status"], "approved");
    let last = events.last().unwrap().0;
    let rest = follow(&api.router, &alice, &run_id, Some(last)).await;
    assert_consecutive(&rest, last + 1);
    assert_eq!(
        kinds(&rest).last().map(String::as_str),
        Some("complete"),
        "{:?}",
        kinds(&rest)
    );
    assert_eq!(of_kind(&rest, "complete")[0]["content"], "pinged");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "ALLOW runs it exactly once");
    let result = of_kind(&rest, "tool_result")[0];
    assert_eq!(result["result_meta"]["decision"], "allowed");

    // Approving again, or a finished run: 409; still one call.
    let again = approve(&api, &run_id, &alice, json!({"approved": true})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    again.error();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let record = api.get(&format!("/api/agents/runs/{run_id}")).await;
    let calls = record.body["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["decision"], "allowed");
    assert_eq!(calls[0]["arguments"], json!({"note": "hi"}));
}

async fn deny_never_runs_the_call(api: TestApi) {
    let agent = scripted_agent(
        &api,
        json!([{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"text": "ok, not pinged"}]),
        &[],
    )
    .await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let (run_id, events) = pause(&api, &api.admin, &agent).await;
    let denied = approve(
        &api,
        &run_id,
        &api.admin,
        json!({"approved": false, "reason": "not today"}),
    )
    .await;
    assert_eq!(denied.status, StatusCode::OK);
    assert_eq!(denied.body["status"], "denied");
    let rest = follow(
        &api.router,
        &api.admin,
        &run_id,
        Some(events.last().unwrap().0),
    )
    .await;
    assert_eq!(kinds(&rest).last().map(String::as_str), Some("complete"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "DENY never runs the call");
    let run = api.get(&format!("/api/agents/runs/{run_id}")).await;
    let told = run.body["output_messages"].to_string();
    assert!(
        told.contains("denied by the user: not today"),
        "the model is told: {told}"
    );
}

async fn approval_survives_a_restart(api: TestApi) {
    let agent = scripted_agent(&api, json!([{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"text": "done after restart"}]), &[]).await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let (run_id, events) = pause(&api, &api.admin, &agent).await;
    // A new process on the same database: nothing of the run is in memory any more.
    let restarted = api.restarted().await;
    let response = restarted
        .clone()
        .oneshot(
            Request::post(format!("/api/agents/runs/{run_id}/approve"))
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .body(Body::from(json!({"approved": true}).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rest = follow(
        &restarted,
        &api.admin,
        &run_id,
        Some(events.last().unwrap().0),
    )
    .await;
    assert_eq!(
        of_kind(&rest, "complete")[0]["content"],
        "done after restart"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

async fn several_gated_calls_are_decided_separately(api: TestApi) {
    let agent = scripted_agent(
        &api,
        json!([{"tool_calls": [{"name": "ping", "arguments": {"note": "one"}}, {"name": "ping", "arguments": {"note": "two"}}]}, {"text": "both decided"}]),
        &[],
    )
    .await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let (run_id, events) = pause(&api, &api.admin, &agent).await;
    let requested = of_kind(&events, "approval_requested");
    assert_eq!(requested.len(), 2);
    let which = approve(&api, &run_id, &api.admin, json!({"approved": true})).await;
    assert_eq!(which.status, StatusCode::BAD_REQUEST);
    assert!(which.error().contains("action_id"));
    let first = requested
        .iter()
        .find(|r| r["tool_input"]["note"] == "one")
        .unwrap()["action_id"]
        .as_str()
        .unwrap();
    let second = requested
        .iter()
        .find(|r| r["tool_input"]["note"] == "two")
        .unwrap()["action_id"]
        .as_str()
        .unwrap();
    let one = approve(
        &api,
        &run_id,
        &api.admin,
        json!({"approved": true, "action_id": first}),
    )
    .await;
    assert_eq!(one.body["remaining_actions"], 1);
    assert_eq!(
        api.get(&format!("/api/agents/runs/{run_id}")).await.body["status"],
        "awaiting_approval"
    );
    let two = approve(
        &api,
        &run_id,
        &api.admin,
        json!({"approved": false, "action_id": second}),
    )
    .await;
    assert_eq!(two.status, StatusCode::OK);
    let rest = follow(
        &api.router,
        &api.admin,
        &run_id,
        Some(events.last().unwrap().0),
    )
    .await;
    assert_eq!(kinds(&rest).last().map(String::as_str), Some("complete"));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one allowed, one denied");
}

async fn expired_approvals_count_as_deny(api: TestApi) {
    let agent = scripted_agent(
        &api,
        json!([{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"text": "expired"}]),
        &[],
    )
    .await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let (run_id, events) = pause(&api, &api.admin, &agent).await;
    assert_eq!(
        api.state
            .engine
            .expire_pending("2000-01-01T00:00:00.000000Z")
            .await
            .unwrap(),
        0,
        "not yet"
    );
    assert_eq!(
        api.state
            .engine
            .expire_pending("9999-01-01T00:00:00.000000Z")
            .await
            .unwrap(),
        1
    );
    let rest = follow(
        &api.router,
        &api.admin,
        &run_id,
        Some(events.last().unwrap().0),
    )
    .await;
    assert_eq!(kinds(&rest).last().map(String::as_str), Some("complete"));
    assert_eq!(
        of_kind(&rest, "tool_result")[0]["result_meta"]["decision"],
        "expired"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        approve(&api, &run_id, &api.admin, json!({"approved": true}))
            .await
            .status,
        StatusCode::CONFLICT
    );
}

async fn cancel_stops_a_paused_run(api: TestApi) {
    let agent = scripted_agent(
        &api,
        json!([{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"text": "never"}]),
        &[],
    )
    .await;
    let hits = gated_ping(&api, &agent, "ping").await;
    let (run_id, _) = pause(&api, &api.admin, &agent).await;
    let cancel = api
        .post(&format!("/api/agents/runs/{run_id}/cancel"), json!({}))
        .await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    assert_eq!(
        api.get(&format!("/api/agents/runs/{run_id}")).await.body["status"],
        "cancelled"
    );
    assert_eq!(
        approve(&api, &run_id, &api.admin, json!({"approved": true}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post(&format!("/api/agents/runs/{run_id}/cancel"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post("/api/agents/runs/nope/cancel", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let events = follow(&api.router, &api.admin, &run_id, None).await;
    assert_eq!(kinds(&events).last().map(String::as_str), Some("cancelled"));
}

async fn a_dropped_client_rejoins_without_gap_or_duplicate(api: TestApi) {
    let script = json!([{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}, {"text": "five it is, said the scripted model"}]);
    let agent = scripted_agent(&api, script, &["add"]).await;
    let response = api
        .router
        .clone()
        .oneshot(
            Request::post(format!("/api/agents/{agent}/run/stream"))
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .body(Body::from(json!({"message": "add"}).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let run_id = response.headers()["x-run-id"].to_str().unwrap().to_string();
    // Read the first three events, then drop the connection.
    let mut body = response.into_body();
    let mut text = String::new();
    while text.matches("\n\n").filter(|_| true).count() < 3 || !text.contains("data:") {
        let frame = body.frame().await.expect("more frames").expect("frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
        if text.matches("data:").count() >= 3 {
            break;
        }
    }
    drop(body);
    let seen: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:").map(|v| v.trim().parse().unwrap()))
        .collect();
    assert!(seen.len() >= 3, "{text}");
    let last = *seen.last().unwrap();
    // The run went on without the client; rejoining from the last id misses nothing.
    let rest = follow(&api.router, &api.admin, &run_id, Some(last)).await;
    assert_consecutive(&rest, last + 1);
    assert_eq!(kinds(&rest).last().map(String::as_str), Some("complete"));
    // From the start: the whole log, same ids.
    let all = follow(&api.router, &api.admin, &run_id, None).await;
    assert_consecutive(&all, 1);
    assert_eq!(all.len() as i64, last + rest.len() as i64);
    let bad = TestApi::sse_on(
        &api.router,
        Request::get(format!("/api/agents/runs/{run_id}/events"))
            .header("authorization", format!("Bearer {}", api.admin))
            .header("last-event-id", "abc")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
}

async fn sync_run_sessions_and_context(api: TestApi) {
    let agent = scripted_agent(
        &api,
        json!([{"text": "first answer"}, {"text": "second answer"}]),
        &[],
    )
    .await;
    let alice = api.key(&["agents:run"], Some("alice")).await;
    let bob = api.key(&["agents:run"], Some("bob")).await;
    let run = |key: String, body: Value| {
        let api = &api;
        let agent = agent.clone();
        async move {
            api.send(
                axum::http::Method::POST,
                &format!("/api/agents/{agent}/run"),
                Some(&key),
                Some(body),
            )
            .await
        }
    };
    let first = run(
        alice.clone(),
        json!({"message": "hello", "context_override": "The sky is green here."}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["content"], "first answer");
    assert_eq!(first.body["is_new_session"], true);
    let session = first.body["session_id"].as_str().unwrap().to_string();
    assert!(first.body["usage"]["total_tokens"].as_u64().is_some());
    // The same session continues: the history holds one answer, so the script's second turn.
    let second = run(
        alice.clone(),
        json!({"message": "again", "session_id": session}),
    )
    .await;
    assert_eq!(second.body["content"], "second answer");
    assert_eq!(second.body["session_id"], session.as_str());
    let second_run = api
        .get(&format!(
            "/api/agents/runs/{}",
            second.body["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        second_run.body["input_messages"].as_array().unwrap().len(),
        3,
        "hello, first answer, again"
    );
    // Bob cannot continue Alice's session.
    assert_eq!(
        run(bob.clone(), json!({"message": "x", "session_id": session}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let sessions = api
        .send(
            axum::http::Method::GET,
            &format!("/api/agents/{agent}/sessions"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(sessions.body.as_array().unwrap().len(), 1);
    // Bad requests.
    for (body, needle) in [
        (json!({"message": ""}), "message"),
        (json!({}), "message"),
        (
            json!({"message": "x", "context_override": "a", "context_items": [{"text": "b"}]}),
            "at most one",
        ),
        (
            json!({"message": "x", "knowledge_bases": [{"id": "kb"}]}),
            "knowledge-base",
        ),
        (json!({"message": "x", "temperature": 5}), "temperature"),
        (
            json!({"message": "x", "response_format": {"type": "json"}}),
            "schema",
        ),
        (json!({"message": "x", "stream": true}), "stream"),
    ] {
        let reply = run(alice.clone(), body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }
    assert_eq!(
        run(alice.clone(), json!({"message": "x", "session_id": "nope"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // response_format is checked: plain text does not match a JSON schema.
    let formatted = run(
        alice.clone(),
        json!({"message": "x", "response_format": {"name": "r", "schema": {"type": "object", "required": ["a"]}}}),
    )
    .await;
    assert_eq!(
        formatted.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        formatted.body
    );
    assert!(
        formatted.body["error"]
            .as_str()
            .unwrap()
            .contains("response_format")
    );
    // A scripted agent without a script fails with a clear error event.
    let empty = api
        .post(
            "/api/agents",
            json!({"name": "no script", "model": "scripted"}),
        )
        .await;
    let empty_id = empty.body["id"].as_str().unwrap();
    let events = api
        .run_stream(empty_id, &api.admin, json!({"message": "hi"}))
        .await;
    let error = of_kind(&events, "error");
    assert_eq!(error.len(), 1, "{:?}", kinds(&events));
    assert!(
        error[0]["error"]
            .as_str()
            .unwrap()
            .contains("settings.script")
    );
    assert_eq!(error[0]["message"], error[0]["error"]);
    // Needs agents:run.
    let reader = api.key(&["agents:read"], None).await;
    assert_eq!(
        run(reader, json!({"message": "x"})).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn hooks_gate_and_block_tool_calls(api: TestApi) {
    let script = json!([
        {"tool_calls": [{"name": "echo", "arguments": {"url": "http://plain.example"}}, {"name": "add", "arguments": {"a": 1, "b": 1}}]},
        {"text": "hooked"}
    ]);
    let agent = scripted_agent(&api, script, &["add", "echo"]).await;
    let approval = api
        .post(&format!("/api/agents/{agent}/hooks"), json!({"event": "PreToolUse", "type": "approval", "matcher": "add", "config": {"message": "Approve?"}}))
        .await;
    assert_eq!(approval.status, StatusCode::CREATED);
    let rule = api
        .post(
            &format!("/api/agents/{agent}/hooks"),
            json!({"event": "before_tool_call", "type": "rule", "matcher": "echo",
                   "config": {"rules": [{"field": "tool_input.url", "operator": "STARTS_WITH", "value": "http://"}], "message": "https only"}}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED);
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "go"}))
        .await;
    let k = kinds(&events);
    assert_eq!(
        k.last().map(String::as_str),
        Some("run_paused"),
        "the approval hook gates add: {k:?}"
    );
    let hook_results = of_kind(&events, "hook_result");
    assert!(
        hook_results
            .iter()
            .any(|h| h["blocked"] == true && h["message"] == "https only"),
        "{hook_results:?}"
    );
    let echo_result = of_kind(&events, "tool_result")
        .into_iter()
        .find(|r| r["tool_name"] == "echo")
        .unwrap();
    assert_eq!(echo_result["result_meta"]["ok"], false);
    assert!(
        echo_result["result_preview"]
            .as_str()
            .unwrap()
            .contains("https only")
    );
    let requested = of_kind(&events, "approval_requested");
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["tool_name"], "add");
}

/// HTTP hooks: the event arrives signed (HMAC-SHA256 of the body with the hook's secret); a
/// PreToolUse hook can rewrite a call's input (validated again by the boundary) or deny it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_hooks_are_signed_and_can_modify_or_deny() {
    use corral::engine::hooks::SIGNATURE_HEADER;
    let api = TestApi::new(corral_tests::api::Db::Sqlite).await;
    let received = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let log = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let signature = headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                log.lock().unwrap().push((signature, body.clone()));
                let event: Value = serde_json::from_str(&body).unwrap();
                match event["tool_name"].as_str() {
                    Some("add") => {
                        axum::Json(json!({"action": "allow", "modified_input": {"a": 10, "b": 10}}))
                    }
                    Some("echo") => {
                        axum::Json(json!({"action": "deny", "message": "echo is off today"}))
                    }
                    _ => axum::Json(json!({"action": "allow"})),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let script = json!([
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "echo", "arguments": {"x": 1}}]},
        {"text": "hooked"}
    ]);
    let agent = scripted_agent(&api, script, &["add", "echo"]).await;
    let hook = api
        .post(
            &format!("/api/agents/{agent}/hooks"),
            json!({"event": "PreToolUse", "type": "http", "config": {"url": format!("http://{addr}/hook"), "secret": "s3cret"}}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "go"}))
        .await;
    assert_eq!(
        kinds(&events).last().map(String::as_str),
        Some("complete"),
        "{:?}",
        kinds(&events)
    );
    let results = of_kind(&events, "tool_result");
    let add = results.iter().find(|r| r["tool_name"] == "add").unwrap();
    assert!(
        add["result_preview"].as_str().unwrap().contains("20"),
        "modified input used: {add}"
    );
    let echo = results.iter().find(|r| r["tool_name"] == "echo").unwrap();
    assert!(
        echo["result_preview"]
            .as_str()
            .unwrap()
            .contains("echo is off today"),
        "{echo}"
    );
    assert!(
        of_kind(&events, "hook_result")
            .iter()
            .any(|h| h["blocked"] == true)
    );
    // Every delivery was signed with the hook's secret.
    use hmac::{Hmac, Mac};
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for (signature, body) in received {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body.as_bytes());
        assert_eq!(
            signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
}

/// Several runs at once on the embedded SQLite database all complete (its single writer must
/// not turn concurrent event appends into "database is locked" failures).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_on_sqlite_all_complete() {
    let api = TestApi::new(corral_tests::api::Db::Sqlite).await;
    let script = json!([{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}, {"text": "three"}]);
    let agent = scripted_agent(&api, script, &["add"]).await;
    let runs = (0..8).map(|_| api.run_stream(&agent, &api.admin, json!({"message": "add"})));
    for events in futures::future::join_all(runs).await {
        assert_eq!(
            kinds(&events).last().map(String::as_str),
            Some("complete"),
            "{events:?}"
        );
    }
}

/// Cancelling a run while a tool call is in flight: the stream ends with `cancelled` (no
/// result of the spinning call), and the run is recorded as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_run() {
    let api = TestApi::new(corral_tests::api::Db::Sqlite).await;
    let uploaded = api.upload(artifacts::HOSTILE).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let agent = scripted_agent(
        &api,
        json!([{"tool_calls": [{"name": "spin_forever", "arguments": {}}]}, {"text": "never"}]),
        &["spin_forever"],
    )
    .await;
    let response = api
        .router
        .clone()
        .oneshot(
            Request::post(format!("/api/agents/{agent}/run/stream"))
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .body(Body::from(json!({"message": "spin"}).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let run_id = response.headers()["x-run-id"].to_str().unwrap().to_string();
    let mut body = response.into_body();
    let mut text = String::new();
    // Wait (on the stream itself) until the tool call has started.
    while !text.contains("\"tool_call\"") {
        let frame = body.frame().await.expect("more frames").expect("frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    let cancelled = api
        .post(&format!("/api/agents/runs/{run_id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.expect("frame").data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    assert!(text.contains("\"cancelled\""), "{text}");
    assert!(!text.contains("\"tool_result\""), "{text}");
    assert_eq!(
        api.get(&format!("/api/agents/runs/{run_id}")).await.body["status"],
        "cancelled"
    );
}

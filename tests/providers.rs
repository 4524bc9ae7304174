//! The tool loop against local fake OpenAI-compatible and Anthropic servers that replay the
//! real streaming wire formats: tool-call argument deltas split across chunks, reasoning, usage,
//! and a stream cut mid-way, which must end the run with a clear error (never a hung run).

use axum::http::StatusCode;
use corral::llm::providers::{ProviderEntry, ProviderKind};
use corral_tests::api::{Db, TestApi};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const OPENAI_TOOL_CALL: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"add\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\": 4\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\", \\\"b\\\": 5}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":9,\"total_tokens\":29}}\n\n",
    "data: [DONE]\n\n",
);

const OPENAI_ANSWER: &str = concat!(
    "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"4 plus 5.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The sum\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" is 9.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":5,\"total_tokens\":45}}\n\n",
    "data: [DONE]\n\n",
);

const ANTHROPIC_TOOL_CALL: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"add\",\"input\":{}}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": 4\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\", \\\"b\\\": 5}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const ANTHROPIC_ANSWER: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"4 plus 5.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"The sum\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\" is 9.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// A fake provider: answers the first call of a run with a tool call and, once the request
/// carries a tool result, with text; `/cut` paths stop mid-stream. Records request bodies.
async fn fake_provider(kind: ProviderKind) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let handler = move |axum::extract::Path(mode): axum::extract::Path<String>,
                        axum::Json(body): axum::Json<Value>| {
        let record = record.clone();
        async move {
            let has_result = body.to_string().contains("tool_call_id")
                || body.to_string().contains("tool_result");
            record.lock().unwrap().push(body);
            let stream = match (kind, has_result) {
                (ProviderKind::Openai, false) => OPENAI_TOOL_CALL,
                (ProviderKind::Openai, true) => OPENAI_ANSWER,
                (ProviderKind::Anthropic, false) => ANTHROPIC_TOOL_CALL,
                (ProviderKind::Anthropic, true) => ANTHROPIC_ANSWER,
            };
            let stream = if mode == "cut" {
                &stream[..stream.len() / 2]
            } else {
                stream
            };
            ([("content-type", "text/event-stream")], stream.to_string())
        }
    };
    let path = match kind {
        ProviderKind::Openai => "/{mode}/v1/chat/completions",
        ProviderKind::Anthropic => "/{mode}/v1/messages",
    };
    let app = axum::Router::new().route(path, axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

async fn api_with(kind: ProviderKind, base: &str) -> TestApi {
    let suffix = match kind {
        ProviderKind::Openai => "/v1",
        ProviderKind::Anthropic => "",
    };
    let entry = |mode: &str| ProviderEntry {
        kind,
        base_url: format!("{base}/{mode}{suffix}"),
        api_key: Some("test-key".into()),
        api_key_env: None,
        timeout_seconds: Some(10),
        max_retries: Some(0),
    };
    TestApi::new_with(Db::Sqlite, |config| {
        config.providers.insert("fake".into(), entry("ok"));
        config.providers.insert("fakecut".into(), entry("cut"));
    })
    .await
}

async fn agent_with_add(api: &TestApi, model: &str) -> String {
    let _ = api.upload(corral::artifacts::ECHO).await;
    let agent = api
        .post(
            "/api/agents",
            json!({"name": "llm", "model": model, "system_prompt": "Add numbers."}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.body);
    let id = agent.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.post(
            &format!("/api/agents/{id}/tools"),
            json!({"tool_name": "add"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    id
}

fn kinds(events: &[(i64, Value)]) -> Vec<&str> {
    events
        .iter()
        .map(|(_, e)| e["event"].as_str().unwrap_or("?"))
        .collect()
}

async fn loop_completes(kind: ProviderKind) {
    let (base, seen) = fake_provider(kind).await;
    let api = api_with(kind, &base).await;
    let agent = agent_with_add(&api, "fake/some-model").await;
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "4 + 5?"}))
        .await;
    let k = kinds(&events);
    assert_eq!(k.last(), Some(&"complete"), "{k:?}: {events:?}");
    let tool_call = events
        .iter()
        .find(|(_, e)| e["event"] == "tool_call")
        .unwrap();
    assert_eq!(
        tool_call.1["arguments"],
        json!({"a": 4, "b": 5}),
        "deltas assembled"
    );
    let result = events
        .iter()
        .find(|(_, e)| e["event"] == "tool_result")
        .unwrap();
    assert!(result.1["result_preview"].as_str().unwrap().contains('9'));
    assert!(k.contains(&"reasoning"), "{k:?}");
    let complete = &events.last().unwrap().1;
    assert_eq!(complete["content"], "The sum is 9.");
    assert!(complete["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The second request carried the tool result back, in the provider's own shape.
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["model"], "some-model");
    assert!(requests[0]["tools"].to_string().contains("\"add\""));
    let second = requests[1].to_string();
    match kind {
        ProviderKind::Openai => {
            assert!(second.contains("\"tool_call_id\":\"call_abc\""), "{second}")
        }
        ProviderKind::Anthropic => {
            assert!(second.contains("\"tool_use_id\":\"toolu_1\""), "{second}")
        }
    }
}

async fn cut_stream_fails_the_run(kind: ProviderKind) {
    let (base, _) = fake_provider(kind).await;
    let api = api_with(kind, &base).await;
    let agent = agent_with_add(&api, "fakecut/some-model").await;
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "4 + 5?"}))
        .await;
    let (_, error) = events.last().unwrap();
    assert_eq!(error["event"], "error", "{events:?}");
    assert!(
        error["error"].as_str().unwrap().contains("ended"),
        "{error}"
    );
    let run_id = error["run_id"].as_str().unwrap();
    let run = api.get(&format!("/api/agents/runs/{run_id}")).await;
    assert_eq!(run.body["status"], "failed");
    assert!(run.body["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_loop_completes() {
    loop_completes(ProviderKind::Openai).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_loop_completes() {
    loop_completes(ProviderKind::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_cut_stream_fails_the_run() {
    cut_stream_fails_the_run(ProviderKind::Openai).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_cut_stream_fails_the_run() {
    cut_stream_fails_the_run(ProviderKind::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_fails_the_run_clearly() {
    let api = TestApi::new_with(Db::Sqlite, |config| {
        // Port 9 (discard) has nothing listening on a test machine: connecting is refused.
        config.providers.insert(
            "down".into(),
            ProviderEntry {
                kind: ProviderKind::Openai,
                base_url: "http://127.0.0.1:9/v1".into(),
                api_key: None,
                api_key_env: None,
                timeout_seconds: Some(5),
                max_retries: Some(0),
            },
        );
    })
    .await;
    let agent = agent_with_add(&api, "down/llama3.1").await;
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "hi"}))
        .await;
    let (_, last) = events.last().unwrap();
    assert_eq!(last["event"], "error", "{events:?}");
    assert!(last["message"].as_str().unwrap().contains("down"), "{last}");
    assert_eq!(last["error"], last["message"]);
}

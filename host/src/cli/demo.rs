//! `corral demo`: the main job on a fresh machine with no API key. It starts a server on a
//! loopback port with a throwaway SQLite database, creates an agent on the `scripted` model
//! (a deterministic replay, not an LLM) that uses the `notes` example tool, runs it over
//! `/run/stream`, hits a gated call (`delete_note` asks for approval by default), approves it
//! over `/approve`, and prints every streamed event. Everything goes over real HTTP.

use super::CliError;
use crate::server::config::{FileConfig, Overrides, ServerConfig};
use crate::server::{AdminKey, build_state, ensure_admin_key, serve};
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;

/// `corral demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's data (database, buckets) in this directory instead of a temporary one.
    #[arg(long)]
    pub keep_data: Option<PathBuf>,
}

/// Runs the demo.
pub(super) async fn run(args: DemoArgs, cache_dir: Option<PathBuf>) -> Result<(), CliError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| CliError::Failed(format!("{what}: {e}"));
    let temp = tempfile::tempdir().map_err(|e| failed("creating a data directory", &e))?;
    let data_dir = args.keep_data.unwrap_or_else(|| temp.path().to_path_buf());
    let config = ServerConfig::resolve(
        Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir.clone()),
            cache_dir,
            ..Overrides::default()
        },
        FileConfig::default(),
    )
    .map_err(CliError::Usage)?;
    println!(
        "Starting a Corral server (SQLite in {})...",
        data_dir.display()
    );
    let state = build_state(&config)
        .await
        .map_err(|e| failed("starting", &e))?;
    let key = match ensure_admin_key(&state.store, None).await {
        Ok(AdminKey::Generated(key)) => key,
        Ok(_) => {
            let key = crate::store::keys::generate_secret();
            state
                .store
                .create_key(
                    crate::store::keys::NewKey {
                        name: "demo".into(),
                        scopes: vec![crate::store::keys::Scope::Admin],
                        user_ref: None,
                    },
                    &key,
                )
                .await
                .map_err(|e| failed("creating a key", &e))?;
            key
        }
        Err(e) => return Err(failed("creating a key", &e)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| failed("listening", &e))?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| failed("listening", &e))?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    println!("Server up on {base}.\n");
    let outcome = drive(&base, &key).await;
    let _ = stop.send(());
    let _ = server.await;
    outcome
}

async fn drive(base: &str, key: &str) -> Result<(), CliError> {
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    };
    let json_of = |response: reqwest::Response, what: &'static str| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(CliError::Failed(format!("{what}: {status} {body}")))
        }
    };
    let send = |request: reqwest::RequestBuilder| async move {
        request
            .send()
            .await
            .map_err(|e| CliError::Failed(format!("request failed: {e}")))
    };

    // 1. The tool: upload the `notes` example component.
    let upload = send(
        http.post(format!("{base}/api/tools"))
            .bearer_auth(key)
            .header("content-type", "application/wasm")
            .body(crate::artifacts::NOTES_COMPONENT.to_vec()),
    )
    .await?;
    let upload = json_of(upload, "uploading the notes tool").await?;
    let names: Vec<&str> = upload["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    println!(
        "POST /api/tools (notes.wasm) -> tools {names:?}, capabilities {}",
        upload["component"]["capabilities"]
    );

    // 2. The agent, on the scripted model, and its tools with a storage bucket granted.
    let script = json!([
        {"tool_calls": [{"name": "save_note", "arguments": {"name": "groceries", "text": "eggs, milk, coffee"}}]},
        {"tool_calls": [{"name": "delete_note", "arguments": {"name": "groceries"}}]},
        {"text": "I saved your groceries note and, with your approval, deleted it again."}
    ]);
    let agent = send(call(
        reqwest::Method::POST,
        "/api/agents",
        Some(
            json!({"name": "Notes demo", "model": "scripted", "system_prompt": "You keep notes.",
                    "settings": {"script": script, "max_steps": 5}}),
        ),
    ))
    .await?;
    let agent = json_of(agent, "creating the agent").await?;
    let agent_id = agent["id"].as_str().unwrap_or_default().to_string();
    println!(
        "POST /api/agents -> {agent_id} (model: scripted, a deterministic replay of settings.script)"
    );
    for tool in ["save_note", "delete_note"] {
        let assigned = send(call(
            reqwest::Method::POST,
            &format!("/api/agents/{agent_id}/tools"),
            Some(json!({"tool_name": tool, "grants": {"storage": {"bucket": "demo-notes"}}})),
        ))
        .await?;
        let assigned = json_of(assigned, "assigning a tool").await?;
        println!(
            "POST /api/agents/{{id}}/tools {tool} -> requires_confirmation: {}",
            assigned["requires_confirmation"]
        );
    }

    // 3. Run it, streaming, until it pauses for approval.
    println!(
        "\nPOST /api/agents/{{id}}/run/stream {{\"message\": \"Note my groceries, then delete the note.\"}}"
    );
    let response = send(call(
        reqwest::Method::POST,
        &format!("/api/agents/{agent_id}/run/stream"),
        Some(json!({"message": "Note my groceries, then delete the note."})),
    ))
    .await?;
    let (last, events) = print_stream(response).await?;
    let run_id = events
        .first()
        .and_then(|e| e["run_id"].as_str())
        .unwrap_or_default()
        .to_string();
    let Some(request) = events.iter().find(|e| e["event"] == "approval_requested") else {
        return Err(CliError::Failed("the run did not ask for approval".into()));
    };
    println!(
        "\nThe run waits for a human: {}\nPOST /api/agents/runs/{run_id}/approve {{\"approved\": true}}",
        request["message"].as_str().unwrap_or_default()
    );
    let approved = send(call(
        reqwest::Method::POST,
        &format!("/api/agents/runs/{run_id}/approve"),
        Some(json!({"approved": true, "action_id": request["action_id"]})),
    ))
    .await?;
    println!("-> {}", json_of(approved, "approving").await?);

    // 4. Follow the rest from where the first stream stopped.
    println!("\nGET /api/agents/runs/{run_id}/events (Last-Event-ID: {last})");
    let rest = send(
        call(
            reqwest::Method::GET,
            &format!("/api/agents/runs/{run_id}/events"),
            None,
        )
        .header("last-event-id", last.to_string()),
    )
    .await?;
    let (_, rest) = print_stream(rest).await?;
    let done = rest.iter().any(|e| e["event"] == "complete");
    let record = send(call(
        reqwest::Method::GET,
        &format!("/api/agents/runs/{run_id}"),
        None,
    ))
    .await?;
    let record = json_of(record, "reading the run").await?;
    println!(
        "\nGET /api/agents/runs/{run_id} -> status {}, {} steps, {} tool calls, usage {}",
        record["status"],
        record["steps"].as_array().map_or(0, Vec::len),
        record["tool_calls"].as_array().map_or(0, Vec::len),
        record["usage"]
    );
    if done {
        println!(
            "\nDemo complete: a gated tool call waited for ALLOW, ran once, and the run finished."
        );
        Ok(())
    } else {
        Err(CliError::Failed("the run did not complete".into()))
    }
}

/// Prints a server-sent event stream as it arrives; returns the last id and the events.
async fn print_stream(response: reqwest::Response) -> Result<(i64, Vec<Value>), CliError> {
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(CliError::Failed(format!("stream refused: {status} {body}")));
    }
    let mut bytes = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let mut last = 0;
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| CliError::Failed(format!("stream broke: {e}")))?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse::<i64>().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(v.trim()).ok();
                }
            }
            if let (Some(id), Some(event)) = (id, data) {
                last = id;
                println!("  [{id:>2}] {}", summarize(&event));
                events.push(event);
            }
        }
    }
    Ok((last, events))
}

/// One line per event: its kind and the fields a reader cares about.
fn summarize(event: &Value) -> String {
    let kind = event["event"].as_str().unwrap_or("?");
    let detail = match kind {
        "chunk" => format!("{:?}", event["content"].as_str().unwrap_or_default()),
        "tool_call" => format!(
            "{} {}",
            event["tool_name"].as_str().unwrap_or_default(),
            event["arguments"]
        ),
        "tool_result" => format!(
            "{} -> {} ({})",
            event["tool_name"].as_str().unwrap_or_default(),
            event["result_preview"].as_str().unwrap_or_default(),
            event["result_meta"]["decision"]
                .as_str()
                .unwrap_or_default()
        ),
        "approval_requested" => format!(
            "{} {}",
            event["tool_name"].as_str().unwrap_or_default(),
            event["tool_input"]
        ),
        "step_started" | "step_completed" => format!("step {}", event["step"]),
        "complete" => format!("{:?}", event["content"].as_str().unwrap_or_default()),
        "error" => event["error"].as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    };
    format!("{kind:<18} {detail}")
}

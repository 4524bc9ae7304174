//! Running agents: `POST /api/agents/{id}/run` (one model call, no tools, JSON answer),
//! `POST /api/agents/{id}/run/stream` (the tool loop, SSE), `GET /api/agents/runs/{run_id}/events`
//! (replay from `Last-Event-ID`, then live), `POST .../cancel` and `POST .../approve`.

use super::AppState;
use super::agents::find_agent;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, from_value};
use super::streaming::follow;
use crate::engine::EngineError;
use crate::engine::request::{RunOptions, context_from_body, response_format_schema};
use crate::store::keys::Scope;
use crate::store::runs::Run;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The body of `/run` and `/run/stream`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// The user's message.
    pub message: String,
    /// Continue this session (yours); omit to start a new one.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Per-run temperature (0 to 2).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// `{"name"?, "schema": {...}}`: the answer must be JSON matching it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub response_format: Option<Value>,
    /// Token budget for context.
    #[serde(default)]
    pub max_context_tokens: Option<u32>,
    /// Ask for `[n]` citations of the context.
    #[serde(default)]
    pub citations_enabled: Option<bool>,
    /// Ask for the model's reasoning (`reasoning` events).
    #[serde(default)]
    pub reasoning_requested: Option<bool>,
    /// Raw context, injected verbatim.
    #[serde(default)]
    pub context_override: Option<String>,
    /// Context items by value: `[{"id"?, "text"}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub context_items: Option<Vec<Value>>,
    /// Ad-hoc knowledge-base retrieval (needs the knowledge-base milestone).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub knowledge_bases: Option<Vec<Value>>,
    /// A pre-built context handler (needs the knowledge-base milestone).
    #[serde(default)]
    pub context_handler_id: Option<String>,
}

/// A decision on a gated call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// ALLOW (true) or DENY (false).
    pub approved: bool,
    /// Why (passed to the model on DENY).
    #[serde(default)]
    pub reason: Option<String>,
    /// Which action, when the run waits on several.
    #[serde(default)]
    pub action_id: Option<String>,
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Invalid(m) => ApiError::BadRequest(m),
            EngineError::NotFound(m) => ApiError::NotFound(m),
            EngineError::Conflict(m) => ApiError::Conflict(m),
            EngineError::Store(e) => e.into(),
        }
    }
}

/// Checks a run body and turns it into run options.
fn options(
    body: Map<String, Value>,
    tools_enabled: bool,
) -> Result<(RunOptions, Option<String>), ApiError> {
    let context = context_from_body(&body).map_err(ApiError::BadRequest)?;
    let run: RunBody = from_value(Value::Object(body))?;
    if run.message.trim().is_empty() {
        return Err(ApiError::BadRequest("`message` must not be empty".into()));
    }
    if let Some(t) = run.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::BadRequest(
            "`temperature` must be between 0 and 2".into(),
        ));
    }
    if run.max_context_tokens == Some(0) {
        return Err(ApiError::BadRequest(
            "`max_context_tokens` must be at least 1".into(),
        ));
    }
    if let Some(format) = &run.response_format {
        let schema = response_format_schema(format).ok_or_else(|| {
            ApiError::BadRequest(
                "`response_format` needs a JSON Schema under `schema` (or `json_schema.schema`)"
                    .into(),
            )
        })?;
        jsonschema::validator_for(schema).map_err(|e| {
            ApiError::BadRequest(format!("`response_format` has an invalid schema: {e}"))
        })?;
    }
    Ok((
        RunOptions {
            message: run.message,
            temperature: run.temperature,
            response_format: run.response_format,
            max_context_tokens: run.max_context_tokens,
            citations_enabled: run.citations_enabled.unwrap_or(false),
            reasoning_requested: run.reasoning_requested.unwrap_or(false),
            context,
            tools_enabled,
        },
        run.session_id,
    ))
}

async fn visible_run(state: &AppState, caller: &Caller, run_id: &str) -> Result<Run, ApiError> {
    match state.store.get_run(run_id).await? {
        Some(run) if caller.can_see(&run.owner) => Ok(run),
        _ => Err(ApiError::not_found("run", run_id)),
    }
}

/// One model call with the session's history, no tools; answers with the content.
#[utoipa::path(post, path = "/api/agents/{id}/run", tag = "runs", request_body = RunBody,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, description = "run_id, session_id, content, usage"), (status = 400),
        (status = 401), (status = 404), (status = 502, description = "The model call failed")))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsRun)?;
    let agent = find_agent(&state, &agent_id).await?;
    let (options, session_id) = options(body, false)?;
    let created = state
        .engine
        .create_run(
            &agent,
            &caller.owner(),
            caller.sees_all(),
            session_id.as_deref(),
            options,
        )
        .await?;
    // The run goes on in its own task even if this client disconnects.
    let _ = state.engine.spawn_run(created.run.id.clone()).await;
    let run = state
        .store
        .get_run(&created.run.id)
        .await?
        .ok_or_else(|| ApiError::not_found("run", &created.run.id))?;
    let body = json!({
        "run_id": run.id,
        "session_id": run.session_id,
        "is_new_session": created.is_new_session,
        "status": run.status,
        "content": run.content,
        "usage": run.usage,
        "error": run.error,
    });
    let status = if run.status == "completed" {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((status, Json(body)).into_response())
}

/// The tool loop, streamed as server-sent events.
#[utoipa::path(post, path = "/api/agents/{id}/run/stream", tag = "runs", request_body = RunBody,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, description = "text/event-stream of run events"), (status = 400),
        (status = 401), (status = 404)))]
pub async fn run_stream(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsRun)?;
    let agent = find_agent(&state, &agent_id).await?;
    let (options, session_id) = options(body, true)?;
    let created = state
        .engine
        .create_run(
            &agent,
            &caller.owner(),
            caller.sees_all(),
            session_id.as_deref(),
            options,
        )
        .await?;
    let run_id = created.run.id.clone();
    let sse = follow(state.engine.clone(), run_id.clone(), 0);
    state.engine.spawn_run(run_id.clone());
    let mut response = sse.into_response();
    if let Ok(value) = run_id.parse() {
        response.headers_mut().insert("x-run-id", value);
    }
    Ok(response)
}

/// A run's events again: from after `Last-Event-ID` (or the start), then live.
#[utoipa::path(get, path = "/api/agents/runs/{run_id}/events", tag = "runs",
    params(("run_id" = String, Path, description = "Run id"),
        ("Last-Event-ID" = Option<String>, Header, description = "The last sequence number seen")),
    responses((status = 200, description = "text/event-stream of run events"), (status = 401),
        (status = 404)))]
pub async fn run_events(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(run_id): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller
        .require(Scope::AgentsRead)
        .or_else(|_| caller.require(Scope::AgentsRun))?;
    let run = visible_run(&state, &caller, &run_id).await?;
    let after = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        None => 0,
        Some(text) => text.trim().parse::<i64>().map_err(|_| {
            ApiError::BadRequest(
                "`Last-Event-ID` must be the number of an event (its `id:`)".into(),
            )
        })?,
    };
    Ok(follow(state.engine.clone(), run.id, after.max(0)).into_response())
}

/// Stop a queued, running or paused run.
#[utoipa::path(post, path = "/api/agents/runs/{run_id}/cancel", tag = "runs",
    params(("run_id" = String, Path, description = "Run id")),
    responses((status = 200), (status = 401), (status = 404), (status = 409)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(run_id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::AgentsRun)?;
    let run = visible_run(&state, &caller, &run_id).await?;
    Ok(Json(state.engine.cancel(&run).await?))
}

/// ALLOW or DENY a gated tool call; the run resumes when its last pending call is decided.
#[utoipa::path(post, path = "/api/agents/runs/{run_id}/approve", tag = "runs",
    request_body = ApproveBody,
    params(("run_id" = String, Path, description = "Run id")),
    responses((status = 200), (status = 400), (status = 401), (status = 404), (status = 409)))]
pub async fn approve_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(run_id): PathParams<String>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::AgentsRun)?;
    let run = visible_run(&state, &caller, &run_id).await?;
    let by = match &caller.key.user_ref {
        Some(user) => format!("user:{user}"),
        None => format!("key:{}", caller.key.name),
    };
    Ok(Json(
        state
            .engine
            .approve(
                &run,
                body.approved,
                body.reason,
                body.action_id.as_deref(),
                &by,
            )
            .await?,
    ))
}

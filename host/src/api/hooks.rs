//! `POST/GET /api/agents/{id}/hooks`, `DELETE /api/agents/{id}/hooks/{hook_id}`.

use super::AppState;
use super::agents::find_agent;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use crate::hooks::HookSpec;
use crate::store::hooks::Hook;
use crate::store::keys::Scope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A hook as shown. Values under `config.headers` and `config.secret` are masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookView {
    /// Id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The event as registered.
    pub event: String,
    /// The same event in the engine's vocabulary.
    pub engine_event: String,
    /// `webhook`, `http`, `approval` or `rule`.
    #[serde(rename = "type")]
    pub hook_type: String,
    /// Type-specific settings.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Tool-name pattern.
    pub matcher: Option<String>,
    /// Whether it fires.
    pub enabled: bool,
    /// Created.
    pub created_at: String,
}

impl From<Hook> for HookView {
    fn from(hook: Hook) -> Self {
        let mut config = hook.config;
        if let Some(Value::Object(headers)) = config.get_mut("headers") {
            for value in headers.values_mut() {
                *value = Value::String(super::tool_assignments::MASK.into());
            }
        }
        if let Some(secret) = config.get_mut("secret") {
            *secret = Value::String(super::tool_assignments::MASK.into());
        }
        Self {
            engine_event: crate::hooks::HookEvent::parse(&hook.event)
                .map(|e| e.as_str().to_string())
                .unwrap_or_else(|| hook.event.clone()),
            id: hook.id,
            agent_id: hook.agent_id,
            event: hook.event,
            hook_type: hook.hook_type,
            config,
            matcher: hook.matcher,
            enabled: hook.enabled,
            created_at: hook.created_at,
        }
    }
}

/// A hook to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHook {
    /// When it fires.
    pub event: String,
    /// What it does.
    #[serde(rename = "type")]
    pub hook_type: String,
    /// Type-specific settings (http: url, headers, timeout_seconds, secret,
    /// include_run_context; approval: message; rule: rules or condition, action).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<Map<String, Value>>,
    /// Tool-name pattern (tool events only).
    #[serde(default)]
    pub matcher: Option<String>,
    /// Whether it fires (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// List an agent's hooks.
#[utoipa::path(get, path = "/api/agents/{id}/hooks", tag = "hooks",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = [HookView]), (status = 401), (status = 404)))]
pub async fn list_hooks(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
) -> Result<Json<Vec<HookView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    find_agent(&state, &agent_id).await?;
    Ok(Json(
        state
            .store
            .list_hooks(&agent_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Register a hook.
#[utoipa::path(post, path = "/api/agents/{id}/hooks", tag = "hooks", request_body = CreateHook,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 201, body = HookView), (status = 400), (status = 401), (status = 404)))]
pub async fn create_hook(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(body): JsonBody<CreateHook>,
) -> Result<(StatusCode, Json<HookView>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    let config = Value::Object(body.config.unwrap_or_default());
    let matcher = body.matcher.filter(|m| !m.trim().is_empty());
    HookSpec::parse(&body.event, &body.hook_type, &config, matcher.as_deref())
        .map_err(ApiError::BadRequest)?;
    let hook = state
        .store
        .create_hook(
            &agent_id,
            &body.event,
            &body.hook_type,
            &config,
            matcher.as_deref(),
            body.enabled.unwrap_or(true),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(hook.into())))
}

/// Remove a hook.
#[utoipa::path(delete, path = "/api/agents/{id}/hooks/{hook_id}", tag = "hooks",
    params(("id" = String, Path, description = "Agent id"),
        ("hook_id" = String, Path, description = "Hook id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_hook(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    if state.store.delete_hook(&agent_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("hook", &id))
    }
}

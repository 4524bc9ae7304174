//! `GET/POST /api/agents`, `GET/PATCH/DELETE /api/agents/{id}`.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use crate::agent_settings::{AgentSettings, merge};
use crate::store::agents::{Agent, AgentFields};
use crate::store::keys::Scope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

/// An agent to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Name (1 to 200 characters).
    pub name: String,
    /// `provider/model` (`openai/gpt-4o`, `anthropic/claude-sonnet-4-5`, `ollama/llama3.1`),
    /// a bare model name for the default provider, or `scripted`.
    pub model: String,
    /// System prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// What the agent is for.
    #[serde(default)]
    pub description: Option<String>,
    /// temperature, top_p, max_tokens, max_steps, reasoning_effort, max_context_tokens, script.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
}

/// Fields to change; absent fields stay. `settings` is merged key by key (`null` removes one).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New model.
    #[serde(default)]
    pub model: Option<String>,
    /// New system prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// Settings to change.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// A display name (agents, knowledge bases): trimmed, 1 to 200 characters.
pub(super) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "`name` must be 1 to 200 characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn check_model(model: &str) -> Result<String, ApiError> {
    let model = model.trim();
    if model.is_empty()
        || model.len() > 200
        || model.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::BadRequest(
            "`model` must be a model name without spaces, e.g. `openai/gpt-4o` or `scripted`"
                .into(),
        ));
    }
    Ok(model.to_string())
}

fn check_settings(settings: &Value) -> Result<(), ApiError> {
    AgentSettings::parse(settings)
        .map(|_| ())
        .map_err(ApiError::BadRequest)
}

/// The agent with `id`, or 404.
pub async fn find_agent(state: &AppState, id: &str) -> Result<Agent, ApiError> {
    state
        .store
        .get_agent(id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent", id))
}

/// List agents.
#[utoipa::path(get, path = "/api/agents", tag = "agents",
    responses((status = 200, body = [Agent]), (status = 401)))]
pub async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Agent>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    Ok(Json(state.store.list_agents().await?))
}

/// Create an agent.
#[utoipa::path(post, path = "/api/agents", tag = "agents", request_body = CreateAgent,
    responses((status = 201, body = Agent), (status = 400), (status = 401), (status = 403)))]
pub async fn create_agent(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateAgent>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let settings = body.settings.unwrap_or_else(|| Value::Object(Map::new()));
    check_settings(&settings)?;
    let agent = state
        .store
        .create_agent(AgentFields {
            name: check_name(&body.name)?,
            description: body.description,
            model: check_model(&body.model)?,
            system_prompt: body.system_prompt.unwrap_or_default(),
            settings,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// Get an agent.
#[utoipa::path(get, path = "/api/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = Agent), (status = 401), (status = 404)))]
pub async fn get_agent(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Agent>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    Ok(Json(find_agent(&state, &id).await?))
}

/// Change an agent's name, model, system prompt, description or settings.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "agents", request_body = UpdateAgent,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = Agent), (status = 400), (status = 401), (status = 404)))]
pub async fn update_agent(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(patch): JsonBody<UpdateAgent>,
) -> Result<Json<Agent>, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let agent = find_agent(&state, &id).await?;
    let settings = match &patch.settings {
        Some(changes) => merge(&agent.settings, changes),
        None => agent.settings.clone(),
    };
    check_settings(&settings)?;
    let fields = AgentFields {
        name: match &patch.name {
            Some(name) => check_name(name)?,
            None => agent.name,
        },
        description: patch.description.or(agent.description),
        model: match &patch.model {
            Some(model) => check_model(model)?,
            None => agent.model,
        },
        system_prompt: patch.system_prompt.unwrap_or(agent.system_prompt),
        settings,
    };
    state
        .store
        .update_agent(&id, fields)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agent", &id))
}

/// Delete an agent with its assignments, sessions and runs.
#[utoipa::path(delete, path = "/api/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_agent(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    if state.store.delete_agent(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("agent", &id))
    }
}

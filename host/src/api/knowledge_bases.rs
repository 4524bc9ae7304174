//! `GET/POST /api/knowledge-bases`, `GET/PATCH/DELETE /api/knowledge-bases/{id}`, and their
//! assignment to agents: `POST/GET /api/agents/{id}/knowledge-bases`,
//! `DELETE /api/agents/{id}/knowledge-bases/{assignment_id}` (409 when already assigned).
//! Ingestion and search build on these rows.

use super::AppState;
use super::agents::{check_name, find_agent};
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use crate::store::StoreError;
use crate::store::keys::Scope;
use crate::store::knowledge_bases::{KnowledgeBase, KnowledgeBaseAssignment};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A knowledge base to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKnowledgeBase {
    /// Name.
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: Option<String>,
    /// Settings object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// Fields to change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKnowledgeBase {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New settings (replaces the object).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// Link a knowledge base.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignKnowledgeBase {
    /// The knowledge base.
    pub knowledge_base_id: String,
}

async fn find(state: &AppState, id: &str) -> Result<KnowledgeBase, ApiError> {
    state
        .store
        .get_knowledge_base(id)
        .await?
        .ok_or_else(|| ApiError::not_found("knowledge base", id))
}

/// List knowledge bases.
#[utoipa::path(get, path = "/api/knowledge-bases", tag = "knowledge bases",
    responses((status = 200, body = [KnowledgeBase]), (status = 401)))]
pub async fn list_knowledge_bases(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<KnowledgeBase>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    Ok(Json(state.store.list_knowledge_bases().await?))
}

/// Create a knowledge base.
#[utoipa::path(post, path = "/api/knowledge-bases", tag = "knowledge bases",
    request_body = CreateKnowledgeBase,
    responses((status = 201, body = KnowledgeBase), (status = 400), (status = 401)))]
pub async fn create_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateKnowledgeBase>,
) -> Result<(StatusCode, Json<KnowledgeBase>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let kb = state
        .store
        .create_knowledge_base(
            &check_name(&body.name)?,
            body.description.as_deref(),
            &Value::Object(body.settings.unwrap_or_default()),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(kb)))
}

/// Get a knowledge base.
#[utoipa::path(get, path = "/api/knowledge-bases/{id}", tag = "knowledge bases",
    params(("id" = String, Path, description = "Knowledge base id")),
    responses((status = 200, body = KnowledgeBase), (status = 401), (status = 404)))]
pub async fn get_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<KnowledgeBase>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    Ok(Json(find(&state, &id).await?))
}

/// Change a knowledge base.
#[utoipa::path(patch, path = "/api/knowledge-bases/{id}", tag = "knowledge bases",
    request_body = UpdateKnowledgeBase,
    params(("id" = String, Path, description = "Knowledge base id")),
    responses((status = 200, body = KnowledgeBase), (status = 400), (status = 401), (status = 404)))]
pub async fn update_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<UpdateKnowledgeBase>,
) -> Result<Json<KnowledgeBase>, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let kb = find(&state, &id).await?;
    let name = match &body.name {
        Some(name) => check_name(name)?,
        None => kb.name,
    };
    let description = body.description.or(kb.description);
    let settings = body.settings.map(Value::Object).unwrap_or(kb.settings);
    state
        .store
        .update_knowledge_base(&id, &name, description.as_deref(), &settings)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("knowledge base", &id))
}

/// Delete a knowledge base (it is unlinked from every agent).
#[utoipa::path(delete, path = "/api/knowledge-bases/{id}", tag = "knowledge bases",
    params(("id" = String, Path, description = "Knowledge base id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    if state.store.delete_knowledge_base(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("knowledge base", &id))
    }
}

/// List an agent's knowledge bases.
#[utoipa::path(get, path = "/api/agents/{id}/knowledge-bases", tag = "knowledge bases",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = [KnowledgeBaseAssignment]), (status = 401), (status = 404)))]
pub async fn list_agent_knowledge_bases(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
) -> Result<Json<Vec<KnowledgeBaseAssignment>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    find_agent(&state, &agent_id).await?;
    Ok(Json(
        state
            .store
            .list_knowledge_base_assignments(&agent_id)
            .await?,
    ))
}

/// Link a knowledge base to an agent.
#[utoipa::path(post, path = "/api/agents/{id}/knowledge-bases", tag = "knowledge bases",
    request_body = AssignKnowledgeBase,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 201, body = KnowledgeBaseAssignment), (status = 400), (status = 401),
        (status = 404), (status = 409)))]
pub async fn assign_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(body): JsonBody<AssignKnowledgeBase>,
) -> Result<(StatusCode, Json<KnowledgeBaseAssignment>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    find(&state, &body.knowledge_base_id).await?;
    let link = state
        .store
        .assign_knowledge_base(&agent_id, &body.knowledge_base_id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => {
                ApiError::Conflict("this knowledge base is already assigned to this agent".into())
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Unlink a knowledge base from an agent.
#[utoipa::path(delete, path = "/api/agents/{id}/knowledge-bases/{assignment_id}",
    tag = "knowledge bases",
    params(("id" = String, Path, description = "Agent id"),
        ("assignment_id" = String, Path, description = "Assignment id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn unassign_knowledge_base(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    if state.store.unassign_knowledge_base(&agent_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("knowledge base assignment", &id))
    }
}

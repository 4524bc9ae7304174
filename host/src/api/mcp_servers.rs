//! `POST/GET /api/agents/{id}/mcp-servers`, `GET/PUT/DELETE /api/agents/{id}/mcp-servers/{server_id}`.
//! Names are unique per agent (409); headers are write-only (values shown masked).

use super::AppState;
use super::agents::find_agent;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::tool_assignments::MASK;
use crate::store::StoreError;
use crate::store::keys::Scope;
use crate::store::mcp_servers::{McpServer, McpServerFields};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Transports Corral can speak to an MCP server.
pub const TRANSPORTS: [&str; 3] = ["http", "streamable_http", "sse"];

/// An MCP server as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct McpServerView {
    /// Id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// Name (unique per agent).
    pub name: String,
    /// Endpoint.
    pub url: String,
    /// `http`, `streamable_http` or `sse`.
    pub transport: String,
    /// Header names; values are never shown.
    pub headers: BTreeMap<String, String>,
    /// Extra settings.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Whether its tools are offered.
    pub enabled: bool,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl From<McpServer> for McpServerView {
    fn from(s: McpServer) -> Self {
        Self {
            id: s.id,
            agent_id: s.agent_id,
            name: s.name,
            url: s.url,
            transport: s.transport,
            headers: s
                .headers
                .into_keys()
                .map(|k| (k, MASK.to_string()))
                .collect(),
            config: s.config,
            enabled: s.enabled,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// An MCP server to add, or the fields to change (PUT: absent fields stay).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McpServerBody {
    /// Name, unique per agent.
    #[serde(default)]
    pub name: Option<String>,
    /// `http(s)://` endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// `http` (default), `streamable_http` or `sse`.
    #[serde(default)]
    pub transport: Option<String>,
    /// Headers sent to the server (write-only).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Extra settings.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<Map<String, Value>>,
    /// Whether its tools are offered (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn check(fields: &McpServerFields) -> Result<(), ApiError> {
    if fields.name.trim().is_empty() || fields.name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "`name` must be 1 to 100 characters".into(),
        ));
    }
    let uri: Result<http::Uri, _> = fields.url.parse();
    let ok =
        uri.is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !ok {
        return Err(ApiError::BadRequest(format!(
            "`url` `{}` must be an absolute http:// or https:// URL",
            fields.url
        )));
    }
    if !TRANSPORTS.contains(&fields.transport.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "`transport` must be one of {}",
            TRANSPORTS.join(", ")
        )));
    }
    for (name, value) in &fields.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(ApiError::BadRequest(format!(
                "header `{name}` is not a valid HTTP header"
            )));
        }
    }
    Ok(())
}

fn conflict(name: &str) -> impl Fn(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::Conflict => ApiError::Conflict(format!(
            "this agent already has an MCP server named `{name}`"
        )),
        other => other.into(),
    }
}

/// List an agent's MCP servers.
#[utoipa::path(get, path = "/api/agents/{id}/mcp-servers", tag = "mcp servers",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = [McpServerView]), (status = 401), (status = 404)))]
pub async fn list_mcp_servers(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
) -> Result<Json<Vec<McpServerView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    find_agent(&state, &agent_id).await?;
    Ok(Json(
        state
            .store
            .list_mcp_servers(&agent_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Add an MCP server to an agent.
#[utoipa::path(post, path = "/api/agents/{id}/mcp-servers", tag = "mcp servers",
    request_body = McpServerBody,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 201, body = McpServerView), (status = 400), (status = 401),
        (status = 404), (status = 409)))]
pub async fn create_mcp_server(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(body): JsonBody<McpServerBody>,
) -> Result<(StatusCode, Json<McpServerView>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    let (Some(name), Some(url)) = (body.name, body.url) else {
        return Err(ApiError::BadRequest("`name` and `url` are required".into()));
    };
    let fields = McpServerFields {
        name: name.trim().to_string(),
        url,
        transport: body.transport.unwrap_or_else(|| "http".into()),
        headers: body.headers.unwrap_or_default(),
        config: Value::Object(body.config.unwrap_or_default()),
        enabled: body.enabled.unwrap_or(true),
    };
    check(&fields)?;
    let server = state
        .store
        .create_mcp_server(&agent_id, &fields)
        .await
        .map_err(conflict(&fields.name))?;
    Ok((StatusCode::CREATED, Json(server.into())))
}

async fn find(state: &AppState, agent_id: &str, id: &str) -> Result<McpServer, ApiError> {
    find_agent(state, agent_id).await?;
    state
        .store
        .get_mcp_server(agent_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("MCP server", id))
}

/// Get one MCP server.
#[utoipa::path(get, path = "/api/agents/{id}/mcp-servers/{server_id}", tag = "mcp servers",
    params(("id" = String, Path, description = "Agent id"),
        ("server_id" = String, Path, description = "MCP server id")),
    responses((status = 200, body = McpServerView), (status = 401), (status = 404)))]
pub async fn get_mcp_server(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<Json<McpServerView>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    Ok(Json(find(&state, &agent_id, &id).await?.into()))
}

/// Change an MCP server; absent fields stay, `headers` replaces all headers when given.
#[utoipa::path(put, path = "/api/agents/{id}/mcp-servers/{server_id}", tag = "mcp servers",
    request_body = McpServerBody,
    params(("id" = String, Path, description = "Agent id"),
        ("server_id" = String, Path, description = "MCP server id")),
    responses((status = 200, body = McpServerView), (status = 400), (status = 401),
        (status = 404), (status = 409)))]
pub async fn update_mcp_server(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<McpServerBody>,
) -> Result<Json<McpServerView>, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let current = find(&state, &agent_id, &id).await?;
    let fields = McpServerFields {
        name: body
            .name
            .map(|n| n.trim().to_string())
            .unwrap_or(current.name),
        url: body.url.unwrap_or(current.url),
        transport: body.transport.unwrap_or(current.transport),
        headers: body.headers.unwrap_or(current.headers),
        config: body.config.map(Value::Object).unwrap_or(current.config),
        enabled: body.enabled.unwrap_or(current.enabled),
    };
    check(&fields)?;
    state
        .store
        .update_mcp_server(&agent_id, &id, &fields)
        .await
        .map_err(conflict(&fields.name))?
        .map(|s| Json(s.into()))
        .ok_or_else(|| ApiError::not_found("MCP server", &id))
}

/// Remove an MCP server.
#[utoipa::path(delete, path = "/api/agents/{id}/mcp-servers/{server_id}", tag = "mcp servers",
    params(("id" = String, Path, description = "Agent id"),
        ("server_id" = String, Path, description = "MCP server id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_mcp_server(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    if state.store.delete_mcp_server(&agent_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("MCP server", &id))
    }
}

//! `POST/GET /api/agents/{id}/tools`, `GET/PATCH/DELETE /api/agents/{id}/tools/{assignment_id}`.
//!
//! The PATCH body takes exactly `config_override`, `confirmation`, `grants`, `limits`,
//! `config_values` and `secrets`. Any other key is a 400 naming them, where Powabase silently
//! ignores it (its users' common mistake is sending `config`). `config_override` follows
//! DESIGN.md §4: database tools' `schemas` rules are checked (400 with the reason), other keys
//! are checked against the tool's input schema and the ones that do nothing come back as
//! `ignored_keys`.

use super::AppState;
use super::agents::find_agent;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, from_value};
use crate::boundary::assignment::{Assignment, AssignmentError, AssignmentSpec};
use crate::boundary::gate::ConfirmationSetting;
use crate::capabilities::Grants;
use crate::registry::{ResolvedTool, ToolSource};
use crate::sandbox::limits::LimitOverrides;
use crate::store::assignments::StoredAssignment;
use crate::store::keys::Scope;
use crate::tool::Confirmation;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The keys a PATCH (or a POST, besides `tool_name`) may carry.
pub const SETTINGS_KEYS: [&str; 6] = [
    "config_override",
    "confirmation",
    "grants",
    "limits",
    "config_values",
    "secrets",
];

/// A tool assignment as shown: secrets masked, with what the override does.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    /// Assignment id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The tool.
    pub tool_name: String,
    /// `builtin`, `http` or `wasm`.
    pub tool_source: String,
    /// Operator-fixed arguments.
    #[schema(value_type = Object)]
    pub config_override: Value,
    /// Keys of `config_override` forced into every call.
    pub applied_keys: Vec<String>,
    /// Keys of `config_override` that have no effect on this tool.
    pub ignored_keys: Vec<String>,
    /// `always | never | default`.
    pub confirmation: String,
    /// Whether every call waits for approval, all settings considered.
    pub requires_confirmation: bool,
    /// When not every call does: a JSON Schema; calls whose final arguments match it wait for
    /// approval (the tool's own condition, e.g. `http_request` with a method that is not
    /// GET/HEAD). Set `confirmation` to `always` or `never` to override it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub requires_confirmation_when: Option<serde_json::Value>,
    /// Capability grants.
    #[schema(value_type = Object)]
    pub grants: Value,
    /// Limit overrides.
    #[schema(value_type = Object)]
    pub limits: Value,
    /// Values the tool reads through its `config` capability.
    pub config_values: BTreeMap<String, String>,
    /// Secret names; the values are never shown.
    pub secrets: BTreeMap<String, String>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// Assign a tool to an agent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateAssignment {
    /// A builtin or custom tool name.
    pub tool_name: String,
}

/// Shown instead of a secret's value.
pub const MASK: &str = "********";

fn view(stored: &StoredAssignment, assignment: &Assignment, tool: &ResolvedTool) -> AssignmentView {
    let spec = &stored.spec;
    let requires_confirmation = match spec.confirmation {
        ConfirmationSetting::Always => true,
        ConfirmationSetting::Never => false,
        ConfirmationSetting::Default => tool.tool.descriptor.confirmation == Confirmation::Always,
    };
    AssignmentView {
        id: spec.id.clone(),
        agent_id: stored.agent_id.clone(),
        tool_name: spec.tool_name.clone(),
        tool_source: source_label(&tool.source).into(),
        config_override: spec.config_override.clone(),
        applied_keys: assignment.override_report.applied_keys.clone(),
        ignored_keys: assignment.override_report.ignored_keys.clone(),
        confirmation: serde_json::to_value(spec.confirmation)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        requires_confirmation,
        requires_confirmation_when: match spec.confirmation {
            ConfirmationSetting::Default if !requires_confirmation => {
                tool.tool.descriptor.confirm_if.clone()
            }
            _ => None,
        },
        grants: serde_json::to_value(&spec.grants).unwrap_or_default(),
        limits: serde_json::to_value(spec.limits).unwrap_or_default(),
        config_values: spec.config.clone(),
        secrets: spec
            .secrets
            .keys()
            .map(|k| (k.clone(), MASK.to_string()))
            .collect(),
        created_at: stored.created_at.clone(),
        updated_at: stored.updated_at.clone(),
    }
}

/// `builtin`, `http` or `wasm`.
pub fn source_label(source: &ToolSource) -> &'static str {
    match source {
        ToolSource::Builtin => "builtin",
        ToolSource::Custom(stored) => match stored.kind {
            crate::store::tools::ToolKind::Http => "http",
            crate::store::tools::ToolKind::Wasm => "wasm",
        },
    }
}

async fn resolve_tool(state: &AppState, name: &str) -> Result<ResolvedTool, ApiError> {
    state.registry.resolve(name).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no tool named `{name}`; `GET /api/tools` lists the builtin and custom tools"
        ))
    })
}

/// Checks settings against the tool, as the boundary will use them.
fn prepare(
    state: &AppState,
    spec: AssignmentSpec,
    tool: &ResolvedTool,
) -> Result<Assignment, ApiError> {
    Assignment::for_tool(
        spec,
        tool.tool.clone(),
        &state.registry.sandbox().config().ceilings,
    )
    .map_err(|e| match e {
        AssignmentError::UnknownTool(name) => ApiError::NotFound(format!("no tool named `{name}`")),
        other => ApiError::BadRequest(other.to_string()),
    })
}

/// Applies the settings keys of `body` to `spec`; the message of any error names the key.
fn apply_settings(spec: &mut AssignmentSpec, body: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(unknown) = body.keys().find(|k| !SETTINGS_KEYS.contains(&k.as_str())) {
        let hint = if unknown == "config" {
            " (Powabase ignores `config` silently; to force arguments use `config_override`, \
             for values the tool reads use `config_values`)"
        } else {
            ""
        };
        return Err(ApiError::BadRequest(format!(
            "unknown key `{unknown}`{hint}; a tool assignment accepts: {}",
            SETTINGS_KEYS.join(", ")
        )));
    }
    let field = |key: &str, error: ApiError| match error {
        ApiError::BadRequest(message) => ApiError::BadRequest(format!(
            "`{key}`: {}",
            message.trim_start_matches("invalid request body")
        )),
        other => other,
    };
    if let Some(value) = body.get("config_override") {
        if !value.is_object() {
            return Err(ApiError::BadRequest(
                "`config_override` must be a JSON object".into(),
            ));
        }
        spec.config_override = value.clone();
    }
    if let Some(value) = body.get("confirmation") {
        spec.confirmation = from_value::<ConfirmationSetting>(value.clone()).map_err(|_| {
            ApiError::BadRequest("`confirmation` must be `always`, `never` or `default`".into())
        })?;
    }
    if let Some(value) = body.get("grants") {
        spec.grants = if value.is_null() {
            Grants::default()
        } else {
            from_value(value.clone()).map_err(|e| field("grants", e))?
        };
    }
    if let Some(value) = body.get("limits") {
        spec.limits = if value.is_null() {
            LimitOverrides::default()
        } else {
            from_value(value.clone()).map_err(|e| field("limits", e))?
        };
    }
    if let Some(value) = body.get("config_values") {
        spec.config = if value.is_null() {
            BTreeMap::new()
        } else {
            from_value(value.clone()).map_err(|e| field("config_values", e))?
        };
    }
    if let Some(value) = body.get("secrets") {
        // Secrets cannot be read back, so they are merged: a key set to null is removed.
        let changes: BTreeMap<String, Option<String>> =
            from_value(value.clone()).map_err(|e| field("secrets", e))?;
        for (name, secret) in changes {
            match secret {
                Some(secret) => spec.secrets.insert(name, secret),
                None => spec.secrets.remove(&name),
            };
        }
    }
    Ok(())
}

async fn find_assignment(
    state: &AppState,
    agent_id: &str,
    id: &str,
) -> Result<StoredAssignment, ApiError> {
    find_agent(state, agent_id).await?;
    state
        .store
        .get_assignment(agent_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("tool assignment", id))
}

async fn show(state: &AppState, stored: StoredAssignment) -> Result<AssignmentView, ApiError> {
    let tool = resolve_tool(state, &stored.spec.tool_name).await?;
    let assignment = prepare(state, stored.spec.clone(), &tool)?;
    Ok(view(&stored, &assignment, &tool))
}

/// List an agent's tool assignments.
#[utoipa::path(get, path = "/api/agents/{id}/tools", tag = "tool assignments",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = [AssignmentView]), (status = 401), (status = 404)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
) -> Result<Json<Vec<AssignmentView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    find_agent(&state, &agent_id).await?;
    let mut views = Vec::new();
    for stored in state.store.list_assignments(&agent_id).await? {
        views.push(show(&state, stored).await?);
    }
    Ok(Json(views))
}

/// Assign a tool. Besides `tool_name`, the body may carry the same settings as the PATCH.
#[utoipa::path(post, path = "/api/agents/{id}/tools", tag = "tool assignments",
    request_body = CreateAssignment,
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 201, body = AssignmentView), (status = 400), (status = 401),
        (status = 404), (status = 409)))]
pub async fn create_assignment(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    let tool_name = match body.remove("tool_name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`tool_name` must be a tool name".into(),
            ));
        }
        None => {
            return Err(ApiError::BadRequest(
                "`tool_name` is required: the name of a builtin or custom tool".into(),
            ));
        }
    };
    let tool = resolve_tool(&state, &tool_name).await?;
    let mut spec = AssignmentSpec {
        id: crate::store::new_id(),
        tool_name,
        config_override: Value::Object(Map::new()),
        ..AssignmentSpec::default()
    };
    apply_settings(&mut spec, &body)?;
    let assignment = prepare(&state, spec, &tool)?;
    let stored = state
        .store
        .create_assignment(&agent_id, &assignment.spec)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict => ApiError::Conflict(format!(
                "the agent already has `{}`; change that assignment with PATCH instead",
                assignment.spec.tool_name
            )),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(&stored, &assignment, &tool))))
}

/// Get one tool assignment.
#[utoipa::path(get, path = "/api/agents/{id}/tools/{assignment_id}", tag = "tool assignments",
    params(("id" = String, Path, description = "Agent id"),
        ("assignment_id" = String, Path, description = "Assignment id")),
    responses((status = 200, body = AssignmentView), (status = 401), (status = 404)))]
pub async fn get_assignment(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<Json<AssignmentView>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let stored = find_assignment(&state, &agent_id, &id).await?;
    Ok(Json(show(&state, stored).await?))
}

/// Change an assignment's config_override, confirmation, grants, limits, config_values or
/// secrets. Keys absent from the body stay as they are.
#[utoipa::path(patch, path = "/api/agents/{id}/tools/{assignment_id}", tag = "tool assignments",
    request_body(content = Object, description = "Any of: config_override, confirmation, grants, limits, config_values, secrets"),
    params(("id" = String, Path, description = "Agent id"),
        ("assignment_id" = String, Path, description = "Assignment id")),
    responses((status = 200, body = AssignmentView), (status = 400), (status = 401), (status = 404)))]
pub async fn update_assignment(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<AssignmentView>, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let stored = find_assignment(&state, &agent_id, &id).await?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the body changes nothing; send any of: {}",
            SETTINGS_KEYS.join(", ")
        )));
    }
    let mut spec = stored.spec.clone();
    apply_settings(&mut spec, &body)?;
    let tool = resolve_tool(&state, &spec.tool_name).await?;
    let assignment = prepare(&state, spec, &tool)?;
    let saved = state
        .store
        .update_assignment(&agent_id, &assignment.spec)
        .await?
        .ok_or_else(|| ApiError::not_found("tool assignment", &id))?;
    Ok(Json(view(&saved, &assignment, &tool)))
}

/// Remove a tool from an agent.
#[utoipa::path(delete, path = "/api/agents/{id}/tools/{assignment_id}", tag = "tool assignments",
    params(("id" = String, Path, description = "Agent id"),
        ("assignment_id" = String, Path, description = "Assignment id")),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_assignment(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((agent_id, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    find_agent(&state, &agent_id).await?;
    if state.store.delete_assignment(&agent_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("tool assignment", &id))
    }
}

//! `GET /api/agents/{id}/sessions` and `GET /api/agents/runs/{run_id}`. Sessions and runs
//! belong to a user: anyone else gets a 404 (never a 403, so existence does not leak), and
//! service-role keys see everything.

use super::AppState;
use super::agents::find_agent;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::PathParams;
use crate::store::keys::Scope;
use crate::store::runs::{Run, Session};
use axum::Json;
use axum::extract::State;

/// Needed to see sessions and runs: reading agents, or running them.
fn require_reader(caller: &Caller) -> Result<(), ApiError> {
    caller
        .require(Scope::AgentsRead)
        .or_else(|_| caller.require(Scope::AgentsRun))
}

/// List the caller's sessions with an agent (every user's, for service-role keys).
#[utoipa::path(get, path = "/api/agents/{id}/sessions", tag = "runs",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = [Session]), (status = 401), (status = 404)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(agent_id): PathParams<String>,
) -> Result<Json<Vec<Session>>, ApiError> {
    require_reader(&caller)?;
    find_agent(&state, &agent_id).await?;
    let owner = (!caller.sees_all()).then(|| caller.owner());
    Ok(Json(
        state
            .store
            .list_sessions(&agent_id, owner.as_deref())
            .await?,
    ))
}

/// Get a run with its steps, events, tool calls and usage.
#[utoipa::path(get, path = "/api/agents/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path, description = "Run id")),
    responses((status = 200, body = Run), (status = 401), (status = 404)))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(run_id): PathParams<String>,
) -> Result<Json<Run>, ApiError> {
    require_reader(&caller)?;
    match state.store.get_run(&run_id).await? {
        Some(run) if caller.can_see(&run.owner) => Ok(Json(run)),
        _ => Err(ApiError::not_found("run", &run_id)),
    }
}

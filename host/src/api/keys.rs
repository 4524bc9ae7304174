//! `POST/GET /api/keys`, `DELETE /api/keys/{id}`: API keys, managed by admin keys only.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use crate::store::keys::{ApiKey, NewKey, Scope, generate_secret};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A key to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label for humans.
    pub name: String,
    /// What the key may do: `admin`, `service_role`, `agents:read`, `agents:write`,
    /// `agents:run`, `tools:write`.
    pub scopes: Vec<Scope>,
    /// Issue the key for an end user: it then sees only that user's sessions and runs.
    #[serde(default)]
    pub user_ref: Option<String>,
}

/// A new key: the only time its secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The secret; store it now, it cannot be shown again.
    pub key: String,
    /// The stored key.
    #[serde(flatten)]
    pub api_key: ApiKey,
}

/// List keys (never their secrets).
#[utoipa::path(get, path = "/api/keys", tag = "keys",
    responses((status = 200, body = [ApiKey]), (status = 401), (status = 403)))]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(state.store.list_keys().await?))
}

/// Create a key.
#[utoipa::path(post, path = "/api/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400), (status = 401), (status = 403)))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    caller.require(Scope::Admin)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::BadRequest(
            "`name` must be 1 to 200 characters".into(),
        ));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "`scopes` must list at least one of: {}",
            Scope::ALL.map(Scope::as_str).join(", ")
        )));
    }
    let user_ref = body.user_ref.map(|u| u.trim().to_string());
    if let Some(user) = &user_ref {
        if user.is_empty() || user.len() > 200 {
            return Err(ApiError::BadRequest(
                "`user_ref` must be 1 to 200 characters".into(),
            ));
        }
        if body
            .scopes
            .iter()
            .any(|s| matches!(s, Scope::Admin | Scope::ServiceRole))
        {
            return Err(ApiError::BadRequest(
                "a key issued for a user (`user_ref`) cannot have the `admin` or `service_role` scope, which see every user's data"
                    .into(),
            ));
        }
    }
    let mut scopes = body.scopes;
    scopes.sort_by_key(|s| s.as_str());
    scopes.dedup();
    let secret = generate_secret();
    let api_key = state
        .store
        .create_key(
            NewKey {
                name: name.to_string(),
                scopes,
                user_ref,
            },
            &secret,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: secret,
            api_key,
        }),
    ))
}

/// Delete a key. The last admin key cannot be deleted (nobody could manage keys after).
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    let keys = state.store.list_keys().await?;
    let Some(key) = keys.iter().find(|k| k.id == id) else {
        return Err(ApiError::not_found("API key", &id));
    };
    let admins = keys
        .iter()
        .filter(|k| k.scopes.contains(&Scope::Admin))
        .count();
    if key.scopes.contains(&Scope::Admin) && admins == 1 {
        return Err(ApiError::Conflict(
            "this is the last admin key; create another admin key before deleting it".into(),
        ));
    }
    state.store.delete_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Who is calling: the API key from `Authorization: Bearer`, `apikey` or `x-api-key`, its
//! scopes, and the end user it acts for (who owns sessions and runs).

use super::AppState;
use super::error::ApiError;
use crate::store::keys::{ApiKey, Scope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key used.
    pub key: ApiKey,
}

impl Caller {
    /// Fails with 403 unless the key has `scope`. `admin` has every scope; `service_role` has
    /// every scope but `admin` (key management).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        let has = |s: Scope| self.key.scopes.contains(&s);
        let granted = has(Scope::Admin)
            || (scope != Scope::Admin && has(Scope::ServiceRole))
            || has(scope)
            // Running or writing implies reading what you run or write.
            || (scope == Scope::AgentsRead && (has(Scope::AgentsRun) || has(Scope::AgentsWrite)));
        if granted {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key lacks the `{}` scope",
                scope.as_str()
            )))
        }
    }

    /// Sees every user's sessions and runs.
    pub fn sees_all(&self) -> bool {
        self.key
            .scopes
            .iter()
            .any(|s| matches!(s, Scope::Admin | Scope::ServiceRole))
    }

    /// The owner recorded on sessions and runs this caller starts: the key's end user, or the
    /// key itself when it acts for no user.
    pub fn owner(&self) -> String {
        match &self.key.user_ref {
            Some(user) => format!("user:{user}"),
            None => format!("key:{}", self.key.id),
        }
    }

    /// Whether the caller may see something owned by `owner`.
    pub fn can_see(&self, owner: &str) -> bool {
        self.sees_all() || self.owner() == owner
    }
}

/// The key a request carries, from any of the three accepted headers.
fn presented_key(parts: &Parts) -> Option<&str> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    header("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        })
        .or_else(|| header("x-api-key"))
        .or_else(|| header("apikey"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(secret) = presented_key(parts) else {
            return Err(ApiError::Unauthorized(
                "missing API key: send `Authorization: Bearer <key>`, `apikey: <key>` or `x-api-key: <key>`"
                    .into(),
            ));
        };
        match state.store.authenticate(secret).await? {
            Some(key) => Ok(Caller { key }),
            None => Err(ApiError::Unauthorized("invalid API key".into())),
        }
    }
}

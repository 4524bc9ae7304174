//! The HTTP edge's error: every failure becomes `{"error": "<message>"}` with the right status.
//! Details of server-side failures go to the log with the request id; clients get a message
//! that says what to fix, never a stack of internals.

use crate::registry::RegistryError;
use crate::sandbox::SandboxError;
use crate::sandbox::cache::CacheError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or breaks a rule (400).
    #[error("{0}")]
    BadRequest(String),
    /// No key, or an unknown one (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The key lacks a scope (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing with that id (or not yours) (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not served on this path (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// It already exists, or is still in use (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is too large (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body's content type is not accepted (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is well-formed but cannot be used (422), e.g. a file that is not a component.
    #[error("{0}")]
    Unprocessable(String),
    /// Something broke on our side (500); the message is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `404` naming what was looked for.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("no {what} with id `{id}`"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "internal server error; the server log has the details".to_string()
            }
            other => {
                tracing::debug!(%status, error = %other, "request refused");
                other.to_string()
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::Conflict("it already exists".into()),
            StoreError::Reference => {
                Self::Conflict("it refers to something that does not exist or is in use".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Duplicate(name) => {
                Self::Conflict(format!("a tool named `{name}` already exists"))
            }
            RegistryError::Catalog(e) => Self::Unprocessable(e.to_string()),
            RegistryError::Sandbox(e) => match e {
                SandboxError::Engine(_) | SandboxError::Join(_) => Self::Internal(e.to_string()),
                SandboxError::Cache(CacheError::Io { .. }) => Self::Internal(e.to_string()),
                other => Self::Unprocessable(other.to_string()),
            },
            RegistryError::Store(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

//! The error a tool function returns; the host shows it to the model.

use crate::bindings::exports::corral::tool::tool::ToolError as WitToolError;

/// Why a tool call failed. Pick the case that tells the model what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments do not fit; the model may correct them and retry.
    InvalidArguments(String),
    /// Refused, or a capability was not granted.
    Denied(String),
    /// Something the call refers to does not exist.
    NotFound(String),
    /// Anything else.
    Failed(String),
}

impl ToolError {
    /// A [`ToolError::Failed`] from anything printable.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// A [`ToolError::InvalidArguments`] from anything printable.
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::InvalidArguments(message.to_string())
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidArguments(m) => write!(f, "invalid arguments: {m}"),
            Self::Denied(m) => write!(f, "denied: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for ToolError {}

impl From<ToolError> for WitToolError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArguments(m) => Self::InvalidArguments(m),
            ToolError::Denied(m) => Self::Denied(m),
            ToolError::NotFound(m) => Self::NotFound(m),
            ToolError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(error: serde_json::Error) -> Self {
        Self::Failed(format!("JSON: {error}"))
    }
}

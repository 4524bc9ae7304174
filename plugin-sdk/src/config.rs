//! The operator's values and secrets for this tool assignment; never shown to the model.

use crate::ToolError;
use crate::bindings::corral::tool::config as wit;

/// Why configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The assignment has no configuration granted.
    Denied(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<wit::ConfigError> for ConfigError {
    fn from(e: wit::ConfigError) -> Self {
        match e {
            wit::ConfigError::Denied(m) => Self::Denied(m),
            wit::ConfigError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<ConfigError> for ToolError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Denied(m) => ToolError::Denied(m),
            ConfigError::Failed(m) => ToolError::Failed(m),
        }
    }
}

/// The value of `key`, or `None` when the operator did not set it.
pub fn get(key: &str) -> Result<Option<String>, ConfigError> {
    wit::get(key).map_err(Into::into)
}

/// Every key/value pair the operator set.
pub fn get_all() -> Result<Vec<(String, String)>, ConfigError> {
    wit::get_all().map_err(Into::into)
}

//! SQL against the operator's data database, scoped by the host to the granted tables.

use crate::ToolError;
use crate::bindings::corral::tool::database as wit;

pub use wit::{QueryResult, SqlValue};

/// Why a statement was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseError {
    /// Not granted, or outside the grant.
    Denied(String),
    /// Not parseable, or the wrong kind of statement.
    InvalidQuery(String),
    /// The database failed, or a cap was hit.
    Failed(String),
}

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(m) | Self::InvalidQuery(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DatabaseError {}

impl From<wit::DatabaseError> for DatabaseError {
    fn from(e: wit::DatabaseError) -> Self {
        match e {
            wit::DatabaseError::Denied(m) => Self::Denied(m),
            wit::DatabaseError::InvalidQuery(m) => Self::InvalidQuery(m),
            wit::DatabaseError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<DatabaseError> for ToolError {
    fn from(e: DatabaseError) -> Self {
        match e {
            DatabaseError::Denied(m) => ToolError::Denied(m),
            DatabaseError::InvalidQuery(m) => ToolError::InvalidArguments(m),
            DatabaseError::Failed(m) => ToolError::Failed(m),
        }
    }
}

/// Runs one read-only query with bound parameters.
pub fn query(sql: &str, params: &[SqlValue]) -> Result<QueryResult, DatabaseError> {
    wit::query(sql, params).map_err(Into::into)
}

/// Runs one INSERT, UPDATE or DELETE with bound parameters; returns the rows affected.
pub fn execute(sql: &str, params: &[SqlValue]) -> Result<u64, DatabaseError> {
    wit::execute(sql, params).map_err(Into::into)
}

//! Objects in the storage bucket granted to this assignment. Paths are relative and `/`-separated;
//! the host refuses anything that would leave the bucket.

use crate::ToolError;
use crate::bindings::corral::tool::storage as wit;

pub use wit::ObjectInfo;

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// No bucket granted, or the operation is not allowed.
    Denied(String),
    /// No object at that path.
    NotFound(String),
    /// A malformed path, or one that tries to leave the bucket.
    InvalidPath(String),
    /// Over the operator's size cap.
    TooLarge(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(m)
            | Self::NotFound(m)
            | Self::InvalidPath(m)
            | Self::TooLarge(m)
            | Self::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<wit::StorageError> for StorageError {
    fn from(e: wit::StorageError) -> Self {
        match e {
            wit::StorageError::Denied(m) => Self::Denied(m),
            wit::StorageError::NotFound(m) => Self::NotFound(m),
            wit::StorageError::InvalidPath(m) => Self::InvalidPath(m),
            wit::StorageError::TooLarge(m) => Self::TooLarge(m),
            wit::StorageError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<StorageError> for ToolError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Denied(m) => ToolError::Denied(m),
            StorageError::NotFound(m) => ToolError::NotFound(m),
            StorageError::InvalidPath(m) => ToolError::InvalidArguments(m),
            StorageError::TooLarge(m) | StorageError::Failed(m) => ToolError::Failed(m),
        }
    }
}

/// Reads a whole object.
pub fn read(path: &str) -> Result<Vec<u8>, StorageError> {
    wit::read(path).map_err(Into::into)
}

/// Reads a whole object as UTF-8 text.
pub fn read_to_string(path: &str) -> Result<String, StorageError> {
    String::from_utf8(read(path)?)
        .map_err(|_| StorageError::Failed(format!("{path} is not UTF-8 text")))
}

/// Creates or replaces an object; `content_type` is kept with it.
pub fn write(
    path: &str,
    data: &[u8],
    content_type: Option<&str>,
) -> Result<ObjectInfo, StorageError> {
    wit::write(path, data, content_type).map_err(Into::into)
}

/// Lists objects whose path starts with `prefix` (`""` for all).
pub fn list(prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
    wit::list_objects(prefix).map_err(Into::into)
}

/// Deletes an object.
pub fn delete(path: &str) -> Result<(), StorageError> {
    wit::delete(path).map_err(Into::into)
}

//! Bounds on one statement: how long it may run and how much it may return.

use crate::bindings::corral::tool::database::{QueryResult, SqlValue};
use std::time::Duration;

/// Default statement timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default row cap of a query.
pub const DEFAULT_MAX_ROWS: usize = 1_000;
/// Default cap on the bytes of a query's result (roughly, as text).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 1024 * 1024;

/// Bounds on one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseLimits {
    /// The statement is stopped after this long.
    pub timeout: Duration,
    /// A query returns at most this many rows; the rest are cut and `truncated` is set.
    pub max_rows: usize,
    /// A query returns at most about this many bytes of values.
    pub max_result_bytes: usize,
}

impl Default for DatabaseLimits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            max_rows: DEFAULT_MAX_ROWS,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
        }
    }
}

impl DatabaseLimits {
    /// The defaults, with the statement timeout inside a call's wall-time limit (three
    /// quarters of it at most), so a slow statement ends with the database's clear "stopped"
    /// message and the tool can still report it, rather than the whole call being cut.
    pub fn within_call(call_timeout: Duration) -> Self {
        let timeout = DEFAULT_TIMEOUT
            .min(call_timeout * 3 / 4)
            .max(Duration::from_millis(1));
        Self {
            timeout,
            ..Self::default()
        }
    }
}

/// Collects rows until a cap is reached.
pub(super) struct ResultBuilder {
    columns: Vec<String>,
    rows: Vec<Vec<SqlValue>>,
    bytes: usize,
    truncated: bool,
    limits: DatabaseLimits,
}

impl ResultBuilder {
    pub(super) fn new(columns: Vec<String>, limits: DatabaseLimits) -> Self {
        let bytes = columns.iter().map(String::len).sum();
        Self {
            columns,
            rows: Vec::new(),
            bytes,
            truncated: false,
            limits,
        }
    }

    /// Adds a row; false when a cap was hit (the row is dropped and the result is truncated).
    pub(super) fn push(&mut self, row: Vec<SqlValue>) -> bool {
        let size: usize = row.iter().map(value_size).sum();
        if self.rows.len() >= self.limits.max_rows
            || self.bytes + size > self.limits.max_result_bytes
        {
            self.truncated = true;
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }

    pub(super) fn finish(self) -> QueryResult {
        QueryResult {
            columns: self.columns,
            rows: self.rows,
            truncated: self.truncated,
        }
    }
}

fn value_size(value: &SqlValue) -> usize {
    match value {
        SqlValue::Null | SqlValue::Boolean(_) => 4,
        SqlValue::Integer(_) | SqlValue::Real(_) => 8,
        SqlValue::Text(s) => s.len(),
        // base64 in the tool's JSON.
        SqlValue::Blob(b) => b.len() * 4 / 3 + 4,
    }
}

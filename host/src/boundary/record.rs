//! Step 6 of the boundary: the audit record of every call, with secrets redacted.

use crate::sandbox::CallStats;
use crate::tool::ToolFailure;
use serde::Serialize;
use serde_json::Value;
use std::sync::Mutex;

/// Replaces redacted values.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments whose values are never written to a record.
const SECRET_KEY_HINTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "access_key",
    "cookie",
];

/// Who decided about a call, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// No approval was needed.
    NotRequired,
    /// Waiting for a human.
    Pending {
        /// The action to decide on.
        action_id: String,
    },
    /// A human allowed it.
    Allowed {
        /// Who.
        by: String,
    },
    /// A human denied it.
    Denied {
        /// Who.
        by: String,
        /// Why.
        reason: Option<String>,
    },
}

/// One call, as audited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The call.
    pub call_id: String,
    /// Its run.
    pub run_id: Option<String>,
    /// The assignment it went through (absent when the tool was not found).
    pub assignment_id: Option<String>,
    /// The tool.
    pub tool_name: String,
    /// The tool's type label.
    pub tool_type: Option<String>,
    /// The final arguments after injection, secrets redacted.
    pub arguments: Value,
    /// Keys the operator's override forced.
    pub forced_keys: Vec<String>,
    /// The approval decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// The result (secrets redacted), when it ran and succeeded.
    pub result: Option<Value>,
    /// The failure, when it did not.
    pub error: Option<ToolFailure>,
    /// When the boundary received the call (Unix ms).
    pub started_at_ms: u64,
    /// Time in the boundary for this step, including the sandbox.
    pub duration_ms: f64,
    /// What the sandbox measured, when the call ran.
    pub stats: Option<CallStats>,
}

/// Where records go. The server stores them with the run; tests and the CLI keep them in memory.
pub trait Recorder: Send + Sync {
    /// Stores one record.
    fn record(&self, record: &CallRecord);
}

/// Keeps records in memory, newest last.
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    records: Mutex<Vec<CallRecord>>,
}

impl MemoryRecorder {
    /// All records so far.
    pub fn records(&self) -> Vec<CallRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Recorder for MemoryRecorder {
    fn record(&self, record: &CallRecord) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
    }
}

/// Discards records; for benchmarks.
#[derive(Debug, Default)]
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn record(&self, _record: &CallRecord) {}
}

/// A copy of `value` with secret-looking keys and every occurrence of a secret value replaced.
pub fn redact(value: &Value, secrets: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let hidden =
                        SECRET_KEY_HINTS.iter().any(|hint| lower.contains(hint)) && !v.is_null();
                    (
                        k.clone(),
                        if hidden {
                            Value::from(REDACTED)
                        } else {
                            redact(v, secrets)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, secrets)).collect()),
        Value::String(s) => {
            let mut out = s.clone();
            // Short secrets would redact half the text and are not secret enough to matter.
            for secret in secrets.iter().filter(|s| s.len() >= 4) {
                out = out.replace(secret, REDACTED);
            }
            Value::String(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_and_values_are_redacted() {
        let args = json!({"url": "https://x/?key=sk-123456", "headers": {"Authorization": "Bearer x"}, "api_key": "k", "n": 1, "token": null});
        let out = redact(&args, &["sk-123456"]);
        assert_eq!(
            out,
            json!({"url": "https://x/?key=[REDACTED]", "headers": {"Authorization": "[REDACTED]"}, "api_key": "[REDACTED]", "n": 1, "token": null})
        );
    }
}

//! Host-side tool types shared by the sandbox, the boundary and the CLI: what a tool is
//! (its descriptor) and how a call can fail (the typed error the model receives).

use serde::{Deserialize, Serialize};

/// Whether a call needs a human's approval before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Runs without asking.
    Never,
    /// Waits for ALLOW.
    Always,
}

/// One tool as its component describes it, with the schemas parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDescriptor {
    /// `snake_case`, unique within the component.
    pub name: String,
    /// What the model reads to decide when to call it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub input_schema: serde_json::Value,
    /// JSON Schema of the result, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    /// The tool's own confirmation default.
    pub confirmation: Confirmation,
    /// A label for humans (`http`, `storage`, `database`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_type: Option<String>,
    /// A JSON Schema: calls whose final arguments match it need confirmation even when
    /// `confirmation` is `never` (e.g. `http_request` with a method other than GET/HEAD).
    /// Declared by the component as `x-corral-confirm-if` in its input schema, from which the
    /// host takes it out, so the model never sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_if: Option<serde_json::Value>,
}

/// The input-schema keyword a component declares [`ToolDescriptor::confirm_if`] with.
pub const CONFIRM_IF_KEY: &str = "x-corral-confirm-if";

impl ToolDescriptor {
    /// The property names the input schema declares at its top level: the keys a
    /// `config_override` may force.
    pub fn input_properties(&self) -> impl Iterator<Item = &str> {
        self.input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .into_iter()
            .flat_map(|props| props.keys().map(String::as_str))
    }
}

/// What kind of failure a call ended with. The first four mirror the WIT `tool-error` a guest
/// returns; the rest are the host's verdicts on a guest that misbehaved or was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The arguments do not fit the tool (schema validation, or the guest said so).
    InvalidArguments,
    /// Refused: by the guest, a capability, or a human (DENY).
    Denied,
    /// The tool, or something it refers to, does not exist.
    NotFound,
    /// The tool reported a failure.
    Failed,
    /// The call ran past its wall-time budget and was stopped.
    Timeout,
    /// The call tried to use more memory than its budget.
    MemoryLimit,
    /// The result was larger than the output cap.
    OutputLimit,
    /// The guest trapped or panicked.
    Crashed,
    /// The host could not run the call (e.g. instantiation failed).
    Unavailable,
}

/// A failed call, as fed back to the model and written to the call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ToolFailure {
    /// The kind, for programs.
    pub kind: FailureKind,
    /// The explanation, for the model and humans.
    pub message: String,
}

impl ToolFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

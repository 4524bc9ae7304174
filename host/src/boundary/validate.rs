//! Step 3 of the boundary: the final arguments must satisfy the tool's input schema.
//!
//! A violation is fed back to the model as an `invalid_arguments` failure naming each problem
//! and where it is, so the model can correct itself; nothing runs.

use crate::tool::{FailureKind, ToolFailure};
use serde_json::Value;

/// Most problems listed in one message.
const MAX_REPORTED: usize = 5;

/// A compiled input schema.
pub struct ArgumentValidator {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ArgumentValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArgumentValidator")
    }
}

impl ArgumentValidator {
    /// Compiles `schema` once, when the tool is registered.
    pub fn new(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema)
            .map(|validator| Self { validator })
            .map_err(|e| e.to_string())
    }

    /// Whether `arguments` satisfy the schema.
    pub fn matches(&self, arguments: &Value) -> bool {
        self.validator.is_valid(arguments)
    }

    /// Checks `arguments`, listing up to five problems.
    pub fn check(&self, arguments: &Value) -> Result<(), ToolFailure> {
        let problems: Vec<String> = self
            .validator
            .iter_errors(arguments)
            .take(MAX_REPORTED)
            .map(|error| {
                let at = error.instance_path().to_string();
                if at.is_empty() {
                    error.to_string()
                } else {
                    format!("at {at}: {error}")
                }
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(ToolFailure::new(
            FailureKind::InvalidArguments,
            format!(
                "the arguments do not match the tool's input schema: {}",
                problems.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_are_named_with_their_location() {
        let v = ArgumentValidator::new(&json!({
            "type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"], "additionalProperties": false
        }))
        .unwrap();
        assert!(v.check(&json!({"a": 1})).is_ok());
        let err = v.check(&json!({"a": "x"})).unwrap_err();
        assert_eq!(err.kind, FailureKind::InvalidArguments);
        assert!(err.message.contains("/a"), "{}", err.message);
        assert!(
            v.check(&json!({}))
                .unwrap_err()
                .message
                .contains("\"a\" is a required property")
        );
        assert!(v.check(&json!({"a": 1, "b": 2})).is_err());
    }

    #[test]
    fn a_broken_schema_is_refused_at_compile_time() {
        assert!(ArgumentValidator::new(&json!({"type": 12})).is_err());
    }
}

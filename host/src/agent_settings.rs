//! An agent's `settings` object: the knobs the run engine reads, checked when saved so a typo
//! is a 400 at configuration time rather than a setting silently ignored at run time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Default step budget of the tool loop.
pub const DEFAULT_MAX_STEPS: u32 = 10;

/// Typed view of `settings`. Every field is optional; absent means the default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Most tokens one model answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Most model turns in one run's tool loop (1 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// Reasoning effort for models that reason: `minimal`, `low`, `medium`, `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Token budget for retrieved context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<u32>,
    /// The `scripted` model's turns, replayed in order (tests and offline demos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Vec<ScriptTurn>>,
}

/// One turn of the `scripted` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ScriptTurn {
    /// Answer with text.
    Text {
        /// The text.
        text: String,
    },
    /// Ask for tool calls.
    ToolCalls {
        /// The calls, in order.
        tool_calls: Vec<ScriptToolCall>,
    },
}

/// A tool call in a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments object.
    #[serde(default)]
    pub arguments: Value,
}

const REASONING_EFFORTS: [&str; 4] = ["minimal", "low", "medium", "high"];

impl AgentSettings {
    /// Parses and checks a settings object; the message names the setting at fault.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("`settings` must be a JSON object".into());
        };
        const KNOWN: [&str; 7] = [
            "temperature",
            "top_p",
            "max_tokens",
            "max_steps",
            "reasoning_effort",
            "max_context_tokens",
            "script",
        ];
        if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!(
                "unknown setting `{unknown}`; the settings are: {}",
                KNOWN.join(", ")
            ));
        }
        let settings: AgentSettings = serde_path_to_error::deserialize(value.clone())
            .map_err(|e| format!("settings.{}: {}", e.path(), e.inner()))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err("settings.temperature must be between 0 and 2".into());
        }
        if let Some(p) = self.top_p
            && !(0.0..=1.0).contains(&p)
        {
            return Err("settings.top_p must be between 0 and 1".into());
        }
        if self.max_tokens == Some(0) {
            return Err("settings.max_tokens must be at least 1".into());
        }
        if let Some(steps) = self.max_steps
            && !(1..=100).contains(&steps)
        {
            return Err("settings.max_steps must be between 1 and 100".into());
        }
        if let Some(effort) = &self.reasoning_effort
            && !REASONING_EFFORTS.contains(&effort.as_str())
        {
            return Err(format!(
                "settings.reasoning_effort must be one of {}",
                REASONING_EFFORTS.join(", ")
            ));
        }
        if self.max_context_tokens == Some(0) {
            return Err("settings.max_context_tokens must be at least 1".into());
        }
        if let Some(script) = &self.script {
            if script.is_empty() {
                return Err("settings.script must have at least one turn".into());
            }
            for (i, turn) in script.iter().enumerate() {
                if let ScriptTurn::ToolCalls { tool_calls } = turn {
                    if tool_calls.is_empty() {
                        return Err(format!("settings.script[{i}].tool_calls is empty"));
                    }
                    for call in tool_calls {
                        if !matches!(call.arguments, Value::Object(_) | Value::Null) {
                            return Err(format!(
                                "settings.script[{i}]: the arguments of `{}` must be an object",
                                call.name
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The step budget.
    pub fn max_steps(&self) -> u32 {
        self.max_steps.unwrap_or(DEFAULT_MAX_STEPS)
    }
}

/// Applies a PATCH to a settings object: each key given replaces the old value, `null`
/// removes it, keys not given stay.
pub fn merge(current: &Value, patch: &Map<String, Value>) -> Value {
    let mut merged = current.as_object().cloned().unwrap_or_default();
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn good_settings_parse() {
        let s = AgentSettings::parse(&json!({
            "temperature": 0.7, "max_steps": 5, "reasoning_effort": "low",
            "script": [{"text": "hi"}, {"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}]
        }))
        .unwrap();
        assert_eq!(s.max_steps(), 5);
        assert_eq!(s.script.unwrap().len(), 2);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        for (bad, needle) in [
            (json!({"temperature": 3}), "temperature"),
            (json!({"temperature": "hot"}), "temperature"),
            (json!({"max_steps": 0}), "max_steps"),
            (json!({"reasoning_effort": "max"}), "reasoning_effort"),
            (json!({"temprature": 1}), "unknown setting `temprature`"),
            (json!({"script": []}), "script"),
            (
                json!({"script": [{"tool_calls": [{"name": "x", "arguments": 3}]}]}),
                "arguments",
            ),
            (json!([1]), "object"),
        ] {
            let error = AgentSettings::parse(&bad).unwrap_err();
            assert!(error.contains(needle), "{bad}: {error}");
        }
    }

    #[test]
    fn merge_replaces_and_removes() {
        let merged = merge(
            &json!({"temperature": 0.5, "max_steps": 3}),
            json!({"temperature": 0.9, "max_steps": null})
                .as_object()
                .unwrap(),
        );
        assert_eq!(merged, json!({"temperature": 0.9}));
    }
}

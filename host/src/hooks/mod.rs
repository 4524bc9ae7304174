//! Agent hooks: what they are and the rules a registration must follow. The run engine fires
//! them; the API stores them after [`HookSpec::parse`] accepted them.
//!
//! Both Powabase vocabularies are accepted: the docs' `before_run / after_run /
//! before_tool_call / after_tool_call` and the engine's `OnRunStart / PreToolUse /
//! PostToolUse / OnDelegation / PreResponse / OnRunComplete`; types `webhook`/`http`,
//! `approval` and `rule`.

use serde_json::Value;

/// When a hook fires, in the engine's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// A run starts.
    OnRunStart,
    /// Before a tool call runs.
    PreToolUse,
    /// After a tool call ran.
    PostToolUse,
    /// A sub-agent is delegated to.
    OnDelegation,
    /// Before the final answer is sent.
    PreResponse,
    /// A run ended.
    OnRunComplete,
}

impl HookEvent {
    /// Every accepted spelling, for error messages.
    pub const ACCEPTED: &'static str = "OnRunStart, PreToolUse, PostToolUse, OnDelegation, \
        PreResponse, OnRunComplete (or before_run, after_run, before_tool_call, after_tool_call)";

    /// Parses either vocabulary.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "OnRunStart" | "before_run" => Self::OnRunStart,
            "PreToolUse" | "before_tool_call" => Self::PreToolUse,
            "PostToolUse" | "after_tool_call" => Self::PostToolUse,
            "OnDelegation" => Self::OnDelegation,
            "PreResponse" => Self::PreResponse,
            "OnRunComplete" | "after_run" => Self::OnRunComplete,
            _ => return None,
        })
    }

    /// The engine's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnRunStart => "OnRunStart",
            Self::PreToolUse => "PreToolUse",
            Self::PostToolUse => "PostToolUse",
            Self::OnDelegation => "OnDelegation",
            Self::PreResponse => "PreResponse",
            Self::OnRunComplete => "OnRunComplete",
        }
    }

    /// Whether the event concerns one tool call (and so may have a `matcher`).
    pub fn is_tool_event(self) -> bool {
        matches!(self, Self::PreToolUse | Self::PostToolUse)
    }
}

/// What a hook does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookType {
    /// POSTs the event to a URL (`webhook` and `http` are the same thing).
    Http,
    /// Gates matching tool calls on a human's approval.
    Approval,
    /// Allows or denies by comparing event fields.
    Rule,
}

impl HookType {
    /// Parses a type name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "http" | "webhook" => Self::Http,
            "approval" => Self::Approval,
            "rule" => Self::Rule,
            _ => return None,
        })
    }
}

/// Operators of `rule` hooks.
pub const RULE_OPERATORS: [&str; 4] = ["CONTAINS", "STARTS_WITH", "MATCHES", "IN"];
/// Longest an http hook may be waited for.
pub const MAX_HOOK_TIMEOUT_SECONDS: f64 = 30.0;

/// A checked hook registration.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSpec {
    /// When it fires.
    pub event: HookEvent,
    /// What it does.
    pub hook_type: HookType,
}

impl HookSpec {
    /// Checks a registration; the message names the field at fault.
    pub fn parse(
        event: &str,
        hook_type: &str,
        config: &Value,
        matcher: Option<&str>,
    ) -> Result<Self, String> {
        let event = HookEvent::parse(event).ok_or_else(|| {
            format!(
                "unknown hook event `{event}`; use one of {}",
                HookEvent::ACCEPTED
            )
        })?;
        let hook_type = HookType::parse(hook_type).ok_or_else(|| {
            format!("unknown hook type `{hook_type}`; use webhook, http, approval or rule")
        })?;
        let Value::Object(config) = config else {
            return Err("`config` must be a JSON object".into());
        };
        if let Some(matcher) = matcher {
            if !event.is_tool_event() {
                return Err(format!(
                    "`matcher` selects tools, so it only applies to PreToolUse/PostToolUse hooks, not {}",
                    event.as_str()
                ));
            }
            regex::Regex::new(&format!("^(?:{matcher})$"))
                .map_err(|e| format!("`matcher` is not a valid pattern: {e}"))?;
        }
        match hook_type {
            HookType::Http => {
                let url = config
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or("an http/webhook hook needs `config.url`")?;
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| format!("`config.url` `{url}` is not a valid URL"))?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                    return Err("`config.url` must be an absolute http:// or https:// URL".into());
                }
                if let Some(t) = config.get("timeout_seconds") {
                    let ok = t
                        .as_f64()
                        .is_some_and(|t| t > 0.0 && t <= MAX_HOOK_TIMEOUT_SECONDS);
                    if !ok {
                        return Err(format!(
                            "`config.timeout_seconds` must be above 0 and at most {MAX_HOOK_TIMEOUT_SECONDS}"
                        ));
                    }
                }
                if let Some(headers) = config.get("headers") {
                    let ok = headers
                        .as_object()
                        .is_some_and(|h| h.values().all(Value::is_string));
                    if !ok {
                        return Err("`config.headers` must be an object of strings".into());
                    }
                }
                if let Some(secret) = config.get("secret")
                    && !secret.is_string()
                {
                    return Err("`config.secret` (the HMAC signing key) must be a string".into());
                }
            }
            HookType::Approval => {
                if event != HookEvent::PreToolUse {
                    return Err(
                        "an approval hook gates tool calls, so its event must be PreToolUse (before_tool_call)"
                            .into(),
                    );
                }
                if let Some(message) = config.get("message")
                    && !message.is_string()
                {
                    return Err("`config.message` must be a string".into());
                }
            }
            HookType::Rule => {
                let rules: Vec<&Value> = match (config.get("rules"), config.get("condition")) {
                    (Some(Value::Array(rules)), None) if !rules.is_empty() => {
                        rules.iter().collect()
                    }
                    (None, Some(condition)) => vec![condition],
                    _ => {
                        return Err(
                            "a rule hook needs `config.rules` (a non-empty list) or `config.condition`"
                                .into(),
                        );
                    }
                };
                for (i, rule) in rules.iter().enumerate() {
                    check_rule(rule).map_err(|e| format!("rule {i}: {e}"))?;
                }
                if let Some(action) = config.get("action")
                    && !matches!(action.as_str(), Some("allow" | "deny"))
                {
                    return Err("`config.action` must be `allow` or `deny`".into());
                }
            }
        }
        Ok(Self { event, hook_type })
    }
}

fn check_rule(rule: &Value) -> Result<(), String> {
    let field = rule
        .get("field")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or("`field` (a dotted path into the event, e.g. `tool_input.url`) is required")?;
    let _ = field;
    let operator = rule
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "`operator` is required: one of {}",
                RULE_OPERATORS.join(", ")
            )
        })?;
    let value = rule.get("value").ok_or("`value` is required")?;
    match operator {
        "CONTAINS" | "STARTS_WITH" => {
            if !value.is_string() {
                return Err(format!("{operator} compares with a string `value`"));
            }
        }
        "MATCHES" => {
            let pattern = value
                .as_str()
                .ok_or("MATCHES needs a regular expression `value`")?;
            regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))?;
        }
        "IN" => {
            if !value.is_array() {
                return Err("IN needs a list `value`".into());
            }
        }
        other => {
            return Err(format!(
                "unknown operator `{other}`; use one of {}",
                RULE_OPERATORS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_vocabularies_are_accepted() {
        let url = json!({"url": "https://example.com/hook"});
        assert_eq!(
            HookSpec::parse("before_run", "webhook", &url, None)
                .unwrap()
                .event,
            HookEvent::OnRunStart
        );
        assert_eq!(
            HookSpec::parse("PostToolUse", "http", &url, Some("web_.*"))
                .unwrap()
                .event,
            HookEvent::PostToolUse
        );
        HookSpec::parse(
            "PreToolUse",
            "approval",
            &json!({"message": "ok?"}),
            Some("database_query"),
        )
        .unwrap();
        HookSpec::parse(
            "PreToolUse",
            "rule",
            &json!({"rules": [{"field": "tool_input.url", "operator": "STARTS_WITH", "value": "https://"}], "action": "deny"}),
            None,
        )
        .unwrap();
    }

    #[test]
    fn bad_registrations_name_the_problem() {
        let url = json!({"url": "https://example.com/hook"});
        for (event, kind, config, matcher, needle) in [
            ("on_start", "http", url.clone(), None, "unknown hook event"),
            (
                "before_run",
                "email",
                url.clone(),
                None,
                "unknown hook type",
            ),
            ("before_run", "http", json!({}), None, "config.url"),
            (
                "before_run",
                "http",
                json!({"url": "ftp://x"}),
                None,
                "http://",
            ),
            (
                "before_run",
                "http",
                json!({"url": "https://x", "timeout_seconds": 99}),
                None,
                "timeout_seconds",
            ),
            ("before_run", "http", url.clone(), Some("x"), "matcher"),
            (
                "PreToolUse",
                "http",
                url.clone(),
                Some("(unclosed"),
                "matcher",
            ),
            ("after_run", "approval", json!({}), None, "PreToolUse"),
            ("PreToolUse", "rule", json!({}), None, "config.rules"),
            (
                "PreToolUse",
                "rule",
                json!({"rules": [{"field": "a", "operator": "LIKE", "value": "x"}]}),
                None,
                "unknown operator",
            ),
            (
                "PreToolUse",
                "rule",
                json!({"rules": [{"field": "a", "operator": "IN", "value": "x"}]}),
                None,
                "list",
            ),
            (
                "PreToolUse",
                "rule",
                json!({"rules": [{"field": "a", "operator": "MATCHES", "value": "("}]}),
                None,
                "regular expression",
            ),
            (
                "PreToolUse",
                "rule",
                json!({"condition": {"operator": "IN", "value": []}}),
                None,
                "field",
            ),
            ("before_run", "http", json!([1]), None, "object"),
        ] {
            let error = HookSpec::parse(event, kind, &config, matcher).unwrap_err();
            assert!(error.contains(needle), "{event}/{kind}: {error}");
        }
    }
}

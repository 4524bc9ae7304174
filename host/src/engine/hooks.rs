//! Hooks at run time. `approval` hooks add a gate to matching tool calls (they can never
//! remove one); `rule` hooks allow or deny a tool call by comparing fields of the event;
//! `http`/`webhook` hooks POST the event JSON, signed with HMAC-SHA256 when a `secret` is set,
//! and fail open (an unreachable hook never blocks a run), as Powabase's do. A PreToolUse http
//! hook may answer `{"action": "deny", "message"}` or `{"modified_input": {...}}` (the
//! modified input is validated again by the boundary).

use crate::hooks::{HookEvent, HookType};
use crate::store::hooks::Hook;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, Instant};

/// The header carrying `sha256=<hex HMAC of the body>`.
pub const SIGNATURE_HEADER: &str = "x-corral-signature";

/// A hook registration ready to fire.
#[derive(Debug, Clone)]
pub struct ActiveHook {
    /// The row.
    pub hook: Hook,
    /// Its event.
    pub event: HookEvent,
    /// Its type.
    pub hook_type: HookType,
    matcher: Option<regex::Regex>,
}

impl ActiveHook {
    /// The enabled hooks of an agent that parse (stored ones were checked when saved).
    pub fn load(hooks: Vec<Hook>) -> Vec<ActiveHook> {
        hooks
            .into_iter()
            .filter(|h| h.enabled)
            .filter_map(|hook| {
                let event = HookEvent::parse(&hook.event)?;
                let hook_type = HookType::parse(&hook.hook_type)?;
                let matcher = match &hook.matcher {
                    Some(m) => Some(regex::Regex::new(&format!("^(?:{m})$")).ok()?),
                    None => None,
                };
                Some(ActiveHook {
                    hook,
                    event,
                    hook_type,
                    matcher,
                })
            })
            .collect()
    }

    /// Whether it concerns `tool_name`.
    pub fn matches(&self, tool_name: &str) -> bool {
        self.matcher.as_ref().is_none_or(|m| m.is_match(tool_name))
    }
}

/// What a hook decided.
#[derive(Debug, Clone, PartialEq)]
pub struct HookOutcome {
    /// The hook.
    pub hook_id: String,
    /// `allow`, `deny`, `error` (failed open), `skipped`.
    pub status: String,
    /// It blocked the action.
    pub blocked: bool,
    /// A replacement input, when it gave one.
    pub modified_input: Option<Value>,
    /// Its message.
    pub message: Option<String>,
    /// Time it took.
    pub latency_ms: u64,
}

impl HookOutcome {
    /// The `hook_result` event body.
    pub fn event(&self, position: &str, hook_event: HookEvent) -> Value {
        json!({
            "hook_id": self.hook_id,
            "position": position,
            "hook_event": hook_event.as_str(),
            "status": self.status,
            "modified": self.modified_input.is_some(),
            "blocked": self.blocked,
            "latency_ms": self.latency_ms,
            "message": self.message,
        })
    }
}

/// Whether any approval hook gates `tool_name`.
pub fn approval_required(hooks: &[ActiveHook], tool_name: &str) -> bool {
    hooks.iter().any(|h| {
        h.hook_type == HookType::Approval
            && h.event == HookEvent::PreToolUse
            && h.matches(tool_name)
    })
}

/// Runs the rule and http hooks of `event` on `data` (for tool events, only those matching
/// `tool_name`), in registration order; stops at the first that blocks.
pub async fn fire(
    client: &reqwest::Client,
    hooks: &[ActiveHook],
    event: HookEvent,
    tool_name: Option<&str>,
    data: &Value,
) -> Vec<HookOutcome> {
    let mut outcomes = Vec::new();
    for hook in hooks.iter().filter(|h| h.event == event) {
        if let Some(tool) = tool_name
            && !hook.matches(tool)
        {
            continue;
        }
        let outcome = match hook.hook_type {
            HookType::Approval => continue,
            HookType::Rule => evaluate_rule(hook, data),
            HookType::Http => post(client, hook, event, tool_name, data).await,
        };
        let blocked = outcome.blocked;
        outcomes.push(outcome);
        if blocked {
            break;
        }
    }
    outcomes
}

fn evaluate_rule(hook: &ActiveHook, data: &Value) -> HookOutcome {
    let started = Instant::now();
    let config = &hook.hook.config;
    let rules: Vec<&Value> = match (config.get("rules"), config.get("condition")) {
        (Some(Value::Array(rules)), _) => rules.iter().collect(),
        (_, Some(condition)) => vec![condition],
        _ => Vec::new(),
    };
    let all_match = !rules.is_empty() && rules.iter().all(|rule| rule_matches(rule, data));
    let deny = config
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("deny")
        == "deny";
    let blocked = all_match && deny;
    HookOutcome {
        hook_id: hook.hook.id.clone(),
        status: if blocked { "deny" } else { "allow" }.into(),
        blocked,
        modified_input: None,
        message: blocked.then(|| {
            config
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("blocked by a rule hook")
                .to_string()
        }),
        latency_ms: started.elapsed().as_millis() as u64,
    }
}

/// `field` is a dotted path into the event data (`tool_input.url`).
fn rule_matches(rule: &Value, data: &Value) -> bool {
    let field = rule
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut current = data;
    for part in field.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return false,
        }
    }
    let text = match current {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let value = rule.get("value").cloned().unwrap_or(Value::Null);
    match rule
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "CONTAINS" => value.as_str().is_some_and(|v| text.contains(v)),
        "STARTS_WITH" => value.as_str().is_some_and(|v| text.starts_with(v)),
        "MATCHES" => value
            .as_str()
            .and_then(|p| regex::Regex::new(p).ok())
            .is_some_and(|re| re.is_match(&text)),
        "IN" => value.as_array().is_some_and(|list| {
            list.iter()
                .any(|v| v == current || v.as_str() == Some(&text))
        }),
        _ => false,
    }
}

async fn post(
    client: &reqwest::Client,
    hook: &ActiveHook,
    event: HookEvent,
    tool_name: Option<&str>,
    data: &Value,
) -> HookOutcome {
    let started = Instant::now();
    let config = &hook.hook.config;
    let url = config
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let timeout = config
        .get("timeout_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(5.0);
    let body = json!({
        "event": event.as_str(),
        "tool_name": tool_name,
        "data": data,
    })
    .to_string();
    let mut request = client
        .post(url)
        .timeout(Duration::from_secs_f64(timeout))
        .header("content-type", "application/json");
    if let Some(Value::Object(headers)) = config.get("headers") {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
    }
    if let Some(secret) = config.get("secret").and_then(Value::as_str)
        && let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
    {
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        request = request.header(SIGNATURE_HEADER, format!("sha256={signature}"));
    }
    let latency = |started: Instant| started.elapsed().as_millis() as u64;
    let failed_open = |message: String| HookOutcome {
        hook_id: hook.hook.id.clone(),
        status: "error".into(),
        blocked: false,
        modified_input: None,
        message: Some(format!("{message} (failed open)")),
        latency_ms: latency(started),
    };
    let response = match request.body(body).send().await {
        Ok(response) => response,
        Err(error) => return failed_open(format!("hook request failed: {error}")),
    };
    if !response.status().is_success() {
        return failed_open(format!("hook answered {}", response.status()));
    }
    let reply: Value = response.json().await.unwrap_or(Value::Null);
    let deny = reply.get("action").and_then(Value::as_str) == Some("deny");
    let modified_input = reply
        .get("modified_input")
        .filter(|v| v.is_object())
        .cloned()
        .filter(|_| event == HookEvent::PreToolUse);
    HookOutcome {
        hook_id: hook.hook.id.clone(),
        status: if deny { "deny" } else { "allow" }.into(),
        blocked: deny,
        modified_input,
        message: reply
            .get("message")
            .and_then(Value::as_str)
            .map(String::from),
        latency_ms: latency(started),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(event: &str, kind: &str, config: Value, matcher: Option<&str>) -> ActiveHook {
        ActiveHook::load(vec![Hook {
            id: "h1".into(),
            agent_id: "a".into(),
            event: event.into(),
            hook_type: kind.into(),
            config,
            matcher: matcher.map(String::from),
            enabled: true,
            created_at: String::new(),
            updated_at: String::new(),
        }])
        .remove(0)
    }

    #[test]
    fn approval_hooks_gate_matching_tools_only() {
        let hooks = vec![hook(
            "PreToolUse",
            "approval",
            json!({}),
            Some("database_.*"),
        )];
        assert!(approval_required(&hooks, "database_query"));
        assert!(!approval_required(&hooks, "web_search"));
    }

    #[tokio::test]
    async fn rules_deny_on_match() {
        let hooks = vec![hook(
            "PreToolUse",
            "rule",
            json!({"rules": [{"field": "tool_input.url", "operator": "STARTS_WITH", "value": "http://"}], "message": "https only"}),
            None,
        )];
        let client = reqwest::Client::new();
        let denied = fire(
            &client,
            &hooks,
            HookEvent::PreToolUse,
            Some("fetch"),
            &json!({"tool_input": {"url": "http://x"}}),
        )
        .await;
        assert!(denied[0].blocked);
        assert_eq!(denied[0].message.as_deref(), Some("https only"));
        let allowed = fire(
            &client,
            &hooks,
            HookEvent::PreToolUse,
            Some("fetch"),
            &json!({"tool_input": {"url": "https://x"}}),
        )
        .await;
        assert!(!allowed[0].blocked);
        for (op, value, input, expected) in [
            ("CONTAINS", json!("secret"), "a secret b", true),
            ("MATCHES", json!("^[0-9]+$"), "123", true),
            ("MATCHES", json!("^[0-9]+$"), "12a", false),
            ("IN", json!(["a", "b"]), "b", true),
            ("IN", json!(["a", "b"]), "c", false),
        ] {
            let rule = json!({"field": "tool_input.q", "operator": op, "value": value});
            assert_eq!(
                rule_matches(&rule, &json!({"tool_input": {"q": input}})),
                expected,
                "{op} {input}"
            );
        }
    }

    #[tokio::test]
    async fn unreachable_http_hooks_fail_open() {
        let hooks = vec![hook(
            "PreToolUse",
            "http",
            json!({"url": "http://127.0.0.1:9/hook", "timeout_seconds": 1}),
            None,
        )];
        let outcome = fire(
            &reqwest::Client::new(),
            &hooks,
            HookEvent::PreToolUse,
            Some("t"),
            &json!({}),
        )
        .await;
        assert_eq!(outcome[0].status, "error");
        assert!(!outcome[0].blocked);
    }
}

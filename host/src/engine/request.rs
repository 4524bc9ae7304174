//! What a run is asked: the message, the session, per-run overrides, and at most one context
//! source. Stored with the run so a resumed run keeps its options.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Characters per token, for budgeting context without a tokenizer (a conservative average
/// for English text; the budget is a cap, not an exact count).
const CHARS_PER_TOKEN: usize = 4;

/// A run's options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The user's message.
    pub message: String,
    /// Per-run temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// `{"name"?, "schema"}` the answer must match (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Token budget for the context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<u32>,
    /// Ask for `[n]` citations and parse them.
    #[serde(default)]
    pub citations_enabled: bool,
    /// Ask for reasoning output.
    #[serde(default)]
    pub reasoning_requested: bool,
    /// Context items (by value), already resolved from `context_override`/`context_items`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextItem>,
    /// Whether tools may be used (`/run` is one call without tools).
    #[serde(default)]
    pub tools_enabled: bool,
}

/// One piece of context given to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextItem {
    /// Its id, for citations.
    pub id: String,
    /// The text.
    pub text: String,
    /// Anything else the client sent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// Checks the context fields of a run body (at most one source) and turns the supported ones
/// into items. Knowledge-base retrieval and context handlers come with the knowledge-base
/// milestone; asking for them now is a clear 400, not a silently ignored field.
pub fn context_from_body(
    body: &serde_json::Map<String, Value>,
) -> Result<Vec<ContextItem>, String> {
    const SOURCES: [&str; 4] = [
        "knowledge_bases",
        "context_handler_id",
        "context_override",
        "context_items",
    ];
    let given: Vec<&str> = SOURCES
        .iter()
        .copied()
        .filter(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() > 1 {
        return Err(format!(
            "give at most one context source; this request has {}",
            given.join(" and ")
        ));
    }
    match given.first().copied() {
        None => Ok(Vec::new()),
        Some("context_override") => match &body["context_override"] {
            Value::String(text) => Ok(vec![ContextItem {
                id: "1".into(),
                text: text.clone(),
                metadata: None,
            }]),
            _ => Err("`context_override` must be a string".into()),
        },
        Some("context_items") => {
            let Value::Array(items) = &body["context_items"] else {
                return Err("`context_items` must be a list".into());
            };
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let text = item
                        .get("text")
                        .or_else(|| item.get("content"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            format!(
                                "context_items[{i}] needs its `text`: items by reference (id only) need the knowledge-base milestone"
                            )
                        })?;
                    Ok(ContextItem {
                        id: item
                            .get("id")
                            .map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))
                            .unwrap_or_else(|| (i + 1).to_string()),
                        text: text.to_string(),
                        metadata: item.get("metadata").cloned(),
                    })
                })
                .collect()
        }
        Some(other) => Err(format!(
            "`{other}` needs knowledge-base retrieval, which this server does not have yet; pass the text with `context_override` or `context_items` instead"
        )),
    }
}

/// The JSON Schema inside a `response_format`: `{"schema": ...}` or OpenAI's
/// `{"json_schema": {"schema": ...}}`.
pub fn response_format_schema(format: &Value) -> Option<&Value> {
    format
        .get("json_schema")
        .and_then(|j| j.get("schema"))
        .or_else(|| format.get("schema"))
}

/// The system prompt with the context appended, cut to the token budget.
pub fn system_prompt(base: &str, options: &RunOptions) -> String {
    let mut prompt = base.to_string();
    if !options.context.is_empty() {
        let budget = options
            .max_context_tokens
            .map(|t| t as usize * CHARS_PER_TOKEN);
        let mut context = String::new();
        for (i, item) in options.context.iter().enumerate() {
            context.push_str(&format!("[{}] {}\n", i + 1, item.text));
        }
        if let Some(budget) = budget
            && context.len() > budget
        {
            let mut cut = budget;
            while !context.is_char_boundary(cut) {
                cut -= 1;
            }
            context.truncate(cut);
        }
        if !prompt.is_empty() {
            prompt.push_str("\n\n");
        }
        prompt.push_str("Context:\n");
        prompt.push_str(&context);
    }
    if options.citations_enabled {
        prompt.push_str(
            "\n\nWhen you use the context, cite it with its number in square brackets, e.g. [1].",
        );
    }
    prompt
}

/// The `[n]` references of an answer that name a context item.
pub fn citations(content: &str, options: &RunOptions) -> Vec<Value> {
    let re = regex::Regex::new(r"\[(\d+)\]").expect("a valid pattern");
    let mut seen = Vec::new();
    for cap in re.captures_iter(content) {
        if let Ok(n) = cap[1].parse::<usize>()
            && n >= 1
            && n <= options.context.len()
            && !seen.contains(&n)
        {
            seen.push(n);
        }
    }
    seen.into_iter()
        .map(|n| {
            let item = &options.context[n - 1];
            serde_json::json!({"index": n, "id": item.id, "text": item.text})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_context_source_at_most() {
        let body = json!({"context_override": "x", "context_items": []});
        assert!(
            context_from_body(body.as_object().unwrap())
                .unwrap_err()
                .contains("at most one")
        );
        let kb = json!({"knowledge_bases": [{"id": "k"}]});
        assert!(
            context_from_body(kb.as_object().unwrap())
                .unwrap_err()
                .contains("knowledge-base")
        );
        let items = json!({"context_items": [{"id": "a", "text": "alpha"}, {"text": "beta"}]});
        let items = context_from_body(items.as_object().unwrap()).unwrap();
        assert_eq!(items[1].id, "2");
        let by_ref = json!({"context_items": [{"id": "a"}]});
        assert!(context_from_body(by_ref.as_object().unwrap()).is_err());
    }

    #[test]
    fn context_is_cut_to_budget_and_cited() {
        let options = RunOptions {
            context: vec![
                ContextItem {
                    id: "a".into(),
                    text: "x".repeat(100),
                    metadata: None,
                },
                ContextItem {
                    id: "b".into(),
                    text: "second".into(),
                    metadata: None,
                },
            ],
            max_context_tokens: Some(10),
            citations_enabled: true,
            ..RunOptions::default()
        };
        let prompt = system_prompt("Be brief.", &options);
        assert!(!prompt.contains("second"), "cut to 40 chars: {prompt}");
        assert!(prompt.contains("[1]"));
        let cited = citations("see [2] and [1] and [9]", &options);
        assert_eq!(cited.len(), 2);
        assert_eq!(cited[0]["id"], "b");
    }
}

//! OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, LM Studio,
//! OpenRouter...): one streamed `POST {base_url}/chat/completions` per model call.
//!
//! Text and reasoning deltas are passed on as they arrive. Tool calls arrive as fragments keyed
//! by `index` (id and name first, the arguments' JSON text in pieces), so they are assembled
//! here and emitted whole when the choice finishes. Usage comes in its own chunk after the
//! finish (`stream_options.include_usage`); `data: [DONE]` ends the answer.

use super::providers::ProviderSettings;
use super::transport::{self, Decode, Timing};
use super::{
    ChatRequest, FinishReason, LlmError, LlmEvent, LlmStream, Message, Provider, ToolCallRequest,
    Usage,
};
use eventsource_stream::Event;
use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// A provider speaking OpenAI's Chat Completions.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    settings: ProviderSettings,
    /// Built once so calls share connections; an error is reported on each call.
    client: Result<reqwest::Client, String>,
    timing: Timing,
}

impl OpenAiProvider {
    /// A provider with these settings.
    pub fn new(settings: ProviderSettings) -> Self {
        Self {
            settings,
            client: transport::http_client(),
            timing: Timing::default(),
        }
    }
}

impl Provider for OpenAiProvider {
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<LlmStream, LlmError>> {
        Box::pin(async move {
            let settings = &self.settings;
            let deadline = Instant::now() + settings.timeout;
            let client = self.client.as_ref().map_err(|error| {
                LlmError::Config(format!("provider `{}`: {error}", settings.name))
            })?;
            let body = bytes::Bytes::from(request_body(&request).to_string());
            let url = format!(
                "{}/chat/completions",
                settings.base_url.trim_end_matches('/')
            );
            let build = || {
                let builder = client
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "text/event-stream")
                    .body(body.clone());
                match &settings.api_key {
                    Some(key) => builder.bearer_auth(key),
                    None => builder,
                }
            };
            let response = transport::send_until(settings, &self.timing, deadline, build).await?;
            let events = transport::read_events(settings, &self.timing, deadline, response).await?;
            Ok(transport::decode(events, Decoder::new(&settings.name)))
        })
    }
}

/// The JSON body of a streamed chat completion.
fn request_body(request: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        messages.push(match message {
            Message::User { content } => json!({"role": "user", "content": content}),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut turn = Map::new();
                turn.insert("role".into(), "assistant".into());
                // `null` content is how OpenAI spells "only tool calls"; a turn with neither
                // still needs a string.
                let content = match content {
                    Some(text) => Value::String(text.clone()),
                    None if tool_calls.is_empty() => Value::String(String::new()),
                    None => Value::Null,
                };
                turn.insert("content".into(), content);
                if !tool_calls.is_empty() {
                    let calls = tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": arguments_text(&call.arguments),
                                },
                            })
                        })
                        .collect();
                    turn.insert("tool_calls".into(), Value::Array(calls));
                }
                Value::Object(turn)
            }
            Message::Tool {
                call_id, content, ..
            } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
        });
    }
    let mut body = Map::new();
    body.insert("model".into(), request.model.clone().into());
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), true.into());
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let optional = [
        ("temperature", request.temperature.map(Value::from)),
        ("top_p", request.top_p.map(Value::from)),
        ("max_tokens", request.max_tokens.map(Value::from)),
        (
            "reasoning_effort",
            request.reasoning_effort.clone().map(Value::from),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body.insert(name.into(), value);
        }
    }
    if let Some(format) = &request.response_format {
        let name = format
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("response");
        let schema = format.get("schema").unwrap_or(format);
        body.insert(
            "response_format".into(),
            json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": true},
            }),
        );
    }
    Value::Object(body)
}

/// Arguments as the JSON text OpenAI expects; arguments kept as a string (text the model
/// streamed that did not parse) go back verbatim, so the model sees what it wrote.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A tool call still arriving.
#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Chat Completions chunks to [`LlmEvent`]s.
#[derive(Debug)]
struct Decoder {
    provider: String,
    /// By the `index` the deltas carry.
    calls: BTreeMap<u64, PartialCall>,
    /// Seen on the choice; sent last, after the usage chunk that follows it.
    finish: Option<FinishReason>,
    /// Whether a tool call was emitted (some servers finish tool calls with `stop`).
    called: bool,
    done: bool,
}

impl Decoder {
    fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            calls: BTreeMap::new(),
            finish: None,
            called: false,
            done: false,
        }
    }

    fn malformed(&self, message: String) -> LlmError {
        LlmError::Malformed {
            provider: self.provider.clone(),
            message,
        }
    }

    /// One choice's delta and finish reason.
    fn choice(&mut self, choice: &Value, out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        if let Some(delta) = choice.get("delta") {
            // vLLM and DeepSeek say `reasoning_content`, OpenRouter and Ollama `reasoning`.
            if let Some(text) =
                text(delta, "reasoning_content").or_else(|| text(delta, "reasoning"))
            {
                out.push(LlmEvent::ReasoningDelta(text.to_string()));
            }
            // A refusal (structured outputs) is the answer the user gets.
            for field in ["content", "refusal"] {
                if let Some(text) = text(delta, field) {
                    out.push(LlmEvent::TextDelta(text.to_string()));
                }
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    self.tool_delta(call);
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            out.extend(self.flush_calls()?);
            self.finish = Some(match reason {
                "stop" => FinishReason::Stop,
                "tool_calls" | "function_call" => FinishReason::ToolCalls,
                "length" => FinishReason::Length,
                other => FinishReason::Other(other.to_string()),
            });
        }
        Ok(())
    }

    /// Adds one fragment of a tool call.
    fn tool_delta(&mut self, call: &Value) {
        let id = text(call, "id");
        let last = self.calls.keys().next_back().copied();
        // Servers that omit `index` start a new call with a new id and continue the last one
        // without.
        let index = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| match (id, last) {
                (Some(id), Some(last))
                    if self.calls.values().any(|c| c.id.as_deref() == Some(id)) =>
                {
                    last
                }
                (Some(_), Some(last)) => last + 1,
                (_, last) => last.unwrap_or(0),
            });
        let partial = self.calls.entry(index).or_default();
        if let Some(id) = id
            && partial.id.is_none()
        {
            partial.id = Some(id.to_string());
        }
        let Some(function) = call.get("function") else {
            return;
        };
        // The name comes whole (some servers repeat it in every fragment).
        if let Some(name) = text(function, "name")
            && partial.name.is_empty()
        {
            partial.name = name.to_string();
        }
        match function.get("arguments") {
            Some(Value::String(piece)) => partial.arguments.push_str(piece),
            // Some servers send the arguments as an object rather than JSON text.
            Some(value @ (Value::Object(_) | Value::Array(_))) => {
                partial.arguments.push_str(&value.to_string())
            }
            _ => {}
        }
    }

    /// The tool calls assembled so far, complete.
    fn flush_calls(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        let calls = std::mem::take(&mut self.calls);
        let mut events = Vec::with_capacity(calls.len());
        for (index, call) in calls {
            if call.name.is_empty() {
                return Err(self.malformed(format!("tool call {index} has no function name")));
            }
            self.called = true;
            events.push(LlmEvent::ToolCall(ToolCallRequest {
                // Some local servers send no id; the host needs one to pair the result.
                id: call
                    .id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("call_{}", uuid::Uuid::new_v4().simple())),
                name: call.name,
                arguments: transport::parse_arguments(&call.arguments),
            }));
        }
        Ok(events)
    }

    /// The end of the answer: pending tool calls, then the finish.
    fn complete(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        let mut events = self.flush_calls()?;
        let finish = match self.finish.take() {
            // Ollama and others finish a tool-calling turn with `stop`.
            Some(FinishReason::Stop) | None if self.called => FinishReason::ToolCalls,
            Some(reason) => reason,
            None => FinishReason::Stop,
        };
        events.push(LlmEvent::Finish(finish));
        Ok(events)
    }
}

impl Decode for Decoder {
    fn event(&mut self, event: &Event) -> Result<Vec<LlmEvent>, LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return self.complete();
        }
        let chunk: Value = serde_json::from_str(data).map_err(|error| {
            self.malformed(format!(
                "a `data:` line is not JSON ({error}): {}",
                transport::clip(data, 200)
            ))
        })?;
        if !chunk.is_object() {
            return Err(self.malformed(format!(
                "a `data:` line is not a JSON object: {}",
                transport::clip(data, 200)
            )));
        }
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(&self.provider, error));
        }
        let mut out = Vec::new();
        if let Some(choices) = chunk.get("choices").and_then(Value::as_array) {
            // One answer was asked for; only choice 0 is ours.
            for choice in choices
                .iter()
                .filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            {
                self.choice(choice, &mut out)?;
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
            out.push(LlmEvent::Usage(Usage {
                input_tokens: count(usage.get("prompt_tokens")),
                output_tokens: count(usage.get("completion_tokens")),
                reasoning_tokens: count(
                    usage.pointer("/completion_tokens_details/reasoning_tokens"),
                ),
            }));
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        if self.done {
            Ok(Vec::new())
        } else if self.finish.is_some() {
            // Some servers end after the finish reason without `[DONE]`.
            self.done = true;
            self.complete()
        } else {
            Err(LlmError::Cut {
                provider: self.provider.clone(),
            })
        }
    }
}

/// A non-empty string field.
fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An error object sent mid-stream (after a 200). Its status is the numeric `code` some
/// servers include (vLLM, OpenRouter), else inferred from the type: the answer failed on the
/// provider's side, so 500 unless it says otherwise.
fn stream_error(provider: &str, error: &Value) -> LlmError {
    let message =
        transport::error_message(&json!({ "error": error })).unwrap_or_else(|| error.to_string());
    let code = error.get("code");
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    let status = code
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c))
        .unwrap_or_else(|| {
            let code = code.and_then(Value::as_str).unwrap_or("");
            if code.contains("rate_limit") || kind.contains("rate_limit") {
                429
            } else if kind == "invalid_request_error" {
                400
            } else {
                500
            }
        });
    LlmError::Status {
        provider: provider.to_string(),
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;
    use crate::llm::providers::ProviderKind;
    use crate::llm::transport::fake::{CutServer, FakeServer, Reply};
    use futures::StreamExt;
    use std::time::Duration;

    /// Plain text, as api.openai.com streams it: a role chunk, content chunks, the finish
    /// chunk, the usage chunk (`stream_options.include_usage`), `[DONE]`.
    const TEXT: &str = concat!(
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Bonjour\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" à\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tous !\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":5,\"total_tokens\":24,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );

    /// Two parallel tool calls, arguments split mid-string across chunks.
    const TOOL_CALLS: &str = concat!(
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_DdmO9pD3xa9XTPNJ32zg2hcA\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}],\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"lo\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"cation\\\": \\\"Pa\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ris, Fr\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ance\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_6fTh0KrYoTiBa1BN3rWNfP2j\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"timez\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"one\\\": \\\"Europe/\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-BKw1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b38e740b47\",\"choices\":[],\"usage\":{\"prompt_tokens\":88,\"completion_tokens\":51,\"total_tokens\":139,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );

    /// Reasoning as vLLM and DeepSeek stream it (`reasoning_content`), one chunk as OpenRouter
    /// does (`reasoning`, after a keep-alive comment), usage in the finish chunk, and `\r\n`
    /// line ends as some servers send.
    const REASONING: &str = concat!(
        "data: {\"id\":\"chatcmpl-7f2a\",\"object\":\"chat.completion.chunk\",\"created\":1738000000,\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"chatcmpl-7f2a\",\"object\":\"chat.completion.chunk\",\"created\":1738000000,\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":\"2 + 2\"},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"chatcmpl-7f2a\",\"object\":\"chat.completion.chunk\",\"created\":1738000000,\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\",\"reasoning\":\" is four.\"},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n",
        ": OPENROUTER PROCESSING\r\n\r\n",
        "data: {\"id\":\"chatcmpl-7f2a\",\"object\":\"chat.completion.chunk\",\"created\":1738000000,\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"4\",\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"chatcmpl-7f2a\",\"object\":\"chat.completion.chunk\",\"created\":1738000000,\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":40,\"total_tokens\":52,\"completion_tokens_details\":{\"reasoning_tokens\":38}}}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    );

    fn settings(url: &str) -> ProviderSettings {
        ProviderSettings {
            name: "openai".into(),
            kind: ProviderKind::Openai,
            base_url: format!("{url}/v1/"),
            api_key: Some("sk-test-123".into()),
            timeout: Duration::from_secs(20),
            max_retries: 2,
        }
    }

    fn fast(settings: ProviderSettings) -> OpenAiProvider {
        OpenAiProvider {
            timing: Timing {
                base_delay: Duration::ZERO,
                ..Timing::default()
            },
            ..OpenAiProvider::new(settings)
        }
    }

    fn hello() -> ChatRequest {
        ChatRequest {
            model: "gpt-4o".into(),
            messages: vec![Message::User {
                content: "Say hello in French".into(),
            }],
            ..ChatRequest::default()
        }
    }

    /// All the events of a call, or the error that ended it (from the future or the stream).
    async fn call(
        provider: &OpenAiProvider,
        request: ChatRequest,
    ) -> (Vec<LlmEvent>, Option<LlmError>) {
        let mut stream = match provider.stream(request).await {
            Ok(stream) => stream,
            Err(error) => return (vec![], Some(error)),
        };
        let mut events = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => events.push(event),
                Err(error) => return (events, Some(error)),
            }
        }
        (events, None)
    }

    #[tokio::test]
    async fn streams_text_usage_and_finish() {
        let server = FakeServer::start(vec![Reply::Stream(TEXT.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(
            events,
            vec![
                LlmEvent::TextDelta("Bonjour".into()),
                LlmEvent::TextDelta(" à".into()),
                LlmEvent::TextDelta(" tous !".into()),
                LlmEvent::Usage(Usage {
                    input_tokens: 19,
                    output_tokens: 5,
                    reasoning_tokens: 0
                }),
                LlmEvent::Finish(FinishReason::Stop),
            ]
        );
        let received = server.received();
        assert_eq!(received[0].method, "POST");
        assert_eq!(received[0].path, "/v1/chat/completions");
        assert_eq!(received[0].headers["authorization"], "Bearer sk-test-123");
    }

    #[tokio::test]
    async fn assembles_several_tool_calls_from_split_arguments() {
        let server = FakeServer::start(vec![Reply::Stream(TOOL_CALLS.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(
            events,
            vec![
                LlmEvent::ToolCall(ToolCallRequest {
                    id: "call_DdmO9pD3xa9XTPNJ32zg2hcA".into(),
                    name: "get_weather".into(),
                    arguments: json!({"location": "Paris, France"}),
                }),
                LlmEvent::ToolCall(ToolCallRequest {
                    id: "call_6fTh0KrYoTiBa1BN3rWNfP2j".into(),
                    name: "get_time".into(),
                    arguments: json!({"timezone": "Europe/Paris"}),
                }),
                LlmEvent::Usage(Usage {
                    input_tokens: 88,
                    output_tokens: 51,
                    reasoning_tokens: 0
                }),
                LlmEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[tokio::test]
    async fn streams_reasoning_and_counts_reasoning_tokens() {
        let server = FakeServer::start(vec![Reply::Stream(REASONING.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(
            events,
            vec![
                LlmEvent::ReasoningDelta("2 + 2".into()),
                LlmEvent::ReasoningDelta(" is four.".into()),
                LlmEvent::TextDelta("4".into()),
                LlmEvent::Usage(Usage {
                    input_tokens: 12,
                    output_tokens: 40,
                    reasoning_tokens: 38
                }),
                LlmEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    #[tokio::test]
    async fn sends_the_conversation_tools_and_response_format() {
        let server = FakeServer::start(vec![Reply::Stream(TEXT.into())]).await;
        let request = ChatRequest {
            model: "gpt-4o".into(),
            system: Some("You are terse.".into()),
            messages: vec![
                Message::User {
                    content: "Weather in Paris?".into(),
                },
                Message::Assistant {
                    content: None,
                    tool_calls: vec![
                        ToolCallRequest {
                            id: "call_1".into(),
                            name: "get_weather".into(),
                            arguments: json!({"location": "Paris"}),
                        },
                        ToolCallRequest {
                            id: "call_2".into(),
                            name: "get_time".into(),
                            arguments: json!("{\"tz\": "),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "call_1".into(),
                    name: "get_weather".into(),
                    content: "{\"celsius\":18}".into(),
                    is_error: false,
                },
                Message::Tool {
                    call_id: "call_2".into(),
                    name: "get_time".into(),
                    content: "arguments are not valid JSON".into(),
                    is_error: true,
                },
            ],
            tools: vec![ToolSpec {
                name: "get_weather".into(),
                description: "Current weather".into(),
                input_schema: json!({"type": "object", "properties": {"location": {"type": "string"}}}),
            }],
            temperature: Some(0.2),
            top_p: Some(0.9),
            max_tokens: Some(300),
            reasoning_effort: Some("low".into()),
            response_format: Some(json!({"name": "weather", "schema": {"type": "object"}})),
            script: None,
        };
        let (_, error) = call(&fast(settings(&server.url)), request).await;
        assert_eq!(error, None);
        let body = &server.received()[0].body;
        assert_eq!(
            body,
            &json!({
                "model": "gpt-4o",
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": "}},
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{\"celsius\":18}"},
                    {"role": "tool", "tool_call_id": "call_2", "content": "arguments are not valid JSON"},
                ],
                "tools": [{"type": "function", "function": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                }}],
                "temperature": 0.2,
                "top_p": 0.9,
                "max_tokens": 300,
                "reasoning_effort": "low",
                "response_format": {"type": "json_schema", "json_schema": {
                    "name": "weather", "schema": {"type": "object"}, "strict": true,
                }},
            })
        );
        // Nothing optional is sent when unset, and no key means no Authorization header.
        let server = FakeServer::start(vec![Reply::Stream(TEXT.into())]).await;
        let mut keyless = settings(&server.url);
        keyless.api_key = None;
        let (_, error) = call(&fast(keyless), hello()).await;
        assert_eq!(error, None);
        let received = &server.received()[0];
        assert!(!received.headers.contains_key("authorization"));
        let keys: Vec<_> = received.body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }

    #[tokio::test]
    async fn a_refused_key_is_an_auth_error() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-test-123. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let server = FakeServer::start(vec![Reply::Status(401, vec![], body.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        match error {
            Some(LlmError::Auth {
                status: 401,
                message,
                ..
            }) => assert!(message.starts_with("Incorrect API key provided")),
            other => panic!("{other:?}"),
        }
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn a_rate_limit_is_retried_then_succeeds() {
        let body = r#"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let server = FakeServer::start(vec![
            Reply::Status(429, vec![("retry-after", "0".into())], body.into()),
            Reply::Stream(TEXT.into()),
        ])
        .await;
        // The real constructor and timing: `Retry-After: 0` means no wait.
        let (events, error) = call(&OpenAiProvider::new(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(events.last(), Some(&LlmEvent::Finish(FinishReason::Stop)));
        assert_eq!(server.received().len(), 2);
    }

    #[tokio::test]
    async fn a_lasting_rate_limit_ends_as_rate_limited() {
        let body = r#"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let server = FakeServer::start(vec![Reply::Status(
            429,
            vec![("retry-after", "0".into())],
            body.into(),
        )])
        .await;
        let (_, error) = call(&OpenAiProvider::new(settings(&server.url)), hello()).await;
        assert_eq!(
            error,
            Some(LlmError::RateLimited {
                provider: "openai".into(),
                message: "Rate limit reached for gpt-4o".into()
            })
        );
        assert_eq!(server.received().len(), 3);
    }

    #[tokio::test]
    async fn a_server_error_is_a_status_error() {
        let body = r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#;
        let server = FakeServer::start(vec![Reply::Status(500, vec![], body.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert!(
            matches!(error, Some(LlmError::Status { status: 500, ref message, .. }) if message.starts_with("The server had an error")),
            "{error:?}"
        );
        assert_eq!(server.received().len(), 3);
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_error_after_the_text_so_far() {
        let half = &TEXT[..TEXT.find("\"finish_reason\":\"stop\"").unwrap()];
        let half = &half[..half.rfind("data:").unwrap()];
        // The connection drops mid-body...
        let server = CutServer::start(format!("{half}data: {{\"id\":")).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(events.len(), 3);
        assert_eq!(
            error,
            Some(LlmError::Cut {
                provider: "openai".into()
            })
        );
        // ...or the body ends cleanly without a finish reason or `[DONE]`.
        let server = FakeServer::start(vec![Reply::Stream(half.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(events.len(), 3);
        assert!(matches!(error, Some(LlmError::Cut { .. })));
    }

    #[tokio::test]
    async fn a_finish_without_done_is_complete() {
        let without_done = TEXT.replace("data: [DONE]\n\n", "");
        let server = FakeServer::start(vec![Reply::Stream(without_done)]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(events.last(), Some(&LlmEvent::Finish(FinishReason::Stop)));
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_is_malformed() {
        let stream = format!(
            "{}data: {{\"choices\": [{{\"delta\n\n",
            &TEXT[..TEXT.find("data:").unwrap()]
        );
        let server = FakeServer::start(vec![Reply::Stream(stream)]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert!(
            matches!(error, Some(LlmError::Malformed { ref message, .. }) if message.contains("not JSON")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_error_object_mid_stream_is_reported() {
        let stream = concat!(
            "data: {\"id\":\"gen-1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"openai/gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"gen-1\",\"object\":\"chat.completion.chunk\",\"created\":1744206561,\"model\":\"openai/gpt-4o\",\"error\":{\"code\":502,\"message\":\"Provider returned error\"},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
        );
        let server = FakeServer::start(vec![Reply::Stream(stream.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(events, vec![LlmEvent::TextDelta("Hel".into())]);
        assert_eq!(
            error,
            Some(LlmError::Status {
                provider: "openai".into(),
                status: 502,
                message: "Provider returned error".into()
            })
        );
        // A JSON answer where a stream was asked for.
        let body =
            r#"{"error":{"message":"stream is not supported","type":"invalid_request_error"}}"#;
        let server = FakeServer::start(vec![Reply::Status(200, vec![], body.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert!(
            matches!(error, Some(LlmError::Malformed { ref message, .. }) if message.contains("stream is not supported")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let server = FakeServer::start(vec![Reply::Never]).await;
        let mut settings = settings(&server.url);
        settings.timeout = Duration::from_millis(200);
        let (_, error) = call(&fast(settings), hello()).await;
        assert_eq!(
            error,
            Some(LlmError::Timeout {
                provider: "openai".into(),
                seconds: 1
            })
        );
    }

    #[tokio::test]
    async fn a_stalled_stream_hits_the_idle_limit() {
        let half = &TEXT[..TEXT.find("\"finish_reason\":\"stop\"").unwrap()];
        let half = &half[..half.rfind("data:").unwrap()];
        let server = FakeServer::start(vec![Reply::Stall(half.into())]).await;
        let provider = OpenAiProvider {
            timing: Timing {
                idle_timeout: Duration::from_millis(150),
                ..Timing::default()
            },
            ..OpenAiProvider::new(settings(&server.url))
        };
        let (events, error) = call(&provider, hello()).await;
        assert_eq!(events.len(), 3);
        assert!(
            matches!(error, Some(LlmError::Timeout { seconds: 1, .. })),
            "{error:?}"
        );
    }

    #[test]
    fn tool_calls_without_index_or_id_and_unparseable_arguments() {
        // As some local servers send them: no `index`, a missing id, arguments as an object,
        // a tool-calling turn finished with `stop`.
        let mut decoder = Decoder::new("ollama");
        let mut events = Vec::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","function":{"name":"one","arguments":"{\"x\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","function":{"name":"two","arguments":"{oops"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"name":"three","arguments":{"y":2}}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ] {
            let event = Event {
                data: data.into(),
                ..Event::default()
            };
            events.extend(decoder.event(&event).unwrap());
        }
        events.extend(decoder.end().unwrap());
        let calls: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                LlmEvent::ToolCall(call) => Some(call.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 3);
        assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("a", "one"));
        assert_eq!(calls[0].arguments, json!({"x": 1}));
        assert_eq!((calls[1].id.as_str(), calls[1].name.as_str()), ("b", "two"));
        assert_eq!(calls[1].arguments, json!("{oops"));
        assert!(calls[2].id.starts_with("call_"));
        assert_eq!(calls[2].arguments, json!({"y": 2}));
        assert_eq!(
            events.last(),
            Some(&LlmEvent::Finish(FinishReason::ToolCalls))
        );
    }
}

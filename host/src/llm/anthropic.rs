//! The Anthropic Messages API: one streamed `POST {base_url}/v1/messages` per model call.
//!
//! The answer streams as content blocks (text, thinking, tool use), each opened, filled by
//! deltas and closed; a tool call's input arrives as pieces of JSON text and is emitted whole
//! when its block closes. `message_start` carries the input tokens, `message_delta` the stop
//! reason and output tokens, `message_stop` ends the answer.
//!
//! Tool results travel in user messages as `tool_result` blocks, so consecutive results (and
//! any user text after them) merge into one user message.
//!
//! Thinking (from `reasoning_effort`) is requested only at the start of an assistant turn:
//! mid-turn, after tool results, Anthropic requires the turn's signed thinking blocks back
//! verbatim, and the provider-neutral [`Message`] does not keep them.

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

/// The API version this wire format is.
const API_VERSION: &str = "2023-06-01";

/// Output tokens when the agent sets none (Anthropic requires `max_tokens`).
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A provider speaking Anthropic's Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    settings: ProviderSettings,
    /// Built once so calls share connections; an error is reported on each call.
    client: Result<reqwest::Client, String>,
    timing: Timing,
}

impl AnthropicProvider {
    /// A provider with these settings.
    pub fn new(settings: ProviderSettings) -> Self {
        Self {
            settings,
            client: transport::http_client(),
            timing: Timing::default(),
        }
    }
}

impl Provider for AnthropicProvider {
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<LlmStream, LlmError>> {
        Box::pin(async move {
            let settings = &self.settings;
            let deadline = Instant::now() + settings.timeout;
            let client = self.client.as_ref().map_err(|error| {
                LlmError::Config(format!("provider `{}`: {error}", settings.name))
            })?;
            let body = bytes::Bytes::from(request_body(&request).to_string());
            let url = format!("{}/v1/messages", settings.base_url.trim_end_matches('/'));
            let build = || {
                let builder = client
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "text/event-stream")
                    .header("anthropic-version", API_VERSION)
                    .body(body.clone());
                match &settings.api_key {
                    Some(key) => builder.header("x-api-key", key),
                    None => builder,
                }
            };
            let response = transport::send_until(settings, &self.timing, deadline, build).await?;
            let events = transport::read_events(settings, &self.timing, deadline, response).await?;
            Ok(transport::decode(events, Decoder::new(&settings.name)))
        })
    }
}

/// The thinking budget for an effort, when thinking may be requested (see the module doc).
fn thinking_budget(request: &ChatRequest) -> Option<u32> {
    let budget = match request.reasoning_effort.as_deref()? {
        "minimal" => 1024,
        "low" => 2048,
        "high" => 16384,
        // "medium", and anything newer the settings may allow.
        _ => 8192,
    };
    let mid_turn = matches!(request.messages.last(), Some(Message::Tool { .. }));
    (!mid_turn).then_some(budget)
}

/// The JSON body of a streamed message.
fn request_body(request: &ChatRequest) -> Value {
    let budget = thinking_budget(request);
    let answer_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    // The thinking budget counts towards `max_tokens` and must be below it: the answer keeps
    // its own allowance on top.
    let max_tokens = budget.map_or(answer_tokens, |b| b.saturating_add(answer_tokens));
    let mut body = Map::new();
    body.insert("model".into(), request.model.clone().into());
    body.insert("max_tokens".into(), max_tokens.into());
    body.insert("stream".into(), true.into());
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert("system".into(), system.into());
    }
    body.insert("messages".into(), Value::Array(messages(&request.messages)));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    match budget {
        Some(budget) => {
            // Thinking rejects a changed temperature, and top_p outside [0.95, 1]: both are
            // left to the API's defaults.
            body.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
        None => {
            if let Some(temperature) = request.temperature {
                body.insert("temperature".into(), temperature.into());
            }
            // Recent models reject temperature and top_p together; temperature wins.
            if let Some(top_p) = request.top_p
                && request.temperature.is_none()
            {
                body.insert("top_p".into(), top_p.into());
            }
        }
    }
    Value::Object(body)
}

/// The conversation as Anthropic messages: content blocks, consecutive same-role messages
/// merged (tool results must share one user message).
fn messages(conversation: &[Message]) -> Vec<Value> {
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in conversation {
        let (role, blocks) = match message {
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                // Empty text blocks are rejected.
                if let Some(text) = content.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in tool_calls {
                    // `input` must be an object; arguments kept as unparseable text were
                    // already reported to the model as an error, so they go back empty.
                    let input = if call.arguments.is_object() {
                        call.arguments.clone()
                    } else {
                        json!({})
                    };
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": input,
                    }));
                }
                ("assistant", blocks)
            }
            Message::Tool {
                call_id,
                content,
                is_error,
                ..
            } => {
                let mut block = Map::new();
                block.insert("type".into(), "tool_result".into());
                block.insert("tool_use_id".into(), call_id.as_str().into());
                // `content` is optional; an empty one is left out rather than risk a 400.
                if !content.is_empty() {
                    block.insert("content".into(), content.as_str().into());
                }
                block.insert("is_error".into(), (*is_error).into());
                ("user", vec![Value::Object(block)])
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, content)| {
            // A lone text block is sent as a plain string, the common form.
            match content.as_slice() {
                [block] if block["type"] == "text" => {
                    json!({"role": role, "content": block["text"]})
                }
                _ => json!({"role": role, "content": content}),
            }
        })
        .collect()
}

/// A content block still streaming.
#[derive(Debug)]
enum Block {
    /// A tool call: its input's JSON text so far (or the input `content_block_start` gave).
    ToolUse {
        id: String,
        name: String,
        json: String,
        start_input: Value,
    },
    /// Text, thinking, or a block type this provider does not pass on.
    Other,
}

/// Messages API events to [`LlmEvent`]s.
#[derive(Debug)]
struct Decoder {
    provider: String,
    /// By block index.
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop: Option<FinishReason>,
    done: bool,
}

impl Decoder {
    fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            blocks: BTreeMap::new(),
            usage: Usage::default(),
            stop: None,
            done: false,
        }
    }

    fn malformed(&self, message: String) -> LlmError {
        LlmError::Malformed {
            provider: self.provider.clone(),
            message,
        }
    }

    /// The complete call of a closed tool-use block.
    fn tool_call(block: Block) -> Option<LlmEvent> {
        let Block::ToolUse {
            id,
            name,
            json,
            start_input,
        } = block
        else {
            return None;
        };
        let arguments = if json.trim().is_empty() && start_input.is_object() {
            start_input
        } else {
            transport::parse_arguments(&json)
        };
        Some(LlmEvent::ToolCall(ToolCallRequest {
            id,
            name,
            arguments,
        }))
    }

    /// Input tokens, cache reads and writes included (Anthropic counts them apart).
    fn input_tokens(usage: &Value) -> Option<u64> {
        let count = |field: &str| usage.get(field).and_then(Value::as_u64);
        let input = count("input_tokens")?;
        Some(
            input
                + count("cache_creation_input_tokens").unwrap_or(0)
                + count("cache_read_input_tokens").unwrap_or(0),
        )
    }
}

impl Decode for Decoder {
    fn event(&mut self, event: &Event) -> Result<Vec<LlmEvent>, LlmError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            self.malformed(format!(
                "an event's data is not JSON ({error}): {}",
                transport::clip(&event.data, 200)
            ))
        })?;
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event.event);
        let index = data.get("index").and_then(Value::as_u64);
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                if let Some(usage) = data.pointer("/message/usage") {
                    self.usage.input_tokens = Self::input_tokens(usage).unwrap_or(0);
                    self.usage.output_tokens = usage
                        .get("output_tokens")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                }
            }
            "content_block_start" => {
                let index = index.ok_or_else(|| self.malformed("a block without index".into()))?;
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let text = |field: &str| {
                    block
                        .get(field)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                };
                let entry = match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let (Some(id), Some(name)) = (text("id"), text("name")) else {
                            return Err(
                                self.malformed(format!("tool_use block {index} has no id or name"))
                            );
                        };
                        Block::ToolUse {
                            id,
                            name,
                            json: String::new(),
                            start_input: block.get("input").cloned().unwrap_or(Value::Null),
                        }
                    }
                    Some("text") => {
                        out.extend(text("text").map(LlmEvent::TextDelta));
                        Block::Other
                    }
                    Some("thinking") => {
                        out.extend(text("thinking").map(LlmEvent::ReasoningDelta));
                        Block::Other
                    }
                    // redacted_thinking, server tool blocks...: nothing to pass on.
                    _ => Block::Other,
                };
                self.blocks.insert(index, entry);
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let text = |field: &str| {
                    delta
                        .get(field)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                };
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => out.extend(text("text").map(LlmEvent::TextDelta)),
                    Some("thinking_delta") => {
                        out.extend(text("thinking").map(LlmEvent::ReasoningDelta))
                    }
                    Some("input_json_delta") => {
                        let block = index.and_then(|i| self.blocks.get_mut(&i));
                        match block {
                            Some(Block::ToolUse { json, .. }) => {
                                json.push_str(
                                    delta
                                        .get("partial_json")
                                        .and_then(Value::as_str)
                                        .unwrap_or(""),
                                );
                            }
                            _ => {
                                return Err(self.malformed(format!(
                                    "input_json_delta for block {index:?}, which is not an open tool_use block"
                                )));
                            }
                        }
                    }
                    // signature_delta, citations_delta...
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(block) = index.and_then(|i| self.blocks.remove(&i)) {
                    out.extend(Self::tool_call(block));
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(match reason {
                        "end_turn" | "stop_sequence" => FinishReason::Stop,
                        "tool_use" => FinishReason::ToolCalls,
                        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
                        other => FinishReason::Other(other.to_string()),
                    });
                }
                if let Some(usage) = data.get("usage") {
                    // Output tokens are cumulative; input tokens are repeated by newer API
                    // versions (and then include server-side tool use).
                    if let Some(output) = usage.get("output_tokens").and_then(Value::as_u64) {
                        self.usage.output_tokens = output;
                    }
                    if let Some(input) = Self::input_tokens(usage) {
                        self.usage.input_tokens = input;
                    }
                }
                out.push(LlmEvent::Usage(self.usage));
            }
            "message_stop" => {
                self.done = true;
                // Blocks never closed still owe their calls.
                for block in std::mem::take(&mut self.blocks).into_values() {
                    out.extend(Self::tool_call(block));
                }
                out.push(LlmEvent::Finish(
                    self.stop.take().unwrap_or(FinishReason::Stop),
                ));
            }
            "error" => {
                return Err(stream_error(
                    &self.provider,
                    data.get("error").unwrap_or(&data),
                ));
            }
            // ping, and event types added later (the API says to ignore them).
            _ => {}
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(LlmError::Cut {
                provider: self.provider.clone(),
            })
        }
    }
}

/// An `error` event (sent after a 200, so its status is the one its type stands for).
fn stream_error(provider: &str, error: &Value) -> LlmError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let status = match error.get("type").and_then(Value::as_str).unwrap_or("") {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
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

    /// Text, as api.anthropic.com streams it (with a ping and cache token counts).
    const TEXT: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100,\"output_tokens\":2,\"service_tier\":\"standard\"}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" à tous !\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    /// Thinking (with its signature), text, then two tool calls whose inputs arrive split
    /// mid-string.
    const THINKING_AND_TOOLS: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1024,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"The user wants weather\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\" and time in Paris.\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check.\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"Pa\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ris, Fr\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ance\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01QnBqUVvSEf2SJBCjaXnqeB\",\"name\":\"get_time\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"timezone\\\": \\\"Eur\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ope/Paris\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":189}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn settings(url: &str) -> ProviderSettings {
        ProviderSettings {
            name: "anthropic".into(),
            kind: ProviderKind::Anthropic,
            base_url: url.into(),
            api_key: Some("sk-ant-test".into()),
            timeout: Duration::from_secs(20),
            max_retries: 2,
        }
    }

    fn fast(settings: ProviderSettings) -> AnthropicProvider {
        AnthropicProvider {
            timing: Timing {
                base_delay: Duration::ZERO,
                ..Timing::default()
            },
            ..AnthropicProvider::new(settings)
        }
    }

    fn hello() -> ChatRequest {
        ChatRequest {
            model: "claude-sonnet-4-5".into(),
            messages: vec![Message::User {
                content: "Say hello in French".into(),
            }],
            ..ChatRequest::default()
        }
    }

    /// All the events of a call, or the error that ended it (from the future or the stream).
    async fn call(
        provider: &AnthropicProvider,
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
                LlmEvent::TextDelta(" à tous !".into()),
                LlmEvent::Usage(Usage {
                    input_tokens: 572,
                    output_tokens: 15,
                    reasoning_tokens: 0
                }),
                LlmEvent::Finish(FinishReason::Stop),
            ]
        );
        let received = &server.received()[0];
        assert_eq!(received.path, "/v1/messages");
        assert_eq!(received.headers["x-api-key"], "sk-ant-test");
        assert_eq!(received.headers["anthropic-version"], "2023-06-01");
        assert!(!received.headers.contains_key("authorization"));
        assert_eq!(
            received.body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 4096,
                "stream": true,
                "messages": [{"role": "user", "content": "Say hello in French"}],
            })
        );
    }

    #[tokio::test]
    async fn streams_thinking_and_several_tool_calls_with_split_input() {
        let server = FakeServer::start(vec![Reply::Stream(THINKING_AND_TOOLS.into())]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(
            events,
            vec![
                LlmEvent::ReasoningDelta("The user wants weather".into()),
                LlmEvent::ReasoningDelta(" and time in Paris.".into()),
                LlmEvent::TextDelta("Let me check.".into()),
                LlmEvent::ToolCall(ToolCallRequest {
                    id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                    name: "get_weather".into(),
                    arguments: json!({"location": "Paris, France"}),
                }),
                LlmEvent::ToolCall(ToolCallRequest {
                    id: "toolu_01QnBqUVvSEf2SJBCjaXnqeB".into(),
                    name: "get_time".into(),
                    arguments: json!({"timezone": "Europe/Paris"}),
                }),
                LlmEvent::Usage(Usage {
                    input_tokens: 1024,
                    output_tokens: 189,
                    reasoning_tokens: 0
                }),
                LlmEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[tokio::test]
    async fn sends_tools_merged_tool_results_and_thinking() {
        let server = FakeServer::start(vec![Reply::Stream(TEXT.into())]).await;
        let mut request = ChatRequest {
            model: "claude-sonnet-4-5".into(),
            system: Some("You are terse.".into()),
            messages: vec![
                Message::User {
                    content: "Weather and time in Paris?".into(),
                },
                Message::Assistant {
                    content: Some("Let me check.".into()),
                    tool_calls: vec![
                        ToolCallRequest {
                            id: "toolu_1".into(),
                            name: "get_weather".into(),
                            arguments: json!({"location": "Paris"}),
                        },
                        ToolCallRequest {
                            id: "toolu_2".into(),
                            name: "get_time".into(),
                            arguments: json!("{\"tz\": "),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "toolu_1".into(),
                    name: "get_weather".into(),
                    content: "{\"celsius\":18}".into(),
                    is_error: false,
                },
                Message::Tool {
                    call_id: "toolu_2".into(),
                    name: "get_time".into(),
                    content: "arguments are not valid JSON".into(),
                    is_error: true,
                },
                Message::Assistant {
                    content: Some("18 °C; the time tool failed.".into()),
                    tool_calls: vec![],
                },
                Message::User {
                    content: "Thanks. Tomorrow?".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "get_weather".into(),
                description: "Current weather".into(),
                input_schema: json!({"type": "object", "properties": {"location": {"type": "string"}}}),
            }],
            temperature: Some(0.2),
            max_tokens: Some(1000),
            reasoning_effort: Some("low".into()),
            ..ChatRequest::default()
        };
        let (_, error) = call(&fast(settings(&server.url)), request.clone()).await;
        assert_eq!(error, None);
        assert_eq!(
            server.received()[0].body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 3048,
                "stream": true,
                "system": "You are terse.",
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "messages": [
                    {"role": "user", "content": "Weather and time in Paris?"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
                        {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"celsius\":18}", "is_error": false},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "arguments are not valid JSON", "is_error": true},
                    ]},
                    {"role": "assistant", "content": "18 °C; the time tool failed."},
                    {"role": "user", "content": "Thanks. Tomorrow?"},
                ],
                "tools": [{
                    "name": "get_weather",
                    "description": "Current weather",
                    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
                }],
            })
        );
        // Mid-turn (the conversation ends with tool results): no thinking, sampling as set.
        request.messages.truncate(4);
        let server = FakeServer::start(vec![Reply::Stream(TEXT.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), request).await;
        assert_eq!(error, None);
        let body = &server.received()[0].body;
        assert_eq!(body.get("thinking"), None);
        assert_eq!(body["temperature"], json!(0.2));
        assert_eq!(body["max_tokens"], json!(1000));
    }

    #[tokio::test]
    async fn a_refused_key_is_an_auth_error() {
        let body = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#;
        let server = FakeServer::start(vec![Reply::Status(401, vec![], body.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(
            error,
            Some(LlmError::Auth {
                provider: "anthropic".into(),
                status: 401,
                message: "invalid x-api-key".into()
            })
        );
    }

    #[tokio::test]
    async fn rate_limits_are_retried_then_reported() {
        let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50 requests per minute."}}"#;
        let limited = Reply::Status(429, vec![("retry-after", "0".into())], body.into());
        let server = FakeServer::start(vec![limited.clone(), Reply::Stream(TEXT.into())]).await;
        let (events, error) = call(&AnthropicProvider::new(settings(&server.url)), hello()).await;
        assert_eq!(error, None);
        assert_eq!(events.last(), Some(&LlmEvent::Finish(FinishReason::Stop)));
        assert_eq!(server.received().len(), 2);

        let server = FakeServer::start(vec![limited]).await;
        let (_, error) = call(&AnthropicProvider::new(settings(&server.url)), hello()).await;
        assert!(
            matches!(error, Some(LlmError::RateLimited { ref message, .. }) if message.starts_with("This request would exceed")),
            "{error:?}"
        );
        assert_eq!(server.received().len(), 3);
    }

    #[tokio::test]
    async fn overload_is_a_status_error_and_an_error_event_too() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let server = FakeServer::start(vec![Reply::Status(529, vec![], body.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(
            error,
            Some(LlmError::Status {
                provider: "anthropic".into(),
                status: 529,
                message: "Overloaded".into()
            })
        );
        assert_eq!(server.received().len(), 3);

        let start = &TEXT[..TEXT.find("event: content_block_stop").unwrap()];
        let stream = format!(
            "{start}event: error\ndata: {{\"type\": \"error\", \"error\": {{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}}}\n\n"
        );
        let server = FakeServer::start(vec![Reply::Stream(stream)]).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(events.len(), 2);
        assert!(matches!(error, Some(LlmError::Status { status: 529, .. })));
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_error() {
        let start = &TEXT[..TEXT.find("event: message_delta").unwrap()];
        let server = CutServer::start(format!("{start}event: message_delta\ndata: {{\"ty")).await;
        let (events, error) = call(&fast(settings(&server.url)), hello()).await;
        assert_eq!(events.len(), 2);
        assert_eq!(
            error,
            Some(LlmError::Cut {
                provider: "anthropic".into()
            })
        );
        // A clean end before `message_stop` is cut too.
        let server = FakeServer::start(vec![Reply::Stream(start.into())]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert!(matches!(error, Some(LlmError::Cut { .. })));
    }

    #[tokio::test]
    async fn data_that_is_not_json_is_malformed() {
        let start = &TEXT[..TEXT.find("event: content_block_start").unwrap()];
        let stream =
            format!("{start}event: content_block_start\ndata: {{\"type\":\"content_bl\n\n");
        let server = FakeServer::start(vec![Reply::Stream(stream)]).await;
        let (_, error) = call(&fast(settings(&server.url)), hello()).await;
        assert!(
            matches!(error, Some(LlmError::Malformed { ref message, .. }) if message.contains("not JSON")),
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
                provider: "anthropic".into(),
                seconds: 1
            })
        );
    }

    #[tokio::test]
    async fn a_stream_that_stalls_past_the_deadline_times_out() {
        let start = &TEXT[..TEXT.find("event: content_block_stop").unwrap()];
        let server = FakeServer::start(vec![Reply::Stall(start.into())]).await;
        let mut settings = settings(&server.url);
        settings.timeout = Duration::from_millis(300);
        let (events, error) = call(&fast(settings), hello()).await;
        assert_eq!(events.len(), 2);
        assert!(
            matches!(error, Some(LlmError::Timeout { seconds: 1, .. })),
            "{error:?}"
        );
    }
}

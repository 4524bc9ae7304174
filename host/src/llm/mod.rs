//! LLM providers behind one streaming trait: OpenAI-compatible Chat Completions (OpenAI,
//! Ollama, vLLM, llama.cpp, LM Studio, OpenRouter...), the Anthropic Messages API, and
//! `scripted`, a deterministic replay for tests and offline demos.
//!
//! Every provider turns its wire format into the same [`LlmEvent`] stream: text and reasoning
//! deltas as they arrive, then each tool call once complete (providers assemble the argument
//! deltas), usage, and the finish reason. Failures are typed [`LlmError`]s that end a run with
//! a clear message; nothing here panics on a malformed or cut stream.
//!
//! # Layout
//! [`openai`], [`anthropic`], [`scripted`]: the providers; [`transport`]: how provider calls go
//! over HTTP (bounded retries honouring `Retry-After`, deadlines, event-stream reading); [`providers`]: which provider serves an agent's `model`.

pub mod anthropic;
pub mod openai;
pub mod providers;
pub mod scripted;
pub mod transport;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message of a conversation, in the provider-neutral shape the engine keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// The user's turn.
    User {
        /// Text.
        content: String,
    },
    /// The model's turn: text, tool calls, or both.
    Assistant {
        /// Text, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// Tool calls, in the order the model made them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCallRequest>,
    },
    /// A tool's answer to one call.
    Tool {
        /// The call answered.
        call_id: String,
        /// The tool.
        name: String,
        /// The result (JSON text) or the error message.
        content: String,
        /// Whether it is an error.
        #[serde(default)]
        is_error: bool,
    },
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    /// The provider's call id (unique within the conversation).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments object (providers parse the streamed JSON text; unparseable text is kept
    /// as a string so the boundary reports it to the model).
    pub arguments: Value,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// Name.
    pub name: String,
    /// What the model reads.
    pub description: String,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
}

/// One model call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// The model name as the provider knows it (`gpt-4o`, not `openai/gpt-4o`).
    pub model: String,
    /// System prompt.
    pub system: Option<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools offered (empty: none).
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Most output tokens.
    pub max_tokens: Option<u32>,
    /// `minimal | low | medium | high`, for reasoning models.
    pub reasoning_effort: Option<String>,
    /// Structured output: `{"name": ..., "schema": {...}}` (a JSON Schema the answer must match).
    pub response_format: Option<Value>,
    /// The agent's `settings.script` (only the `scripted` provider reads it).
    pub script: Option<Vec<crate::agent_settings::ScriptTurn>>,
}

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Of which reasoning, when the provider says.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Adds another call's usage.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A final answer.
    Stop,
    /// It asked for tools.
    ToolCalls,
    /// It hit the token limit.
    Length,
    /// Anything else the provider said.
    Other(String),
}

/// What a provider streams.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// More answer text.
    TextDelta(String),
    /// More reasoning (thinking) text.
    ReasoningDelta(String),
    /// A complete tool call.
    ToolCall(ToolCallRequest),
    /// Token usage (may come more than once; the last one wins).
    Usage(Usage),
    /// The end of the answer.
    Finish(FinishReason),
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No provider serves the model, or it is not configured.
    #[error("{0}")]
    Config(String),
    /// The provider refused the key (401/403).
    #[error("the {provider} provider refused the API key ({status}): {message}")]
    Auth {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// Still rate-limited after the retries.
    #[error("the {provider} provider is rate limiting (429) and retries ran out: {message}")]
    RateLimited {
        /// Provider name.
        provider: String,
        /// What it said.
        message: String,
    },
    /// The provider answered with another error status.
    #[error("the {provider} provider answered {status}: {message}")]
    Status {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// No answer in time.
    #[error("the {provider} provider did not answer in time ({seconds} s)")]
    Timeout {
        /// Provider name.
        provider: String,
        /// The limit.
        seconds: u64,
    },
    /// The connection failed.
    #[error("could not reach the {provider} provider: {message}")]
    Connect {
        /// Provider name.
        provider: String,
        /// Why.
        message: String,
    },
    /// The stream did not follow the provider's format.
    #[error("the {provider} provider sent a malformed stream: {message}")]
    Malformed {
        /// Provider name.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The stream ended before the answer did.
    #[error("the {provider} provider's stream ended before the answer was complete")]
    Cut {
        /// Provider name.
        provider: String,
    },
}

/// A stream of events from one model call.
pub type LlmStream = BoxStream<'static, Result<LlmEvent, LlmError>>;

/// A model provider.
pub trait Provider: Send + Sync {
    /// Starts one model call and streams its events. Errors before the first event (auth,
    /// rate limits after retries, connection) come from the future; errors mid-stream come
    /// as stream items.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<LlmStream, LlmError>>;
}

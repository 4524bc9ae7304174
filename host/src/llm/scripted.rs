//! The `scripted` provider: a deterministic model for tests and offline demos, exactly that.
//!
//! The script is the agent's `settings.script`, a list of turns, each `{"text": "..."}` or
//! `{"tool_calls": [{"name", "arguments"}]}`. One turn per model call, in order: the turn
//! used is the number of assistant messages already in the conversation, so a run resumed
//! after an approval (or a later run of the same session) goes on where it stopped. After
//! the last turn it answers with the last text turn. Text is streamed word by word so
//! clients see real `chunk` events.

use super::{
    ChatRequest, FinishReason, LlmError, LlmEvent, LlmStream, Message, Provider, ToolCallRequest,
    Usage,
};
use crate::agent_settings::ScriptTurn;
use futures::future::BoxFuture;

/// The scripted model.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptedProvider;

impl Provider for ScriptedProvider {
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<LlmStream, LlmError>> {
        Box::pin(async move {
            let events = script_events(&request)?;
            let stream: LlmStream = Box::pin(futures::stream::iter(events.into_iter().map(Ok)));
            Ok(stream)
        })
    }
}

/// The events of the turn this request gets.
fn script_events(request: &ChatRequest) -> Result<Vec<LlmEvent>, LlmError> {
    let script = request.script.as_deref().unwrap_or_default();
    if script.is_empty() {
        return Err(LlmError::Config(
            "the `scripted` model needs `settings.script`: a list of turns, each {\"text\": ...} or {\"tool_calls\": [{\"name\", \"arguments\"}]}".into(),
        ));
    }
    let answered = request
        .messages
        .iter()
        .filter(|m| matches!(m, Message::Assistant { .. }))
        .count();
    let turn = script.get(answered).cloned().unwrap_or_else(|| {
        let last_text = script
            .iter()
            .rev()
            .find_map(|t| match t {
                ScriptTurn::Text { text } => Some(text.clone()),
                ScriptTurn::ToolCalls { .. } => None,
            })
            .unwrap_or_default();
        ScriptTurn::Text { text: last_text }
    });
    let input_tokens = request
        .messages
        .iter()
        .map(|m| match m {
            Message::User { content } | Message::Tool { content, .. } => content.len(),
            Message::Assistant { content, .. } => content.as_deref().map_or(0, str::len),
        })
        .sum::<usize>() as u64
        / 4
        + 1;
    let mut events = Vec::new();
    let finish = match turn {
        ScriptTurn::Text { text } => {
            let mut output = 0;
            for word in text.split_inclusive(' ') {
                output += 1;
                events.push(LlmEvent::TextDelta(word.to_string()));
            }
            events.push(LlmEvent::Usage(Usage {
                input_tokens,
                output_tokens: output,
                reasoning_tokens: 0,
            }));
            FinishReason::Stop
        }
        ScriptTurn::ToolCalls { tool_calls } => {
            for (i, call) in tool_calls.iter().enumerate() {
                events.push(LlmEvent::ToolCall(ToolCallRequest {
                    id: format!("call_{answered}_{i}"),
                    name: call.name.clone(),
                    arguments: if call.arguments.is_null() {
                        serde_json::json!({})
                    } else {
                        call.arguments.clone()
                    },
                }));
            }
            events.push(LlmEvent::Usage(Usage {
                input_tokens,
                output_tokens: tool_calls.len() as u64 * 10,
                reasoning_tokens: 0,
            }));
            FinishReason::ToolCalls
        }
    };
    events.push(LlmEvent::Finish(finish));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_settings::ScriptToolCall;
    use futures::StreamExt;
    use serde_json::json;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "scripted".into(),
            messages,
            script: Some(vec![
                ScriptTurn::ToolCalls {
                    tool_calls: vec![ScriptToolCall {
                        name: "add".into(),
                        arguments: json!({"a": 1}),
                    }],
                },
                ScriptTurn::Text {
                    text: "the answer".into(),
                },
            ]),
            ..ChatRequest::default()
        }
    }

    async fn events(request: ChatRequest) -> Vec<LlmEvent> {
        ScriptedProvider
            .stream(request)
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await
    }

    #[tokio::test]
    async fn turns_replay_in_order_then_the_last_text_repeats() {
        let user = Message::User {
            content: "hi".into(),
        };
        let first = events(request(vec![user.clone()])).await;
        assert!(matches!(&first[0], LlmEvent::ToolCall(c) if c.name == "add"));
        assert_eq!(
            first.last(),
            Some(&LlmEvent::Finish(FinishReason::ToolCalls))
        );
        let assistant = Message::Assistant {
            content: None,
            tool_calls: vec![],
        };
        let second = events(request(vec![user.clone(), assistant.clone()])).await;
        assert_eq!(second[0], LlmEvent::TextDelta("the ".into()));
        assert_eq!(second[1], LlmEvent::TextDelta("answer".into()));
        let third = events(request(vec![user, assistant.clone(), assistant])).await;
        assert_eq!(third[1], LlmEvent::TextDelta("answer".into()));
    }

    #[tokio::test]
    async fn no_script_is_a_clear_error() {
        let error = ScriptedProvider
            .stream(ChatRequest::default())
            .await
            .err()
            .unwrap();
        assert!(error.to_string().contains("settings.script"));
    }
}

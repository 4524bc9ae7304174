//! The tool loop: model turn → tool calls through the host boundary (in parallel when the
//! model asks for several) → results back to the model → ... → final answer, up to the
//! agent's `max_steps`. A gated call pauses the run (`awaiting_approval`) with everything
//! needed to resume stored; nothing keeps waiting in memory.

use super::hooks::{ActiveHook, approval_required, fire};
use super::request::{RunOptions, citations, response_format_schema, system_prompt};
use super::toolset::{AgentTools, load as load_tools};
use super::{Engine, EngineError};
use crate::agent_settings::AgentSettings;
use crate::boundary::{CallOutcome, ToolCall};
use crate::hooks::HookEvent;
use crate::llm::{ChatRequest, FinishReason, LlmError, LlmEvent, Message, ToolCallRequest, Usage};
use crate::store::agents::Agent;
use crate::store::now;
use crate::store::runs::Run;
use crate::tool::ToolFailure;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;

/// Characters of a tool result shown in `tool_result` events.
const PREVIEW_CHARS: usize = 300;

/// A run just created, and whether its session is new.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The run.
    pub run: Run,
    /// The session was created for it.
    pub is_new_session: bool,
}

/// The text a tool result is given to the model as.
pub(crate) fn tool_message(
    call_id: &str,
    name: &str,
    result: &Result<Value, ToolFailure>,
) -> Message {
    match result {
        Ok(value) => Message::Tool {
            call_id: call_id.into(),
            name: name.into(),
            content: value.to_string(),
            is_error: false,
        },
        Err(failure) => Message::Tool {
            call_id: call_id.into(),
            name: name.into(),
            content: json!({"error": failure.message, "kind": failure.kind}).to_string(),
            is_error: true,
        },
    }
}

pub(crate) fn preview(text: &str) -> String {
    let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        preview.push('…');
    }
    preview
}

fn messages_of(value: &Value) -> Vec<Message> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

fn usage_of(value: &Value) -> Usage {
    Usage {
        input_tokens: value["input_tokens"].as_u64().unwrap_or(0),
        output_tokens: value["output_tokens"].as_u64().unwrap_or(0),
        reasoning_tokens: value["reasoning_tokens"].as_u64().unwrap_or(0),
    }
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(items) = list {
        items.push(item);
    }
}

impl Engine {
    /// Creates a queued run for `owner`: in `session_id` (which must be the caller's and this
    /// agent's, else 404) or in a new session, with that session's history before the message.
    pub async fn create_run(
        &self,
        agent: &Agent,
        owner: &str,
        sees_all: bool,
        session_id: Option<&str>,
        options: RunOptions,
    ) -> Result<NewRun, EngineError> {
        let (session, is_new_session) = match session_id {
            Some(id) => {
                let session = self
                    .store
                    .get_session(id)
                    .await?
                    .filter(|s| s.agent_id == agent.id && (sees_all || s.owner == owner))
                    .ok_or_else(|| EngineError::NotFound(format!("no session with id `{id}`")))?;
                (session, false)
            }
            None => {
                let title: String = options.message.chars().take(80).collect();
                (
                    self.store
                        .create_session(&agent.id, owner, Some(&title))
                        .await?,
                    true,
                )
            }
        };
        let mut history = Vec::new();
        for previous in self.store.session_runs(&session.id).await? {
            if previous.status != "completed" {
                continue;
            }
            let message = previous.options["message"].as_str().unwrap_or_default();
            history.push(Message::User {
                content: message.to_string(),
            });
            history.extend(messages_of(&previous.output_messages));
        }
        history.push(Message::User {
            content: options.message.clone(),
        });
        let run = self
            .store
            .create_run_with_options(
                &agent.id,
                Some(&session.id),
                &session.owner,
                &serde_json::to_value(&history).unwrap_or_default(),
                &serde_json::to_value(&options).unwrap_or_default(),
            )
            .await?;
        Ok(NewRun {
            run,
            is_new_session,
        })
    }

    /// Runs (or resumes) `run_id` in a task of its own: a client that disconnects does not
    /// stop it.
    pub fn spawn_run(self: &Arc<Self>, run_id: String) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move { engine.drive(&run_id).await })
    }

    /// Drives a run until it completes, fails, is cancelled, or pauses for approval.
    pub async fn drive(self: &Arc<Self>, run_id: &str) {
        let token = self.cancel_token(run_id);
        let outcome = tokio::select! {
            outcome = self.drive_steps(run_id) => outcome,
            () = token.cancelled() => Ok(()),
        };
        if let Err(error) = outcome {
            let message = error.to_string();
            if let Err(store_error) = self.fail_run(run_id, &message).await {
                tracing::error!(run_id, %store_error, %message, "could not record a failed run");
            }
        }
        self.forget_token(run_id);
    }

    /// Marks a run failed with `message` and tells its followers.
    pub(crate) async fn fail_run(&self, run_id: &str, message: &str) -> Result<(), EngineError> {
        let Some(mut run) = self.store.get_run(run_id).await? else {
            return Ok(());
        };
        if !self
            .store
            .transition_run(run_id, &run.status, "failed")
            .await?
        {
            return Ok(());
        }
        run.error = Some(message.into());
        run.completed_at = Some(now());
        self.store.save_run(&run).await?;
        self.bus
            .emit(
                &self.store,
                run_id,
                "error",
                json!({"error": message, "message": message, "status": "failed"}),
            )
            .await?;
        self.bus.finish(run_id);
        Ok(())
    }

    async fn drive_steps(self: &Arc<Self>, run_id: &str) -> Result<(), EngineError> {
        let mut run = self
            .store
            .get_run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run with id `{run_id}`")))?;
        if run.status == "queued" {
            if !self
                .store
                .transition_run(run_id, "queued", "running")
                .await?
            {
                return Ok(());
            }
            run.started_at = Some(now());
        } else if run.status != "running" {
            return Ok(());
        }
        let agent = self
            .store
            .get_agent(&run.agent_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("the run's agent was deleted".into()))?;
        let settings = AgentSettings::parse(&agent.settings).map_err(EngineError::Invalid)?;
        let options: RunOptions = serde_json::from_value(run.options.clone()).unwrap_or_default();
        let tools = if options.tools_enabled {
            load_tools(&self.store, &self.registry, &agent.id).await?
        } else {
            AgentTools {
                toolset: Default::default(),
                specs: Vec::new(),
            }
        };
        let hooks = ActiveHook::load(self.store.list_hooks(&agent.id).await?);
        let (provider, model) = self
            .providers
            .resolve(&agent.model)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;

        let messages = messages_of(&run.input_messages);
        let mut output = messages_of(&run.output_messages);
        if run.step == 0 {
            self.bus
                .emit(
                    &self.store,
                    run_id,
                    "start",
                    json!({
                        "session_id": run.session_id,
                        "reasoning_requested": options.reasoning_requested,
                        "status": "running",
                    }),
                )
                .await?;
            for outcome in fire(
                &self.hook_client,
                &hooks,
                HookEvent::OnRunStart,
                None,
                &json!({"message": options.message}),
            )
            .await
            {
                self.bus
                    .emit(
                        &self.store,
                        run_id,
                        "hook_result",
                        outcome.event("before", HookEvent::OnRunStart),
                    )
                    .await?;
            }
        } else {
            // Resuming after approvals: the decided calls' results join the conversation.
            for action in self.store.step_actions(run_id, run.step).await? {
                let answered = output.iter().any(|m| {
                    matches!(m, Message::Tool { call_id, .. } if *call_id == action.action.call_id)
                });
                if answered {
                    continue;
                }
                if let Some(stored) = action.result {
                    if let Ok(message) =
                        serde_json::from_value::<Message>(stored["message"].clone())
                    {
                        output.push(message);
                    }
                    push(&mut run.tool_calls, stored["record"].clone());
                }
            }
        }
        let mut usage = usage_of(&run.usage);
        let max_steps = if options.tools_enabled {
            settings.max_steps() as i64
        } else {
            1
        };
        let system = system_prompt(&agent.system_prompt, &options);

        loop {
            if self.cancel_token(run_id).is_cancelled() || self.is_cancelled(run_id).await? {
                return Ok(());
            }
            if run.step >= max_steps {
                return Err(EngineError::Invalid(format!(
                    "the agent reached max_steps ({max_steps}) without a final answer"
                )));
            }
            run.step += 1;
            let step = run.step;
            let is_last_step = step >= max_steps;
            let step_started = now();
            self.bus
                .emit(
                    &self.store,
                    run_id,
                    "step_started",
                    json!({"step": step, "is_last_step": is_last_step}),
                )
                .await?;

            let mut conversation = messages.clone();
            conversation.extend(output.iter().cloned());
            let request = ChatRequest {
                model: model.clone(),
                system: (!system.is_empty()).then(|| system.clone()),
                messages: conversation,
                tools: if is_last_step {
                    Vec::new()
                } else {
                    tools.specs.clone()
                },
                temperature: options.temperature.or(settings.temperature),
                top_p: settings.top_p,
                max_tokens: settings.max_tokens,
                reasoning_effort: settings.reasoning_effort.clone(),
                response_format: options.response_format.clone(),
                script: settings.script.clone(),
            };
            let turn = self
                .model_turn(run_id, step, provider.as_ref(), request)
                .await?;
            usage.add(turn.usage);
            run.usage = usage_json(usage);
            if !turn.reasoning.is_empty() {
                push(
                    &mut run.reasoning_steps,
                    json!({"step": step, "content": turn.reasoning}),
                );
            }
            let assistant = Message::Assistant {
                content: (!turn.text.is_empty()).then(|| turn.text.clone()),
                tool_calls: turn.tool_calls.clone(),
            };
            output.push(assistant);
            push(
                &mut run.steps,
                json!({
                    "step": step,
                    "started_at": step_started,
                    "completed_at": now(),
                    "finish_reason": turn.finish,
                    "content": turn.text,
                    "tool_calls": turn.tool_calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                    "usage": usage_json(turn.usage),
                }),
            );
            self.bus
                .emit(
                    &self.store,
                    run_id,
                    "step_completed",
                    json!({"step": step, "finish_reason": turn.finish, "has_tool_calls": !turn.tool_calls.is_empty()}),
                )
                .await?;
            run.output_messages = serde_json::to_value(&output).unwrap_or_default();

            if turn.tool_calls.is_empty() {
                return self.complete(&mut run, &options, turn.text, &hooks).await;
            }
            if !options.tools_enabled {
                return Err(EngineError::Invalid(
                    "the model asked for tools, which /run does not run; use /run/stream".into(),
                ));
            }
            if is_last_step {
                return Err(EngineError::Invalid(format!(
                    "the agent reached max_steps ({max_steps}) without a final answer"
                )));
            }
            self.store.save_run(&run).await?;
            let paused = self
                .run_tools(&mut run, &tools, &hooks, &turn.tool_calls, &mut output)
                .await?;
            run.output_messages = serde_json::to_value(&output).unwrap_or_default();
            self.store.save_run(&run).await?;
            if paused {
                return Ok(());
            }
        }
    }

    async fn is_cancelled(&self, run_id: &str) -> Result<bool, EngineError> {
        Ok(self
            .store
            .run_status(run_id)
            .await?
            .is_none_or(|status| status == "cancelled"))
    }

    /// One model call, streamed into events.
    async fn model_turn(
        &self,
        run_id: &str,
        step: i64,
        provider: &dyn crate::llm::Provider,
        request: ChatRequest,
    ) -> Result<Turn, EngineError> {
        let llm_error = |e: LlmError| EngineError::Invalid(e.to_string());
        let mut stream = provider.stream(request).await.map_err(llm_error)?;
        let mut turn = Turn::default();
        let mut finished = false;
        while let Some(event) = stream.next().await {
            match event.map_err(llm_error)? {
                LlmEvent::TextDelta(delta) => {
                    turn.text.push_str(&delta);
                    self.bus
                        .emit(
                            &self.store,
                            run_id,
                            "chunk",
                            json!({"content": delta, "step": step}),
                        )
                        .await?;
                }
                LlmEvent::ReasoningDelta(delta) => {
                    turn.reasoning.push_str(&delta);
                    self.bus
                        .emit(
                            &self.store,
                            run_id,
                            "reasoning",
                            json!({"step": step, "content": delta, "delta": delta}),
                        )
                        .await?;
                }
                LlmEvent::ToolCall(call) => turn.tool_calls.push(call),
                LlmEvent::Usage(usage) => turn.usage = usage,
                LlmEvent::Finish(reason) => {
                    turn.finish = match reason {
                        FinishReason::Stop => "stop".into(),
                        FinishReason::ToolCalls => "tool_calls".into(),
                        FinishReason::Length => "length".into(),
                        FinishReason::Other(other) => other,
                    };
                    finished = true;
                }
            }
        }
        if !finished {
            return Err(EngineError::Invalid(
                "the model's answer ended before it was complete".into(),
            ));
        }
        Ok(turn)
    }

    /// Runs one step's tool calls; true when at least one waits for approval.
    async fn run_tools(
        &self,
        run: &mut Run,
        tools: &AgentTools,
        hooks: &[ActiveHook],
        calls: &[ToolCallRequest],
        output: &mut Vec<Message>,
    ) -> Result<bool, EngineError> {
        let run_id = run.id.clone();
        let step = run.step;
        // PreToolUse hooks first: they may block a call or change its input.
        let mut prepared = Vec::new();
        for call in calls {
            self.bus
                .emit(
                    &self.store,
                    &run_id,
                    "tool_call",
                    json!({"tool_name": call.name, "arguments": call.arguments, "step": step, "call_id": call.id}),
                )
                .await?;
            let data = json!({"tool_name": call.name, "tool_input": call.arguments});
            let mut arguments = call.arguments.clone();
            let mut blocked = None;
            for outcome in fire(
                &self.hook_client,
                hooks,
                HookEvent::PreToolUse,
                Some(&call.name),
                &data,
            )
            .await
            {
                self.bus
                    .emit(
                        &self.store,
                        &run_id,
                        "hook_result",
                        outcome.event("before", HookEvent::PreToolUse),
                    )
                    .await?;
                if outcome.blocked {
                    blocked = Some(
                        outcome
                            .message
                            .clone()
                            .unwrap_or_else(|| "blocked by a hook".into()),
                    );
                }
                if let Some(modified) = outcome.modified_input {
                    arguments = modified;
                }
            }
            prepared.push((call, arguments, blocked));
        }
        let run_ref = run.id.clone();
        let run_ref = &run_ref;
        let outcomes = futures::future::join_all(prepared.iter().map(
            |(call, arguments, blocked)| async move {
                if let Some(message) = blocked {
                    return None.ok_or(message.clone());
                }
                Ok(self
                    .boundary
                    .call(
                        &tools.toolset,
                        ToolCall {
                            call_id: call.id.clone(),
                            tool_name: call.name.clone(),
                            arguments: arguments.clone(),
                            run_id: Some(run_ref.clone()),
                        },
                        approval_required(hooks, &call.name),
                    )
                    .await)
            },
        ))
        .await;
        let mut paused = false;
        let expires_at =
            crate::store::timestamp(time::OffsetDateTime::now_utc() + self.config.approval_ttl);
        for (position, ((call, _, _), outcome)) in prepared.iter().zip(outcomes).enumerate() {
            match outcome {
                Err(message) => {
                    let failure = ToolFailure::new(
                        crate::tool::FailureKind::Denied,
                        format!("blocked by a hook: {message}"),
                    );
                    let result = Err(failure);
                    output.push(tool_message(&call.id, &call.name, &result));
                    self.record_tool_result(
                        run,
                        &call.id,
                        &call.name,
                        &call.arguments,
                        &result,
                        0.0,
                        "blocked",
                    )
                    .await?;
                }
                Ok(CallOutcome::Finished(done)) => {
                    output.push(tool_message(&done.call_id, &done.tool_name, &done.result));
                    self.record_tool_result(
                        run,
                        &done.call_id,
                        &done.tool_name,
                        &done.record.arguments,
                        &done.result,
                        done.record.duration_ms,
                        "not_required",
                    )
                    .await?;
                    let data = json!({"tool_name": done.tool_name, "tool_input": done.record.arguments, "output": done.result.as_ref().ok()});
                    for outcome in fire(
                        &self.hook_client,
                        hooks,
                        HookEvent::PostToolUse,
                        Some(&done.tool_name),
                        &data,
                    )
                    .await
                    {
                        self.bus
                            .emit(
                                &self.store,
                                &run_id,
                                "hook_result",
                                outcome.event("after", HookEvent::PostToolUse),
                            )
                            .await?;
                    }
                }
                Ok(CallOutcome::Pending(action)) => {
                    paused = true;
                    self.store
                        .insert_pending(&run_id, step, position as i64, &action, &expires_at)
                        .await?;
                    self.bus
                        .emit(
                            &self.store,
                            &run_id,
                            "approval_requested",
                            json!({
                                "action_id": action.action_id,
                                "tool_name": action.tool_name,
                                "tool_type": action.tool_type,
                                "tool_input": action.arguments,
                                "message": action.description,
                                "step": step,
                                "call_id": action.call_id,
                                "expires_at": expires_at,
                            }),
                        )
                        .await?;
                }
            }
        }
        if paused
            && self
                .store
                .transition_run(&run_id, "running", "awaiting_approval")
                .await?
        {
            run.status = "awaiting_approval".into();
            run.output_messages = serde_json::to_value(&*output).unwrap_or_default();
            self.store.save_run(run).await?;
            let pending: Vec<String> = self
                .store
                .step_actions(&run_id, step)
                .await?
                .into_iter()
                .filter(|a| a.status == "pending")
                .map(|a| a.action.action_id)
                .collect();
            self.bus
                .emit(
                    &self.store,
                    &run_id,
                    "run_paused",
                    json!({"status": "awaiting_approval", "pending_action_ids": pending}),
                )
                .await?;
        }
        Ok(paused)
    }

    /// Adds a finished call to the run record and tells followers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_tool_result(
        &self,
        run: &mut Run,
        call_id: &str,
        tool_name: &str,
        arguments: &Value,
        result: &Result<Value, ToolFailure>,
        duration_ms: f64,
        decision: &str,
    ) -> Result<(), EngineError> {
        push(
            &mut run.tool_calls,
            tool_call_record(
                run.step,
                call_id,
                tool_name,
                arguments,
                result,
                duration_ms,
                decision,
            ),
        );
        self.bus
            .emit(
                &self.store,
                &run.id,
                "tool_result",
                tool_result_event(run.step, call_id, tool_name, result, duration_ms, decision),
            )
            .await?;
        Ok(())
    }

    async fn complete(
        &self,
        run: &mut Run,
        options: &RunOptions,
        content: String,
        hooks: &[ActiveHook],
    ) -> Result<(), EngineError> {
        if let Some(format) = &options.response_format {
            check_response_format(format, &content).map_err(EngineError::Invalid)?;
        }
        let run_id = run.id.clone();
        for outcome in fire(
            &self.hook_client,
            hooks,
            HookEvent::PreResponse,
            None,
            &json!({"content": content}),
        )
        .await
        {
            self.bus
                .emit(
                    &self.store,
                    &run_id,
                    "hook_result",
                    outcome.event("before", HookEvent::PreResponse),
                )
                .await?;
        }
        let cited = citations(&content, options);
        run.content = Some(content.clone());
        run.completed_at = Some(now());
        run.retrieved_context = serde_json::to_value(&options.context).unwrap_or_default();
        self.store.save_run(run).await?;
        if !self
            .store
            .transition_run(&run_id, "running", "completed")
            .await?
        {
            return Ok(());
        }
        run.status = "completed".into();
        let tool_calls: Vec<Value> = run
            .tool_calls
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| json!({"step": c["step"], "tool_name": c["tool_name"], "arguments": c["arguments"], "result": c["result"], "duration_ms": c["duration_ms"]}))
                    .collect()
            })
            .unwrap_or_default();
        for outcome in fire(
            &self.hook_client,
            hooks,
            HookEvent::OnRunComplete,
            None,
            &json!({"content": content, "status": "completed"}),
        )
        .await
        {
            self.bus
                .emit(
                    &self.store,
                    &run_id,
                    "hook_result",
                    outcome.event("after", HookEvent::OnRunComplete),
                )
                .await?;
        }
        self.bus
            .emit(
                &self.store,
                &run_id,
                "complete",
                json!({
                    "session_id": run.session_id,
                    "content": content,
                    "status": "completed",
                    "usage": run.usage,
                    "tool_calls": tool_calls,
                    "citations": cited,
                    "retrieved_items": options.context,
                }),
            )
            .await?;
        self.bus.finish(&run_id);
        Ok(())
    }
}

/// A finished call as the run record keeps it.
pub(crate) fn tool_call_record(
    step: i64,
    call_id: &str,
    tool_name: &str,
    arguments: &Value,
    result: &Result<Value, ToolFailure>,
    duration_ms: f64,
    decision: &str,
) -> Value {
    json!({
        "step": step,
        "call_id": call_id,
        "tool_name": tool_name,
        "arguments": arguments,
        "result": result.as_ref().ok(),
        "error": result.as_ref().err(),
        "duration_ms": duration_ms,
        "decision": decision,
    })
}

/// The `tool_result` event of a finished call.
pub(crate) fn tool_result_event(
    step: i64,
    call_id: &str,
    tool_name: &str,
    result: &Result<Value, ToolFailure>,
    duration_ms: f64,
    decision: &str,
) -> Value {
    let text = match result {
        Ok(value) => value.to_string(),
        Err(failure) => failure.message.clone(),
    };
    json!({
        "tool_name": tool_name,
        "result_preview": preview(&text),
        "duration_ms": duration_ms,
        "step": step,
        "call_id": call_id,
        "result_meta": {
            "ok": result.is_ok(),
            "error_kind": result.as_ref().err().map(|f| f.kind),
            "decision": decision,
        },
    })
}

/// The answer must be JSON matching the schema of `response_format` (see
/// [`response_format_schema`]; the API refuses a `response_format` without one).
pub fn check_response_format(format: &Value, content: &str) -> Result<(), String> {
    let schema = response_format_schema(format)
        .ok_or("response_format has no JSON Schema under `schema` or `json_schema.schema`")?;
    let value: Value = serde_json::from_str(content.trim()).map_err(|e| {
        format!("the model's answer is not the JSON that response_format asks for: {e}")
    })?;
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| format!("response_format has an invalid schema: {e}"))?;
    if let Some(error) = validator.iter_errors(&value).next() {
        return Err(format!(
            "the model's answer does not match response_format: {error} (at `{}`)",
            error.instance_path()
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Turn {
    text: String,
    reasoning: String,
    tool_calls: Vec<ToolCallRequest>,
    usage: Usage,
    finish: String,
}

//! The host boundary: the one path every tool call takes.
//!
//! `resolve → inject config_override → validate → gate → execute → record`. Nothing above this
//! layer (HTTP API, run engine, CLI) runs a tool any other way, so none of them can skip the
//! operator's forced values, the schema check, the approval gate or the audit record.
//!
//! # Layout
//! - [`catalog`]: the tools and how each runs; [`assignment`]: a tool given to an agent with
//!   the operator's settings, and the agent's [`assignment::Toolset`];
//! - [`inject`], [`validate`], [`gate`], [`record`]: one step each.

pub mod assignment;
pub mod catalog;
pub mod gate;
pub mod http_tool;
pub mod inject;
pub mod record;
pub mod validate;

use assignment::{Assignment, Toolset};
use catalog::Implementation;
use gate::{Approval, DecisionError, PendingAction, PendingStore};
use record::{CallRecord, Decision, Recorder, redact};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::sandbox::{CallStats, Invoke, Sandbox};
use crate::tool::{FailureKind, ToolFailure};

/// A tool call as the model asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Unique id of this call (the model's tool-call id, or a fresh one).
    pub call_id: String,
    /// The tool name the model used.
    pub tool_name: String,
    /// The arguments the model sent.
    pub arguments: Value,
    /// The run this call is part of.
    pub run_id: Option<String>,
}

/// How a call left the boundary.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// It ran (or was refused before running); the result goes back to the model.
    Finished(Box<FinishedCall>),
    /// It waits for a human; nothing ran.
    Pending(PendingAction),
}

/// A call that has its answer.
#[derive(Debug, Clone)]
pub struct FinishedCall {
    /// The call.
    pub call_id: String,
    /// The tool.
    pub tool_name: String,
    /// The tool's JSON result, or the failure to show the model.
    pub result: Result<Value, ToolFailure>,
    /// The audit record written for it.
    pub record: CallRecord,
}

/// Why a decision on a pending action could not be carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BoundaryError {
    /// Unknown or already decided.
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The assignment the action was gated under no longer exists.
    #[error("the tool assignment {0} was removed; the action cannot run")]
    AssignmentGone(String),
}

/// The boundary: the sandbox plus where pending actions wait and records go.
#[derive(Clone)]
pub struct Boundary {
    sandbox: Arc<Sandbox>,
    pending: Arc<dyn PendingStore>,
    recorder: Arc<dyn Recorder>,
}

impl std::fmt::Debug for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Boundary").finish_non_exhaustive()
    }
}

impl Boundary {
    /// A boundary over `sandbox`.
    pub fn new(
        sandbox: Arc<Sandbox>,
        pending: Arc<dyn PendingStore>,
        recorder: Arc<dyn Recorder>,
    ) -> Self {
        Self {
            sandbox,
            pending,
            recorder,
        }
    }

    /// The pending-action store.
    pub fn pending(&self) -> &Arc<dyn PendingStore> {
        &self.pending
    }

    /// Takes one call through every step. `hook_requires_approval` lets approval hooks add a
    /// gate; they can never remove one.
    pub async fn call(
        &self,
        toolset: &Toolset,
        call: ToolCall,
        hook_requires_approval: bool,
    ) -> CallOutcome {
        let started = Started::now();
        // 1. Resolve.
        let Some(assignment) = toolset.by_tool_name(&call.tool_name).cloned() else {
            let failure = ToolFailure::new(
                FailureKind::NotFound,
                format!("no tool named `{}` is available", call.tool_name),
            );
            let record = self.record_unresolved(&call, &failure, &started);
            return CallOutcome::Finished(Box::new(FinishedCall {
                call_id: call.call_id,
                tool_name: call.tool_name,
                result: Err(failure),
                record,
            }));
        };
        let tool = &assignment.tool;

        // 2. Inject.
        let mut arguments = match call.arguments {
            Value::Object(map) => map,
            Value::Null => serde_json::Map::new(),
            other => {
                let failure = ToolFailure::new(
                    FailureKind::InvalidArguments,
                    format!(
                        "the arguments must be a JSON object, not {}",
                        json_kind(&other)
                    ),
                );
                return CallOutcome::Finished(Box::new(self.finish(
                    &assignment,
                    &call.call_id,
                    call.run_id,
                    other,
                    Vec::new(),
                    Decision::NotRequired,
                    Err(failure),
                    None,
                    &started,
                )));
            }
        };
        let forced = inject::inject(
            &tool.descriptor,
            tool.override_rule,
            &assignment.override_map,
            &mut arguments,
        );
        let arguments = Value::Object(arguments);

        // 3. Validate.
        if let Err(failure) = tool.validator.check(&arguments) {
            return CallOutcome::Finished(Box::new(self.finish(
                &assignment,
                &call.call_id,
                call.run_id,
                arguments,
                forced,
                Decision::NotRequired,
                Err(failure),
                None,
                &started,
            )));
        }

        // 4. Gate.
        if gate::needs_confirmation(
            tool.default_confirmation(&arguments),
            assignment.spec.confirmation,
            hook_requires_approval,
        ) {
            let action = PendingAction {
                action_id: uuid::Uuid::new_v4().to_string(),
                call_id: call.call_id.clone(),
                run_id: call.run_id.clone(),
                assignment_id: assignment.id().to_string(),
                tool_name: tool.descriptor.name.clone(),
                tool_type: tool.descriptor.tool_type.clone(),
                description: gate::describe_call(
                    &tool.descriptor.name,
                    tool.descriptor.tool_type.as_deref(),
                    &redact(&arguments, &assignment.secret_values()),
                ),
                arguments: arguments.clone(),
                created_at_ms: started.unix_ms,
            };
            self.pending.put(action.clone());
            let record = self.build_record(
                &assignment,
                &call.call_id,
                call.run_id,
                &arguments,
                forced,
                Decision::Pending {
                    action_id: action.action_id.clone(),
                },
                None,
                None,
                &started,
            );
            self.recorder.record(&record);
            return CallOutcome::Pending(action);
        }

        // 5. Execute, 6. record.
        let (result, stats) = self
            .execute(
                &assignment,
                &call.call_id,
                call.run_id.as_deref(),
                &arguments,
            )
            .await;
        CallOutcome::Finished(Box::new(self.finish(
            &assignment,
            &call.call_id,
            call.run_id,
            arguments,
            forced,
            Decision::NotRequired,
            result,
            stats,
            &started,
        )))
    }

    /// Applies a human's decision on a pending action. ALLOW runs the call exactly once with
    /// exactly the arguments that were gated; DENY answers the model with "denied by the user".
    pub async fn decide(
        &self,
        toolset: &Toolset,
        action_id: &str,
        approval: Approval,
        by: &str,
    ) -> Result<FinishedCall, BoundaryError> {
        let action = self.pending.take(action_id)?;
        self.apply_decision(toolset, action, approval, by).await
    }

    /// Carries out a decision on an action the caller has already claimed (the server claims
    /// it in its database, which is what makes "exactly once" hold across instances). ALLOW
    /// runs exactly the recorded arguments; DENY answers "denied by the user".
    pub async fn apply_decision(
        &self,
        toolset: &Toolset,
        action: PendingAction,
        approval: Approval,
        by: &str,
    ) -> Result<FinishedCall, BoundaryError> {
        let started = Started::now();
        let assignment = toolset
            .by_id(&action.assignment_id)
            .cloned()
            .ok_or_else(|| BoundaryError::AssignmentGone(action.assignment_id.clone()))?;
        let (decision, result, stats) = match approval {
            Approval::Allow => {
                let (result, stats) = self
                    .execute(
                        &assignment,
                        &action.call_id,
                        action.run_id.as_deref(),
                        &action.arguments,
                    )
                    .await;
                (Decision::Allowed { by: by.to_string() }, result, stats)
            }
            Approval::Deny { reason } => {
                let message = match &reason {
                    Some(r) if !r.trim().is_empty() => format!("denied by the user: {r}"),
                    _ => "denied by the user".to_string(),
                };
                (
                    Decision::Denied {
                        by: by.to_string(),
                        reason,
                    },
                    Err(ToolFailure::new(FailureKind::Denied, message)),
                    None,
                )
            }
        };
        Ok(self.finish(
            &assignment,
            &action.call_id,
            action.run_id,
            action.arguments,
            Vec::new(),
            decision,
            result,
            stats,
            &started,
        ))
    }

    async fn execute(
        &self,
        assignment: &Assignment,
        call_id: &str,
        run_id: Option<&str>,
        arguments: &Value,
    ) -> (Result<Value, ToolFailure>, Option<CallStats>) {
        match &assignment.tool.implementation {
            Implementation::Wasm(component) => {
                let arguments = arguments.to_string();
                let invocation = self
                    .sandbox
                    .invoke(
                        component,
                        Invoke {
                            tool: &assignment.tool.descriptor.name,
                            arguments: &arguments,
                            call_id,
                            run_id,
                            assignment_id: Some(assignment.id()),
                            grants: &assignment.grants,
                            limits: assignment.limits,
                        },
                    )
                    .await;
                (invocation.result, Some(invocation.stats))
            }
            Implementation::Http(endpoint) => (endpoint.call(arguments).await, None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        assignment: &Assignment,
        call_id: &str,
        run_id: Option<String>,
        arguments: Value,
        forced: Vec<String>,
        decision: Decision,
        result: Result<Value, ToolFailure>,
        stats: Option<CallStats>,
        started: &Started,
    ) -> FinishedCall {
        let record = self.build_record(
            assignment,
            call_id,
            run_id,
            &arguments,
            forced,
            decision,
            Some(&result),
            stats,
            started,
        );
        self.recorder.record(&record);
        FinishedCall {
            call_id: call_id.to_string(),
            tool_name: assignment.tool.descriptor.name.clone(),
            result,
            record,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build_record(
        &self,
        assignment: &Assignment,
        call_id: &str,
        run_id: Option<String>,
        arguments: &Value,
        forced_keys: Vec<String>,
        decision: Decision,
        result: Option<&Result<Value, ToolFailure>>,
        stats: Option<CallStats>,
        started: &Started,
    ) -> CallRecord {
        let secrets = assignment.secret_values();
        let (result, error) = match result {
            Some(Ok(value)) => (Some(redact(value, &secrets)), None),
            Some(Err(failure)) => {
                let mut failure = failure.clone();
                if let Value::String(clean) =
                    redact(&Value::String(failure.message.clone()), &secrets)
                {
                    failure.message = clean;
                }
                (None, Some(failure))
            }
            None => (None, None),
        };
        CallRecord {
            call_id: call_id.to_string(),
            run_id,
            assignment_id: Some(assignment.id().to_string()),
            tool_name: assignment.tool.descriptor.name.clone(),
            tool_type: assignment.tool.descriptor.tool_type.clone(),
            arguments: redact(arguments, &secrets),
            forced_keys,
            decision,
            result,
            error,
            started_at_ms: started.unix_ms,
            duration_ms: started.at.elapsed().as_secs_f64() * 1000.0,
            stats,
        }
    }

    fn record_unresolved(
        &self,
        call: &ToolCall,
        failure: &ToolFailure,
        started: &Started,
    ) -> CallRecord {
        let record = CallRecord {
            call_id: call.call_id.clone(),
            run_id: call.run_id.clone(),
            assignment_id: None,
            tool_name: call.tool_name.clone(),
            tool_type: None,
            // Unknown tool: no assignment, so no secrets to scrub by value; keys still are.
            arguments: redact(&call.arguments, &[]),
            forced_keys: Vec::new(),
            decision: Decision::NotRequired,
            result: None,
            error: Some(failure.clone()),
            started_at_ms: started.unix_ms,
            duration_ms: started.at.elapsed().as_secs_f64() * 1000.0,
            stats: None,
        };
        self.recorder.record(&record);
        record
    }
}

struct Started {
    at: Instant,
    unix_ms: u64,
}

impl Started {
    fn now() -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            at: Instant::now(),
            unix_ms,
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

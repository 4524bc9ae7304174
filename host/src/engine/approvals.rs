//! ALLOW/DENY of gated calls, their expiry, and cancelling runs.
//!
//! Deciding claims the action in the database first (`pending → taken`, one UPDATE), so of two
//! approvals racing on any instances exactly one runs the call; the call runs through the
//! boundary with exactly the arguments that were gated. When the step's last action is
//! decided, the run moves `awaiting_approval → running` (again one UPDATE, so one resumer) and
//! continues in a task of the deciding instance.

use super::run_loop::{tool_call_record, tool_message, tool_result_event};
use super::toolset::load as load_tools;
use super::{Engine, EngineError};
use crate::boundary::gate::Approval;
use crate::store::StoreError;
use crate::store::pending::{ClaimError, StoredAction};
use crate::store::runs::Run;
use crate::tool::{FailureKind, ToolFailure};
use serde_json::{Value, json};
use std::sync::Arc;

impl Engine {
    /// Decides a pending action of `run` (the one named, or its only one).
    pub async fn approve(
        self: &Arc<Self>,
        run: &Run,
        approved: bool,
        reason: Option<String>,
        action_id: Option<&str>,
        by: &str,
    ) -> Result<Value, EngineError> {
        if run.status != "awaiting_approval" {
            return Err(EngineError::Conflict(format!(
                "run {} is not waiting for an approval (status: {})",
                run.id, run.status
            )));
        }
        let actions = self.store.step_actions(&run.id, run.step).await?;
        let action = match action_id {
            Some(id) => actions
                .into_iter()
                .find(|a| a.action.action_id == id)
                .ok_or_else(|| {
                    EngineError::NotFound(format!("run {} has no pending action `{id}`", run.id))
                })?,
            None => {
                let mut pending: Vec<StoredAction> = actions
                    .into_iter()
                    .filter(|a| a.status == "pending")
                    .collect();
                match pending.len() {
                    0 => {
                        return Err(EngineError::Conflict(
                            "every action of this run was already decided".into(),
                        ));
                    }
                    1 => pending.remove(0),
                    n => {
                        return Err(EngineError::Invalid(format!(
                            "run {} waits on {n} actions; say which with `action_id` ({})",
                            run.id,
                            pending
                                .iter()
                                .map(|a| a.action.action_id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
        };
        let approval = if approved {
            Approval::Allow
        } else {
            Approval::Deny {
                reason: reason.clone(),
            }
        };
        let label = if approved { "allowed" } else { "denied" };
        self.decide(&action.action.action_id, approval, label, by)
            .await?;
        let remaining = self
            .store
            .step_actions(&run.id, run.step)
            .await?
            .iter()
            .filter(|a| a.status != "done")
            .count();
        Ok(json!({
            "status": if approved { "approved" } else { "denied" },
            "run_id": run.id,
            "action_id": action.action.action_id,
            "remaining_actions": remaining,
        }))
    }

    /// Claims and carries out one decision, then resumes the run if nothing else waits.
    async fn decide(
        self: &Arc<Self>,
        action_id: &str,
        approval: Approval,
        label: &str,
        by: &str,
    ) -> Result<(), EngineError> {
        let action = match self.store.claim_pending(action_id).await? {
            Ok(action) => action,
            Err(ClaimError::AlreadyDecided) => {
                return Err(EngineError::Conflict(format!(
                    "action {action_id} was already decided"
                )));
            }
            Err(ClaimError::NotFound) => {
                return Err(EngineError::NotFound(format!(
                    "no pending action `{action_id}`"
                )));
            }
        };
        let run_id = action.action.run_id.clone().unwrap_or_default();
        let run = self
            .store
            .get_run(&run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run with id `{run_id}`")))?;
        let reason = match &approval {
            Approval::Deny { reason } => reason.clone(),
            Approval::Allow => None,
        };
        let tools = load_tools(&self.store, &self.registry, &run.agent_id).await?;
        let call_id = action.action.call_id.clone();
        let tool_name = action.action.tool_name.clone();
        let arguments = action.action.arguments.clone();
        let (result, duration_ms) = match self
            .boundary
            .apply_decision(&tools.toolset, action.action, approval, by)
            .await
        {
            Ok(done) => (done.result, done.record.duration_ms),
            Err(error) => (
                Err(ToolFailure::new(
                    FailureKind::Unavailable,
                    error.to_string(),
                )),
                0.0,
            ),
        };
        let stored = json!({
            "message": tool_message(&call_id, &tool_name, &result),
            "record": tool_call_record(run.step, &call_id, &tool_name, &arguments, &result, duration_ms, label),
        });
        self.store
            .finish_pending(action_id, label, by, reason.as_deref(), &stored)
            .await?;
        self.bus
            .emit(
                &self.store,
                &run_id,
                "tool_result",
                tool_result_event(run.step, &call_id, &tool_name, &result, duration_ms, label),
            )
            .await?;
        self.resume_if_decided(&run_id, run.step).await?;
        Ok(())
    }

    async fn resume_if_decided(
        self: &Arc<Self>,
        run_id: &str,
        step: i64,
    ) -> Result<(), StoreError> {
        let open = self
            .store
            .step_actions(run_id, step)
            .await?
            .iter()
            .any(|a| a.status != "done");
        if !open
            && self
                .store
                .transition_run(run_id, "awaiting_approval", "running")
                .await?
        {
            self.bus
                .emit(
                    &self.store,
                    run_id,
                    "run_resumed",
                    json!({"status": "running", "step": step}),
                )
                .await?;
            self.spawn_run(run_id.to_string());
        }
        Ok(())
    }

    /// Treats every approval that ran out of time by `now` as DENY; returns how many.
    pub async fn expire_pending(self: &Arc<Self>, now: &str) -> Result<usize, StoreError> {
        let mut count = 0;
        for action in self.store.expired_pending(now).await? {
            let approval = Approval::Deny {
                reason: Some("the approval request expired".into()),
            };
            match self
                .decide(&action.action.action_id, approval, "expired", "system")
                .await
            {
                Ok(()) => count += 1,
                Err(EngineError::Store(error)) => return Err(error),
                Err(_) => {} // decided meanwhile
            }
        }
        Ok(count)
    }

    /// Stops a run that is queued, running or waiting for approval.
    pub async fn cancel(self: &Arc<Self>, run: &Run) -> Result<Value, EngineError> {
        for from in ["queued", "running", "awaiting_approval"] {
            if self
                .store
                .transition_run(&run.id, from, "cancelled")
                .await?
            {
                self.cancel_token(&run.id).cancel();
                if from == "awaiting_approval" {
                    for action in self.store.step_actions(&run.id, run.step).await? {
                        if let Ok(Ok(_)) = self
                            .store
                            .claim_pending(&action.action.action_id)
                            .await
                            .map(|r| r.map(|_| ()))
                        {
                            self.store
                                .finish_pending(
                                    &action.action.action_id,
                                    "cancelled",
                                    "system",
                                    Some("the run was cancelled"),
                                    &Value::Null,
                                )
                                .await?;
                        }
                    }
                }
                if let Some(mut current) = self.store.get_run(&run.id).await? {
                    current.completed_at = Some(crate::store::now());
                    current.error = Some("cancelled".into());
                    self.store.save_run(&current).await?;
                }
                self.bus
                    .emit(
                        &self.store,
                        &run.id,
                        "cancelled",
                        json!({"status": "cancelled"}),
                    )
                    .await?;
                self.bus.finish(&run.id);
                return Ok(json!({"status": "cancelled", "run_id": run.id}));
            }
        }
        Err(EngineError::Conflict(format!(
            "run {} has already finished (status: {})",
            run.id, run.status
        )))
    }
}

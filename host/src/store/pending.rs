//! Pending actions: gated tool calls waiting for a human, persisted so an approval survives a
//! restart (kill -9 included) and can be given on any instance. One `UPDATE ... WHERE status =
//! 'pending'` claims an action, so exactly one decision wins even when two race.

use super::{Store, StoreError, json_column, now, optional_json_column, to_json};
use crate::boundary::gate::PendingAction;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored pending action.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAction {
    /// The action as the boundary made it.
    pub action: PendingAction,
    /// The run step it belongs to.
    pub step: i64,
    /// Its place among the step's tool calls.
    pub position: i64,
    /// `pending`, `taken` (being decided) or `done`.
    pub status: String,
    /// `allowed`, `denied`, `expired`, `cancelled`.
    pub decision: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The reason given.
    pub reason: Option<String>,
    /// The tool message content, once done.
    pub result: Option<Value>,
    /// When it expires (then it counts as DENY).
    pub expires_at: String,
}

/// Why an action could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// No such action.
    NotFound,
    /// Already decided (or being decided).
    AlreadyDecided,
}

fn from_row(row: &AnyRow) -> Result<StoredAction, StoreError> {
    let created_at: String = row.try_get("created_at")?;
    Ok(StoredAction {
        action: PendingAction {
            action_id: row.try_get("action_id")?,
            call_id: row.try_get("call_id")?,
            run_id: Some(row.try_get("run_id")?),
            assignment_id: row.try_get("assignment_id")?,
            tool_name: row.try_get("tool_name")?,
            tool_type: row.try_get("tool_type")?,
            arguments: json_column(row, "arguments")?,
            description: row.try_get("description")?,
            created_at_ms: time::OffsetDateTime::parse(
                &created_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
            .unwrap_or(0),
        },
        step: row.try_get("step")?,
        position: row.try_get("position")?,
        status: row.try_get("status")?,
        decision: row.try_get("decision")?,
        decided_by: row.try_get("decided_by")?,
        reason: row.try_get("reason")?,
        result: optional_json_column(row, "result")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const COLUMNS: &str = "action_id, run_id, step, position, call_id, assignment_id, tool_name, \
    tool_type, arguments, description, status, decision, decided_by, reason, result, created_at, expires_at";

impl Store {
    /// Persists a new pending action.
    pub async fn insert_pending(
        &self,
        run_id: &str,
        step: i64,
        position: i64,
        action: &PendingAction,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO pending_actions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             'pending', NULL, NULL, NULL, NULL, $11, $12)"
        ))
        .bind(&action.action_id)
        .bind(run_id)
        .bind(step)
        .bind(position)
        .bind(&action.call_id)
        .bind(&action.assignment_id)
        .bind(&action.tool_name)
        .bind(&action.tool_type)
        .bind(to_json(&action.arguments))
        .bind(&action.description)
        .bind(now())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Claims a pending action for a decision: succeeds once per action, across instances.
    pub async fn claim_pending(
        &self,
        action_id: &str,
    ) -> Result<Result<StoredAction, ClaimError>, StoreError> {
        let done = sqlx::query(
            "UPDATE pending_actions SET status = 'taken' WHERE action_id = $1 AND status = 'pending'",
        )
        .bind(action_id)
        .execute(self.pool())
        .await?;
        let row = self.get_pending(action_id).await?;
        Ok(match (done.rows_affected(), row) {
            (1, Some(action)) => Ok(action),
            (_, Some(_)) => Err(ClaimError::AlreadyDecided),
            (_, None) => Err(ClaimError::NotFound),
        })
    }

    /// Records the outcome of a claimed action.
    pub async fn finish_pending(
        &self,
        action_id: &str,
        decision: &str,
        decided_by: &str,
        reason: Option<&str>,
        result: &Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE pending_actions SET status = 'done', decision = $1, decided_by = $2, reason = $3, \
             result = $4 WHERE action_id = $5",
        )
        .bind(decision)
        .bind(decided_by)
        .bind(reason)
        .bind(to_json(result))
        .bind(action_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One action.
    pub async fn get_pending(&self, action_id: &str) -> Result<Option<StoredAction>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pending_actions WHERE action_id = $1"
        ))
        .bind(action_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// A run's actions for one step, in call order.
    pub async fn step_actions(
        &self,
        run_id: &str,
        step: i64,
    ) -> Result<Vec<StoredAction>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pending_actions WHERE run_id = $1 AND step = $2 ORDER BY position"
        ))
        .bind(run_id)
        .bind(step)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Actions still pending whose time ran out by `now`.
    pub async fn expired_pending(&self, now: &str) -> Result<Vec<StoredAction>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pending_actions WHERE status = 'pending' AND expires_at <= $1 \
             ORDER BY expires_at"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }
}

//! Sessions (multi-turn conversations) and runs (one agent turn each), with their event logs.
//!
//! Both belong to an owner: the end user of the key that started them. The API answers 404 to
//! anyone else (service-role keys see everything), so existence never leaks.

use super::{Store, StoreError, json_column, new_id, now, to_json};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A session.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// Who owns it.
    pub owner: String,
    /// A title, when known.
    pub title: Option<String>,
    /// Created.
    pub created_at: String,
    /// Last run.
    pub updated_at: String,
}

/// A run record, with every field Powabase's `GET /api/agents/runs/{run_id}` returns.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// Id (also returned as `run_id`).
    pub id: String,
    /// Same as `id`, for clients that read `run_id`.
    pub run_id: String,
    /// The agent.
    pub agent_id: String,
    /// The session; null for delegated or workflow runs.
    pub session_id: Option<String>,
    /// Who owns it.
    #[serde(skip)]
    pub owner: String,
    /// Orchestrating run, for delegated runs.
    pub parent_orchestration_run_id: Option<String>,
    /// Workflow execution, for workflow-block runs.
    pub parent_workflow_execution_id: Option<String>,
    /// `queued | running | awaiting_approval | completed | failed | cancelled`.
    pub status: String,
    /// Messages sent to the model.
    #[schema(value_type = Vec<Object>)]
    pub input_messages: Value,
    /// Messages the run produced.
    #[schema(value_type = Vec<Object>)]
    pub output_messages: Value,
    /// The final answer.
    pub content: Option<String>,
    /// Token usage.
    #[schema(value_type = Object)]
    pub usage: Value,
    /// Context retrieved for the run.
    #[schema(value_type = Vec<Object>)]
    pub retrieved_context: Value,
    /// Why it failed.
    pub error: Option<String>,
    /// Started.
    pub started_at: Option<String>,
    /// Finished.
    pub completed_at: Option<String>,
    /// Model steps.
    #[schema(value_type = Vec<Object>)]
    pub steps: Value,
    /// Every event, in order (filled when read).
    #[schema(value_type = Vec<Object>)]
    pub events: Value,
    /// Tool calls with their durations.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Value,
    /// Reasoning the model showed.
    #[schema(value_type = Vec<Object>)]
    pub reasoning_steps: Value,
    /// Created.
    pub created_at: String,
    /// Model turns taken so far (the engine resumes from here).
    #[serde(skip)]
    pub step: i64,
    /// What the run was asked (temperature, response_format, context...), for resuming.
    #[serde(skip)]
    pub options: Value,
}

/// A stored run event.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// Sequence number within the run, from 1.
    pub seq: i64,
    /// The event JSON.
    pub event: Value,
}

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        owner: row.try_get("owner")?,
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn run_from_row(row: &AnyRow) -> Result<Run, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(Run {
        run_id: id.clone(),
        id,
        agent_id: row.try_get("agent_id")?,
        session_id: row.try_get("session_id")?,
        owner: row.try_get("owner")?,
        parent_orchestration_run_id: row.try_get("parent_orchestration_run_id")?,
        parent_workflow_execution_id: row.try_get("parent_workflow_execution_id")?,
        status: row.try_get("status")?,
        input_messages: json_column(row, "input_messages")?,
        output_messages: json_column(row, "output_messages")?,
        content: row.try_get("content")?,
        usage: json_column(row, "usage")?,
        retrieved_context: json_column(row, "retrieved_context")?,
        error: row.try_get("error")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        steps: json_column(row, "steps")?,
        events: Value::Array(Vec::new()),
        tool_calls: json_column(row, "tool_calls")?,
        reasoning_steps: json_column(row, "reasoning_steps")?,
        created_at: row.try_get("created_at")?,
        step: row.try_get("step")?,
        options: json_column(row, "options")?,
    })
}

const SESSION_COLUMNS: &str = "id, agent_id, owner, title, created_at, updated_at";
const RUN_COLUMNS: &str = "id, agent_id, session_id, owner, parent_orchestration_run_id, \
    parent_workflow_execution_id, status, input_messages, output_messages, content, usage, \
    retrieved_context, error, started_at, completed_at, steps, tool_calls, reasoning_steps, created_at, \
    step, options";

impl Store {
    /// Starts a session for `owner`.
    pub async fn create_session(
        &self,
        agent_id: &str,
        owner: &str,
        title: Option<&str>,
    ) -> Result<Session, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO sessions (id, agent_id, owner, title, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(agent_id)
        .bind(owner)
        .bind(title)
        .bind(now())
        .execute(self.pool())
        .await?;
        self.get_session(&id).await?.ok_or(StoreError::Reference)
    }

    /// One session, whoever owns it (the API checks ownership).
    pub async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    /// An agent's sessions, newest first; only `owner`'s unless `owner` is `None`.
    pub async fn list_sessions(
        &self,
        agent_id: &str,
        owner: Option<&str>,
    ) -> Result<Vec<Session>, StoreError> {
        let query = match owner {
            Some(_) => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE agent_id = $1 AND owner = $2 \
                 ORDER BY updated_at DESC, id"
            ),
            None => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE agent_id = $1 \
                 ORDER BY updated_at DESC, id"
            ),
        };
        let mut query = sqlx::query(&query).bind(agent_id);
        if let Some(owner) = owner {
            query = query.bind(owner);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(session_from_row)
            .collect()
    }

    /// Creates a queued run.
    pub async fn create_run(
        &self,
        agent_id: &str,
        session_id: Option<&str>,
        owner: &str,
        input_messages: &Value,
    ) -> Result<Run, StoreError> {
        self.create_run_with_options(
            agent_id,
            session_id,
            owner,
            input_messages,
            &Value::Object(Default::default()),
        )
        .await
    }

    /// Creates a queued run with the options it was asked with.
    pub async fn create_run_with_options(
        &self,
        agent_id: &str,
        session_id: Option<&str>,
        owner: &str,
        input_messages: &Value,
        options: &Value,
    ) -> Result<Run, StoreError> {
        let id = new_id();
        let now = now();
        sqlx::query(
            "INSERT INTO runs (id, agent_id, session_id, owner, status, input_messages, \
             output_messages, usage, retrieved_context, steps, tool_calls, reasoning_steps, created_at, options) \
             VALUES ($1, $2, $3, $4, 'queued', $5, '[]', '{}', '[]', '[]', '[]', '[]', $6, $7)",
        )
        .bind(&id)
        .bind(agent_id)
        .bind(session_id)
        .bind(owner)
        .bind(to_json(input_messages))
        .bind(&now)
        .bind(to_json(options))
        .execute(self.pool())
        .await?;
        if let Some(session_id) = session_id {
            sqlx::query("UPDATE sessions SET updated_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(session_id)
                .execute(self.pool())
                .await?;
        }
        self.get_run(&id).await?.ok_or(StoreError::Reference)
    }

    /// Saves every changing field of a run but its status (messages, content, usage, steps, ...);
    /// status changes go through [`Store::transition_run`] so a cancel is never overwritten.
    pub async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET output_messages = $1, content = $2, usage = $3, \
             retrieved_context = $4, error = $5, started_at = $6, completed_at = $7, steps = $8, \
             tool_calls = $9, reasoning_steps = $10, step = $11 WHERE id = $12",
        )
        .bind(to_json(&run.output_messages))
        .bind(&run.content)
        .bind(to_json(&run.usage))
        .bind(to_json(&run.retrieved_context))
        .bind(&run.error)
        .bind(&run.started_at)
        .bind(&run.completed_at)
        .bind(to_json(&run.steps))
        .bind(to_json(&run.tool_calls))
        .bind(to_json(&run.reasoning_steps))
        .bind(run.step)
        .bind(&run.id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Moves a run from `from` to `to` status; false when it was not in `from` (another
    /// request or instance got there first).
    pub async fn transition_run(&self, id: &str, from: &str, to: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE runs SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to)
            .bind(id)
            .bind(from)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A session's finished runs, oldest first (the history a new run continues).
    pub async fn session_runs(&self, session_id: &str) -> Result<Vec<Run>, StoreError> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE session_id = $1 ORDER BY created_at, id"
        ))
        .bind(session_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(run_from_row)
        .collect()
    }

    /// Runs in one of `statuses` (start-up recovery).
    pub async fn runs_in_status(&self, status: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query("SELECT id FROM runs WHERE status = $1")
            .bind(status)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?)
    }

    /// A run's status alone: the engine checks it every step and followers whenever a stream
    /// may end, so it must not load the run's event log.
    pub async fn run_status(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT status FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| row.try_get("status"))
            .transpose()?)
    }

    /// One run with its events, whoever owns it (the API checks ownership).
    pub async fn get_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let Some(mut run) = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(run_from_row)
            .transpose()?
        else {
            return Ok(None);
        };
        run.events = Value::Array(
            self.run_events_after(id, 0)
                .await?
                .into_iter()
                .map(|e| e.event)
                .collect(),
        );
        Ok(Some(run))
    }

    /// Appends an event to a run's log and returns its sequence number. One statement picks
    /// the next number and inserts, so it is atomic on both backends (a read-then-write
    /// transaction would deadlock SQLite writers under load); the primary key (run_id, seq)
    /// makes a concurrent append with the same number fail rather than interleave.
    pub async fn append_run_event(&self, run_id: &str, event: &Value) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO run_events (run_id, seq, event, created_at) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM run_events WHERE run_id = $1 \
             RETURNING seq",
        )
        .bind(run_id)
        .bind(to_json(event))
        .bind(now())
        .fetch_one(self.pool())
        .await?
        .try_get("seq")?)
    }

    /// A run's events with a sequence number above `after`, in order.
    pub async fn run_events_after(
        &self,
        run_id: &str,
        after: i64,
    ) -> Result<Vec<RunEvent>, StoreError> {
        sqlx::query("SELECT seq, event FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq")
            .bind(run_id)
            .bind(after)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(RunEvent {
                    seq: row.try_get("seq")?,
                    event: json_column(row, "event")?,
                })
            })
            .collect()
    }
}

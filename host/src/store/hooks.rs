//! Hooks registered on an agent. The run engine fires them; here they are only stored.

use super::{Store, StoreError, json_column, new_id, now, to_json};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A hook row. `event` and `hook_type` are stored as the client wrote them (either
/// vocabulary); the API adds the engine's name for the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// When it fires.
    pub event: String,
    /// What it does.
    pub hook_type: String,
    /// Type-specific settings.
    pub config: Value,
    /// Tool-name pattern (tool events).
    pub matcher: Option<String>,
    /// Whether it fires.
    pub enabled: bool,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

fn from_row(row: &AnyRow) -> Result<Hook, StoreError> {
    Ok(Hook {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        event: row.try_get("event")?,
        hook_type: row.try_get("hook_type")?,
        config: json_column(row, "config")?,
        matcher: row.try_get("matcher")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str =
    "id, agent_id, event, hook_type, config, matcher, enabled, created_at, updated_at";

impl Store {
    /// Adds a hook.
    pub async fn create_hook(
        &self,
        agent_id: &str,
        event: &str,
        hook_type: &str,
        config: &Value,
        matcher: Option<&str>,
        enabled: bool,
    ) -> Result<Hook, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO hooks (id, agent_id, event, hook_type, config, matcher, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(agent_id)
        .bind(event)
        .bind(hook_type)
        .bind(to_json(config))
        .bind(matcher)
        .bind(i64::from(enabled))
        .bind(now())
        .execute(self.pool())
        .await?;
        sqlx::query(&format!("SELECT {COLUMNS} FROM hooks WHERE id = $1"))
            .bind(&id)
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::from)
            .and_then(|row| from_row(&row))
    }

    /// An agent's hooks, in the order they fire.
    pub async fn list_hooks(&self, agent_id: &str) -> Result<Vec<Hook>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM hooks WHERE agent_id = $1 ORDER BY created_at, id"
        ))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Removes a hook.
    pub async fn delete_hook(&self, agent_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM hooks WHERE agent_id = $1 AND id = $2")
            .bind(agent_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

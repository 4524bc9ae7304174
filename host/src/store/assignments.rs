//! Tool assignments: a tool given to an agent, with the operator's settings
//! ([`AssignmentSpec`]): config_override, confirmation, grants, limits, config and secrets.

use super::{Store, StoreError, json_column, now, to_json};
use crate::boundary::assignment::AssignmentSpec;
use crate::boundary::gate::ConfirmationSetting;
use sqlx::Row;
use sqlx::any::AnyRow;

/// An assignment row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAssignment {
    /// The agent.
    pub agent_id: String,
    /// The settings (the id is `spec.id`).
    pub spec: AssignmentSpec,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

fn from_row(row: &AnyRow) -> Result<StoredAssignment, StoreError> {
    let confirmation: String = row.try_get("confirmation")?;
    Ok(StoredAssignment {
        agent_id: row.try_get("agent_id")?,
        spec: AssignmentSpec {
            id: row.try_get("id")?,
            tool_name: row.try_get("tool_name")?,
            config_override: json_column(row, "config_override")?,
            confirmation: serde_json::from_value(serde_json::Value::String(confirmation))
                .unwrap_or(ConfirmationSetting::Default),
            grants: json_column(row, "grants")?,
            limits: json_column(row, "limits")?,
            config: json_column(row, "config")?,
            secrets: json_column(row, "secrets")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn confirmation_text(setting: ConfirmationSetting) -> &'static str {
    match setting {
        ConfirmationSetting::Default => "default",
        ConfirmationSetting::Always => "always",
        ConfirmationSetting::Never => "never",
    }
}

const COLUMNS: &str = "id, agent_id, tool_name, config_override, confirmation, grants, limits, \
                       config, secrets, created_at, updated_at";

impl Store {
    /// Assigns a tool; [`StoreError::Conflict`] when the agent already has it.
    pub async fn create_assignment(
        &self,
        agent_id: &str,
        spec: &AssignmentSpec,
    ) -> Result<StoredAssignment, StoreError> {
        let now = now();
        sqlx::query(
            "INSERT INTO tool_assignments (id, agent_id, tool_name, config_override, confirmation, \
             grants, limits, config, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&spec.id)
        .bind(agent_id)
        .bind(&spec.tool_name)
        .bind(to_json(&spec.config_override))
        .bind(confirmation_text(spec.confirmation))
        .bind(to_json(&spec.grants))
        .bind(to_json(&spec.limits))
        .bind(to_json(&spec.config))
        .bind(to_json(&spec.secrets))
        .bind(&now)
        .execute(self.pool())
        .await?;
        self.get_assignment(agent_id, &spec.id)
            .await?
            .ok_or(StoreError::Reference)
    }

    /// One assignment of an agent.
    pub async fn get_assignment(
        &self,
        agent_id: &str,
        id: &str,
    ) -> Result<Option<StoredAssignment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tool_assignments WHERE agent_id = $1 AND id = $2"
        ))
        .bind(agent_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// An agent's assignments, oldest first.
    pub async fn list_assignments(
        &self,
        agent_id: &str,
    ) -> Result<Vec<StoredAssignment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tool_assignments WHERE agent_id = $1 ORDER BY created_at, id"
        ))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Saves changed settings; `None` when the assignment does not exist.
    pub async fn update_assignment(
        &self,
        agent_id: &str,
        spec: &AssignmentSpec,
    ) -> Result<Option<StoredAssignment>, StoreError> {
        let done = sqlx::query(
            "UPDATE tool_assignments SET config_override = $1, confirmation = $2, grants = $3, \
             limits = $4, config = $5, secrets = $6, updated_at = $7 WHERE agent_id = $8 AND id = $9",
        )
        .bind(to_json(&spec.config_override))
        .bind(confirmation_text(spec.confirmation))
        .bind(to_json(&spec.grants))
        .bind(to_json(&spec.limits))
        .bind(to_json(&spec.config))
        .bind(to_json(&spec.secrets))
        .bind(now())
        .bind(agent_id)
        .bind(&spec.id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_assignment(agent_id, &spec.id).await
    }

    /// Removes an assignment; false when there was none.
    pub async fn delete_assignment(&self, agent_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tool_assignments WHERE agent_id = $1 AND id = $2")
            .bind(agent_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many assignments use the tool named `tool_name` (a tool in use cannot be deleted).
    pub async fn count_assignments_of(&self, tool_name: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM tool_assignments WHERE tool_name = $1")
                .bind(tool_name)
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }
}

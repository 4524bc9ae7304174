//! Agents: an LLM, a system prompt and settings. What they can call lives in the assignment
//! tables, which cascade when an agent is deleted.

use super::{Store, StoreError, json_column, new_id, now, to_json};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// An agent as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Agent {
    /// Agent id.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// `provider/model`, e.g. `openai/gpt-4o`, or `scripted`.
    pub model: String,
    /// The system prompt.
    pub system_prompt: String,
    /// Settings object (temperature, max_steps, reasoning_effort, ...).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// The fields a client sets.
#[derive(Debug, Clone)]
pub struct AgentFields {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Model.
    pub model: String,
    /// System prompt.
    pub system_prompt: String,
    /// Settings object.
    pub settings: Value,
}

fn from_row(row: &AnyRow) -> Result<Agent, StoreError> {
    Ok(Agent {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        model: row.try_get("model")?,
        system_prompt: row.try_get("system_prompt")?,
        settings: json_column(row, "settings")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str =
    "id, name, description, model, system_prompt, settings, created_at, updated_at";

impl Store {
    /// Creates an agent.
    pub async fn create_agent(&self, fields: AgentFields) -> Result<Agent, StoreError> {
        let id = new_id();
        let now = now();
        sqlx::query(
            "INSERT INTO agents (id, name, description, model, system_prompt, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&fields.name)
        .bind(&fields.description)
        .bind(&fields.model)
        .bind(&fields.system_prompt)
        .bind(to_json(&fields.settings))
        .bind(&now)
        .execute(self.pool())
        .await?;
        self.get_agent(&id).await?.ok_or(StoreError::Reference)
    }

    /// One agent.
    pub async fn get_agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// Every agent, oldest first.
    pub async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agents ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Replaces an agent's fields; `None` when it does not exist.
    pub async fn update_agent(
        &self,
        id: &str,
        fields: AgentFields,
    ) -> Result<Option<Agent>, StoreError> {
        let done = sqlx::query(
            "UPDATE agents SET name = $1, description = $2, model = $3, system_prompt = $4, \
             settings = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&fields.name)
        .bind(&fields.description)
        .bind(&fields.model)
        .bind(&fields.system_prompt)
        .bind(to_json(&fields.settings))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_agent(id).await
    }

    /// Deletes an agent and everything assigned to it, its sessions and runs.
    pub async fn delete_agent(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

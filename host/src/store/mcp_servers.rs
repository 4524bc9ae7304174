//! MCP servers attached to an agent. Headers usually carry credentials: they are stored, sent
//! to the MCP server, and never shown back (the API masks their values).

use super::{Store, StoreError, json_column, new_id, now, to_json};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// An MCP server row.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    /// Id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// Name, unique per agent.
    pub name: String,
    /// Endpoint.
    pub url: String,
    /// `http` (streamable HTTP) or `sse`.
    pub transport: String,
    /// Headers sent to the server (write-only).
    pub headers: BTreeMap<String, String>,
    /// Extra settings.
    pub config: Value,
    /// Whether its tools are offered to the model.
    pub enabled: bool,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// The fields a client sets.
#[derive(Debug, Clone)]
pub struct McpServerFields {
    /// Name.
    pub name: String,
    /// Endpoint.
    pub url: String,
    /// Transport.
    pub transport: String,
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// Extra settings.
    pub config: Value,
    /// Enabled.
    pub enabled: bool,
}

fn from_row(row: &AnyRow) -> Result<McpServer, StoreError> {
    Ok(McpServer {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        transport: row.try_get("transport")?,
        headers: json_column(row, "headers")?,
        config: json_column(row, "config")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str =
    "id, agent_id, name, url, transport, headers, config, enabled, created_at, updated_at";

impl Store {
    /// Adds an MCP server; [`StoreError::Conflict`] on a duplicate name for the agent.
    pub async fn create_mcp_server(
        &self,
        agent_id: &str,
        fields: &McpServerFields,
    ) -> Result<McpServer, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO mcp_servers (id, agent_id, name, url, transport, headers, config, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&id)
        .bind(agent_id)
        .bind(&fields.name)
        .bind(&fields.url)
        .bind(&fields.transport)
        .bind(to_json(&fields.headers))
        .bind(to_json(&fields.config))
        .bind(i64::from(fields.enabled))
        .bind(now())
        .execute(self.pool())
        .await?;
        self.get_mcp_server(agent_id, &id)
            .await?
            .ok_or(StoreError::Reference)
    }

    /// One MCP server of an agent.
    pub async fn get_mcp_server(
        &self,
        agent_id: &str,
        id: &str,
    ) -> Result<Option<McpServer>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM mcp_servers WHERE agent_id = $1 AND id = $2"
        ))
        .bind(agent_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// An agent's MCP servers.
    pub async fn list_mcp_servers(&self, agent_id: &str) -> Result<Vec<McpServer>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM mcp_servers WHERE agent_id = $1 ORDER BY created_at, id"
        ))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Replaces an MCP server's fields.
    pub async fn update_mcp_server(
        &self,
        agent_id: &str,
        id: &str,
        fields: &McpServerFields,
    ) -> Result<Option<McpServer>, StoreError> {
        let done = sqlx::query(
            "UPDATE mcp_servers SET name = $1, url = $2, transport = $3, headers = $4, config = $5, \
             enabled = $6, updated_at = $7 WHERE agent_id = $8 AND id = $9",
        )
        .bind(&fields.name)
        .bind(&fields.url)
        .bind(&fields.transport)
        .bind(to_json(&fields.headers))
        .bind(to_json(&fields.config))
        .bind(i64::from(fields.enabled))
        .bind(now())
        .bind(agent_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_mcp_server(agent_id, id).await
    }

    /// Removes an MCP server.
    pub async fn delete_mcp_server(&self, agent_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM mcp_servers WHERE agent_id = $1 AND id = $2")
            .bind(agent_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

//! Custom tools: declarative HTTP tools, and tools from uploaded WASM components. Component
//! bytes are stored content-addressed (by SHA-256) in the database itself, so every server
//! instance sharing the database can load them.

use super::{Store, StoreError, json_column, new_id, now, optional_json_column, to_json};
use crate::tool::ToolDescriptor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// How a custom tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Declarative: the arguments are sent as JSON to an HTTP endpoint.
    Http,
    /// Exported by an uploaded WASM component.
    Wasm,
}

impl ToolKind {
    fn as_str(self) -> &'static str {
        match self {
            ToolKind::Http => "http",
            ToolKind::Wasm => "wasm",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "http" => Ok(ToolKind::Http),
            "wasm" => Ok(ToolKind::Wasm),
            other => Err(StoreError::Corrupt {
                column: "kind",
                reason: format!("unknown tool kind `{other}`"),
            }),
        }
    }
}

/// A custom tool row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTool {
    /// Tool id.
    pub id: String,
    /// Name the model calls it by; unique across all tools.
    pub name: String,
    /// What the model reads.
    pub description: String,
    /// How it runs.
    pub kind: ToolKind,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
    /// HTTP tools: endpoint, method, headers, timeout_seconds. WASM tools: `{}`.
    pub config: Value,
    /// WASM tools: the component's SHA-256.
    pub component_sha256: Option<String>,
    /// WASM tools: the descriptor `describe()` returned.
    pub descriptor: Option<ToolDescriptor>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// The fields a new or changed tool has.
#[derive(Debug, Clone)]
pub struct ToolFields {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Kind.
    pub kind: ToolKind,
    /// Input schema.
    pub input_schema: Value,
    /// Config.
    pub config: Value,
    /// Component hash (WASM tools).
    pub component_sha256: Option<String>,
    /// Descriptor (WASM tools).
    pub descriptor: Option<ToolDescriptor>,
}

/// A stored component.
#[derive(Debug, Clone)]
pub struct StoredComponent {
    /// SHA-256, hex.
    pub sha256: String,
    /// The component.
    pub bytes: Vec<u8>,
    /// Its imports, as the upload response listed them.
    pub imports: Value,
}

fn from_row(row: &AnyRow) -> Result<StoredTool, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(StoredTool {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        kind: ToolKind::parse(&kind)?,
        input_schema: json_column(row, "input_schema")?,
        config: json_column(row, "config")?,
        component_sha256: row.try_get("component_sha256")?,
        descriptor: optional_json_column(row, "descriptor")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "id, name, description, kind, input_schema, config, component_sha256, \
                       descriptor, created_at, updated_at";

impl Store {
    /// Stores component bytes under their hash; storing the same bytes again is a no-op.
    pub async fn put_component(
        &self,
        sha256: &str,
        bytes: &[u8],
        imports: &Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO components (sha256, bytes, size, imports, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(bytes.to_vec())
        .bind(bytes.len() as i64)
        .bind(to_json(imports))
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A stored component.
    pub async fn get_component(&self, sha256: &str) -> Result<Option<StoredComponent>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT sha256, bytes, imports FROM components WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(self.pool())
                .await?
        else {
            return Ok(None);
        };
        Ok(Some(StoredComponent {
            sha256: row.try_get("sha256")?,
            bytes: row.try_get("bytes")?,
            imports: json_column(&row, "imports")?,
        }))
    }

    /// A stored component's imports, without loading its bytes.
    pub async fn get_component_imports(&self, sha256: &str) -> Result<Option<Value>, StoreError> {
        sqlx::query("SELECT imports FROM components WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.pool())
            .await?
            .map(|row| json_column(&row, "imports"))
            .transpose()
    }

    /// Creates several tools at once (all tools of one component): all or none.
    pub async fn create_tools(
        &self,
        tools: Vec<ToolFields>,
    ) -> Result<Vec<StoredTool>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now();
        let mut ids = Vec::with_capacity(tools.len());
        for tool in tools {
            let id = new_id();
            sqlx::query(
                "INSERT INTO tools (id, name, description, kind, input_schema, config, \
                 component_sha256, descriptor, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(&id)
            .bind(&tool.name)
            .bind(&tool.description)
            .bind(tool.kind.as_str())
            .bind(to_json(&tool.input_schema))
            .bind(to_json(&tool.config))
            .bind(&tool.component_sha256)
            .bind(tool.descriptor.as_ref().map(to_json))
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        let mut created = Vec::with_capacity(ids.len());
        for id in ids {
            created.push(self.get_tool(&id).await?.ok_or(StoreError::Reference)?);
        }
        Ok(created)
    }

    /// One tool by id.
    pub async fn get_tool(&self, id: &str) -> Result<Option<StoredTool>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM tools WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// One tool by name.
    pub async fn get_tool_by_name(&self, name: &str) -> Result<Option<StoredTool>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM tools WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// Every custom tool, by name.
    pub async fn list_tools(&self) -> Result<Vec<StoredTool>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM tools ORDER BY name"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Replaces a tool's fields; `None` when it does not exist.
    pub async fn update_tool(
        &self,
        id: &str,
        tool: ToolFields,
    ) -> Result<Option<StoredTool>, StoreError> {
        let done = sqlx::query(
            "UPDATE tools SET name = $1, description = $2, kind = $3, input_schema = $4, \
             config = $5, component_sha256 = $6, descriptor = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&tool.name)
        .bind(&tool.description)
        .bind(tool.kind.as_str())
        .bind(to_json(&tool.input_schema))
        .bind(to_json(&tool.config))
        .bind(&tool.component_sha256)
        .bind(tool.descriptor.as_ref().map(to_json))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_tool(id).await
    }

    /// Deletes a tool; false when there was none.
    pub async fn delete_tool(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tools WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

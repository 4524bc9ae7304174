//! Knowledge bases and their assignment to agents. Ingestion and search build on these rows.

use super::{Store, StoreError, json_column, new_id, now, to_json};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KnowledgeBase {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it holds.
    pub description: Option<String>,
    /// Settings object (retrieval defaults, ...).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// A knowledge base linked to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KnowledgeBaseAssignment {
    /// Assignment id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The knowledge base.
    pub knowledge_base_id: String,
    /// Its name, for listings.
    pub knowledge_base_name: String,
    /// Created.
    pub created_at: String,
}

fn kb_from_row(row: &AnyRow) -> Result<KnowledgeBase, StoreError> {
    Ok(KnowledgeBase {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        settings: json_column(row, "settings")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn link_from_row(row: &AnyRow) -> Result<KnowledgeBaseAssignment, StoreError> {
    Ok(KnowledgeBaseAssignment {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        knowledge_base_id: row.try_get("knowledge_base_id")?,
        knowledge_base_name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

const COLUMNS: &str = "id, name, description, settings, created_at, updated_at";
const LINK_QUERY: &str = "SELECT a.id, a.agent_id, a.knowledge_base_id, k.name, a.created_at \
                          FROM agent_knowledge_bases a JOIN knowledge_bases k ON k.id = a.knowledge_base_id";

impl Store {
    /// Creates a knowledge base.
    pub async fn create_knowledge_base(
        &self,
        name: &str,
        description: Option<&str>,
        settings: &Value,
    ) -> Result<KnowledgeBase, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO knowledge_bases (id, name, description, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(description)
        .bind(to_json(settings))
        .bind(now())
        .execute(self.pool())
        .await?;
        self.get_knowledge_base(&id)
            .await?
            .ok_or(StoreError::Reference)
    }

    /// One knowledge base.
    pub async fn get_knowledge_base(&self, id: &str) -> Result<Option<KnowledgeBase>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM knowledge_bases WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(kb_from_row)
        .transpose()
    }

    /// Every knowledge base, oldest first.
    pub async fn list_knowledge_bases(&self) -> Result<Vec<KnowledgeBase>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM knowledge_bases ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(kb_from_row)
        .collect()
    }

    /// Replaces a knowledge base's fields.
    pub async fn update_knowledge_base(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
        settings: &Value,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        let done = sqlx::query(
            "UPDATE knowledge_bases SET name = $1, description = $2, settings = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(name)
        .bind(description)
        .bind(to_json(settings))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_knowledge_base(id).await
    }

    /// Deletes a knowledge base (and its links to agents).
    pub async fn delete_knowledge_base(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM knowledge_bases WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Links a knowledge base to an agent; [`StoreError::Conflict`] when already linked.
    pub async fn assign_knowledge_base(
        &self,
        agent_id: &str,
        knowledge_base_id: &str,
    ) -> Result<KnowledgeBaseAssignment, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO agent_knowledge_bases (id, agent_id, knowledge_base_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(agent_id)
        .bind(knowledge_base_id)
        .bind(now())
        .execute(self.pool())
        .await?;
        sqlx::query(&format!("{LINK_QUERY} WHERE a.id = $1"))
            .bind(&id)
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::from)
            .and_then(|row| link_from_row(&row))
    }

    /// An agent's knowledge bases.
    pub async fn list_knowledge_base_assignments(
        &self,
        agent_id: &str,
    ) -> Result<Vec<KnowledgeBaseAssignment>, StoreError> {
        sqlx::query(&format!(
            "{LINK_QUERY} WHERE a.agent_id = $1 ORDER BY a.created_at, a.id"
        ))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(link_from_row)
        .collect()
    }

    /// Unlinks; false when there was no such link.
    pub async fn unassign_knowledge_base(
        &self,
        agent_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM agent_knowledge_bases WHERE agent_id = $1 AND id = $2")
            .bind(agent_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

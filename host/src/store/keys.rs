//! API keys: stored as SHA-256 hashes, never in the clear.
//!
//! Keys are 40 random alphanumeric characters (~238 bits), so a fast hash is enough: there is
//! nothing to brute-force, and a slow password hash would cost every request.

use super::{Store, StoreError, json_column, new_id, now, to_json};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// Everything, including managing keys.
    #[serde(rename = "admin")]
    Admin,
    /// Everything but key management; sees every user's sessions and runs.
    #[serde(rename = "service_role", alias = "service-role")]
    ServiceRole,
    /// Read agents, their assignments, tools, knowledge bases, own sessions and runs.
    #[serde(rename = "agents:read")]
    AgentsRead,
    /// Create, change and delete agents, their assignments and knowledge bases.
    #[serde(rename = "agents:write")]
    AgentsWrite,
    /// Run agents and answer their approval requests.
    #[serde(rename = "agents:run")]
    AgentsRun,
    /// Create, change and delete custom tools.
    #[serde(rename = "tools:write")]
    ToolsWrite,
}

impl Scope {
    /// Every scope, for error messages.
    pub const ALL: [Scope; 6] = [
        Scope::Admin,
        Scope::ServiceRole,
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::AgentsRun,
        Scope::ToolsWrite,
    ];

    /// The scope's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::ServiceRole => "service_role",
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::AgentsRun => "agents:run",
            Scope::ToolsWrite => "tools:write",
        }
    }
}

/// A stored key as the API shows it: never the secret, only its first characters.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// A label for humans.
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The end user this key acts for; their sessions and runs are the only ones it sees.
    pub user_ref: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// When it was last accepted (updated at most once a minute).
    pub last_used_at: Option<String>,
}

/// What to make a key with.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Label.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// End user, if any.
    pub user_ref: Option<String>,
}

/// The characters every key starts with, so leaked keys are easy to grep for.
pub const KEY_PREFIX: &str = "corral_";

/// A new random key.
pub fn generate_secret() -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{random}")
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: json_column(row, "scopes")?,
        user_ref: row.try_get("user_ref")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

const COLUMNS: &str = "id, name, prefix, scopes, user_ref, created_at, last_used_at";

impl Store {
    /// How many keys exist (zero on first start).
    pub async fn count_keys(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    /// Stores a key for `secret`; the caller shows the secret once and forgets it.
    pub async fn create_key(&self, key: NewKey, secret: &str) -> Result<ApiKey, StoreError> {
        let id = new_id();
        let prefix: String = secret.chars().take(KEY_PREFIX.len() + 6).collect();
        sqlx::query(
            "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, user_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(&key.name)
        .bind(&prefix)
        .bind(hash(secret))
        .bind(to_json(&key.scopes))
        .bind(&key.user_ref)
        .bind(now())
        .execute(self.pool())
        .await?;
        self.get_key(&id).await?.ok_or(StoreError::Reference)
    }

    /// One key.
    pub async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// Every key, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Deletes a key; false when there was none.
    pub async fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The key whose secret is `secret`, with `last_used_at` brought up to date.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(hash(secret))
        .fetch_optional(self.pool())
        .await?;
        let Some(mut key) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        // At most one write a minute per key: a busy client must not turn every read into a
        // write (SQLite has a single writer).
        let now = now();
        let stale = match &key.last_used_at {
            None => true,
            Some(last) => minute_of(last) != minute_of(&now),
        };
        if stale {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(&key.id)
                .execute(self.pool())
                .await?;
            key.last_used_at = Some(now);
        }
        Ok(Some(key))
    }
}

/// `2026-11-23T08:23` of a stored timestamp.
fn minute_of(timestamp: &str) -> &str {
    timestamp.get(..16).unwrap_or(timestamp)
}

//! Persistence: one [`Store`] over SQLite (the embedded default) or Postgres (several server
//! instances sharing one database), with the same queries and behaviour on both.
//!
//! Both backends go through sqlx's `Any` driver so every query is written once; the two
//! migration sets in `host/migrations/{sqlite,postgres}` are kept column for column in step.
//! Columns hold only the types the `Any` driver maps on both backends: text (ids, timestamps,
//! JSON documents), 64-bit integers (flags are 0/1: `Any` cannot decode SQLite booleans) and
//! bytes.
//!
//! # Layout
//! One module per resource: [`keys`], [`agents`], [`tools`], [`assignments`],
//! [`knowledge_bases`], [`mcp_servers`], [`hooks`], [`runs`] (sessions, runs and their events).

pub mod agents;
pub mod assignments;
pub mod hooks;
pub mod keys;
pub mod knowledge_bases;
pub mod mcp_servers;
pub mod pending;
pub mod runs;
pub mod tools;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::path::Path;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file: the embedded default.
    Sqlite,
    /// A Postgres server.
    Postgres,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names a database Corral does not support.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A uniqueness rule was broken; the API turns this into a 409.
    #[error("already exists")]
    Conflict,
    /// A row refers to something that does not exist (or is still referred to).
    #[error("a referenced row does not exist or is still in use")]
    Reference,
    /// Connecting or querying failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored JSON document does not parse (the database was edited by hand?).
    #[error("stored data in column `{column}` is not valid: {reason}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                return Self::Conflict;
            }
            if db.is_foreign_key_violation() {
                return Self::Reference;
            }
        }
        Self::Database(error)
    }
}

/// The database behind the server.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// The embedded default: `corral.db` in the data directory, created on first start.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("corral.db").display())
    }

    /// Connects to `url` (`sqlite://...` or `postgres://...`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let pool = match backend {
            // SQLite takes one writer at a time; a small pool avoids queueing on its lock and
            // WAL lets readers go on while a write commits.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA journal_mode = WAL")
                                .execute(&mut *conn)
                                .await?;
                            // In WAL mode NORMAL syncs at checkpoints, not at every commit: a
                            // crash of the process (kill -9 included) loses nothing; only an OS
                            // crash or power cut may lose the last commits. Every run event is a
                            // commit, so FULL would cost an fsync per streamed chunk.
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .connect(url)
                    .await?
            }
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&pool).await?;
        Ok(Self { pool, backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the resource modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL with any password removed, safe to print.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Now, as stored: RFC 3339 UTC with microseconds, fixed width so text order is time order.
pub fn now() -> String {
    timestamp(time::OffsetDateTime::now_utc())
}

/// A UTC time as stored (see [`now`]).
pub fn timestamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// A fresh id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Serialises a value for a JSON text column.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Reads a JSON text column.
pub(crate) fn json_column<T: DeserializeOwned>(
    row: &AnyRow,
    column: &'static str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

/// Reads a nullable JSON text column.
pub(crate) fn optional_json_column<T: DeserializeOwned>(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
            column,
            reason: e.to_string(),
        })
    })
    .transpose()
}

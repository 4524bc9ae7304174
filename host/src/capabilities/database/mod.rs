//! `corral:tool/database`: SQL against the operator's data database, scoped per assignment.
//!
//! The grant is the assignment's `config_override.schemas` (`{schema: [table, ...]}`); without
//! one, every call is `denied`. With one, each statement goes through:
//! 1. [`statement::check`]: parsed in the database's dialect, exactly one statement of the
//!    kind the call accepts, every relation granted, no denied function; every table name is
//!    rewritten fully qualified;
//! 2. the backend ([`sqlite`] or [`postgres`]): bound parameters, a statement timeout, a row
//!    and size cap, a read-only transaction for queries, and the engine's own guard (SQLite's
//!    authorizer, Postgres' `READ ONLY` and pinned search path).

pub mod limits;
mod pg_binary;
mod postgres;
pub mod scope;
mod sqlite;
pub mod statement;

use crate::bindings::corral::tool::database::{self as wit, DatabaseError, QueryResult, SqlValue};
use limits::DatabaseLimits;
use scope::DatabaseScope;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use statement::{Access, Dialect};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasData, Linker};

/// The file name of the default SQLite data database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "data.db";

/// The operator's data database: where `database_query` and `database_write` run. Separate
/// from the server's own database, so no grant can ever name Corral's tables.
#[derive(Debug, Clone)]
pub enum DataDatabase {
    /// A SQLite file; a fresh connection per statement.
    Sqlite(PathBuf),
    /// A Postgres server, through a small lazily connecting pool.
    Postgres(PgPool),
}

/// Why a data database URL is unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid data database URL: {0}")]
pub struct DataDatabaseError(String);

impl DataDatabase {
    /// The data database at `url`: `sqlite://PATH` / `sqlite:PATH`, or `postgres://...`.
    /// Nothing is opened until a tool runs a statement.
    pub fn from_url(url: &str) -> Result<Self, DataDatabaseError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy(url)
                .map_err(|e| DataDatabaseError(e.to_string()))?;
            return Ok(Self::Postgres(pool));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                DataDatabaseError(format!(
                    "{url:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE"
                ))
            })?;
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            return Err(DataDatabaseError(
                "a SQLite data database needs a file path (an in-memory one would be empty \
                 for every statement)"
                    .into(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// Checks `url` without connecting or opening anything.
    pub fn check_url(url: &str) -> Result<(), DataDatabaseError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return url
                .parse::<sqlx::postgres::PgConnectOptions>()
                .map(|_| ())
                .map_err(|e| DataDatabaseError(e.to_string()));
        }
        Self::from_url(url).map(|_| ())
    }

    /// The SQL dialect statements are parsed in.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Checks `sql` against `scope` and runs it.
    pub async fn run(
        &self,
        sql: &str,
        access: Access,
        scope: &Arc<DatabaseScope>,
        params: Vec<SqlValue>,
        limits: DatabaseLimits,
    ) -> Result<Outcome, DatabaseError> {
        let checked =
            statement::check(sql, self.dialect(), access, scope).map_err(|e| match e {
                statement::StatementError::Invalid(m) => DatabaseError::InvalidQuery(m),
                statement::StatementError::Denied(m) => DatabaseError::Denied(m),
            })?;
        match self {
            Self::Sqlite(path) => {
                let (path, scope) = (path.clone(), scope.clone());
                tokio::task::spawn_blocking(move || {
                    sqlite::run(&path, &checked, access, &scope, &params, limits)
                })
                .await
                .map_err(|e| DatabaseError::Failed(format!("the statement was lost: {e}")))?
            }
            Self::Postgres(pool) => postgres::run(pool, &checked, access, &params, limits).await,
        }
    }
}

/// What a statement produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A query's rows.
    Rows(QueryResult),
    /// A write's affected row count.
    Affected(u64),
}

/// Per-call database state: the data database and this assignment's scope, if granted.
#[derive(Debug, Clone, Default)]
pub struct DatabaseCtx {
    grant: Option<(DataDatabase, Arc<DatabaseScope>)>,
    limits: DatabaseLimits,
}

impl DatabaseCtx {
    /// No database access.
    pub fn denied() -> Self {
        Self::default()
    }

    /// Access to the tables of `scope` in `database`, each statement within `limits`.
    pub fn granted(
        database: DataDatabase,
        scope: Arc<DatabaseScope>,
        limits: DatabaseLimits,
    ) -> Self {
        Self {
            grant: Some((database, scope)),
            limits,
        }
    }

    async fn run(
        &self,
        sql: String,
        params: Vec<SqlValue>,
        access: Access,
    ) -> Result<Outcome, DatabaseError> {
        let Some((database, scope)) = &self.grant else {
            return Err(DatabaseError::Denied(
                "no database access is granted to this tool assignment (the operator grants \
                 tables with config_override.schemas)"
                    .into(),
            ));
        };
        let result = database.run(&sql, access, scope, params, self.limits).await;
        if let Err(error) = &result {
            tracing::info!(?access, error = ?error, "database statement refused or failed");
        }
        result
    }
}

/// Borrowed view the generated `Host` trait is implemented for.
pub struct DatabaseView<'a> {
    ctx: &'a DatabaseCtx,
}

impl<'a> DatabaseView<'a> {
    /// A view over `ctx`.
    pub fn new(ctx: &'a DatabaseCtx) -> Self {
        Self { ctx }
    }
}

impl wit::Host for DatabaseView<'_> {
    async fn query(
        &mut self,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<QueryResult, DatabaseError>> {
        Ok(match self.ctx.run(sql, params, Access::Read).await {
            Ok(Outcome::Rows(rows)) => Ok(rows),
            Ok(Outcome::Affected(_)) => {
                Err(DatabaseError::Failed("a query returned no rows".into()))
            }
            Err(e) => Err(e),
        })
    }

    async fn execute(
        &mut self,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<u64, DatabaseError>> {
        Ok(match self.ctx.run(sql, params, Access::Write).await {
            Ok(Outcome::Affected(n)) => Ok(n),
            Ok(Outcome::Rows(_)) => Err(DatabaseError::Failed("a write returned rows".into())),
            Err(e) => Err(e),
        })
    }
}

struct HasDatabase;

impl HasData for HasDatabase {
    type Data<'a> = DatabaseView<'a>;
}

/// Adds `corral:tool/database` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> DatabaseView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasDatabase>(linker, view)
}

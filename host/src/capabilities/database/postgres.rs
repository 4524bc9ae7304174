//! Running a checked statement on a PostgreSQL data database.
//!
//! Each statement runs in its own transaction with `statement_timeout` set, the search path
//! pinned to `pg_catalog, pg_temp` (the checked SQL names every table with its schema, so
//! nothing the operator's search path holds can be reached by an unqualified name), and, for
//! queries, `READ ONLY`, which Postgres itself enforces on every write, including ones buried in
//! functions. Queries are always rolled back.

use super::Outcome;
use super::limits::{DatabaseLimits, ResultBuilder};
use super::statement::{Access, CheckedStatement};
use crate::bindings::corral::tool::database::{DatabaseError, SqlValue};
use futures::TryStreamExt;
use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo, PgValueRef};
use sqlx::{Column, Executor, PgPool, Postgres, Row, TypeInfo, ValueRef};

/// Runs `statement` in a fresh transaction from `pool`.
pub(super) async fn run(
    pool: &PgPool,
    statement: &CheckedStatement,
    access: Access,
    params: &[SqlValue],
    limits: DatabaseLimits,
) -> Result<Outcome, DatabaseError> {
    let bounded = tokio::time::timeout(
        limits.timeout + std::time::Duration::from_secs(1),
        run_unbounded(pool, statement, access, params, limits),
    );
    bounded.await.unwrap_or_else(|_| Err(timeout_error(limits)))
}

async fn run_unbounded(
    pool: &PgPool,
    statement: &CheckedStatement,
    access: Access,
    params: &[SqlValue],
    limits: DatabaseLimits,
) -> Result<Outcome, DatabaseError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| DatabaseError::Failed(format!("the data database cannot be reached: {e}")))?;
    let mut setup = Vec::new();
    if access == Access::Read {
        setup.push("SET TRANSACTION READ ONLY".to_string());
    }
    setup.push(format!(
        "SET LOCAL statement_timeout = {}",
        limits.timeout.as_millis().max(1)
    ));
    setup.push("SET LOCAL search_path = pg_catalog, pg_temp".into());
    for sql in &setup {
        tx.execute(sqlx::query(sql))
            .await
            .map_err(|e| classify(e, limits))?;
    }

    let mut query = sqlx::query::<Postgres>(&statement.sql).persistent(false);
    for param in params {
        query = bind(query, param);
    }
    match access {
        Access::Write => {
            let done = query
                .execute(&mut *tx)
                .await
                .map_err(|e| classify(e, limits))?;
            tx.commit().await.map_err(|e| classify(e, limits))?;
            Ok(Outcome::Affected(done.rows_affected()))
        }
        Access::Read => {
            let mut builder: Option<ResultBuilder> = None;
            {
                let mut rows = query.fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(|e| classify(e, limits))? {
                    let builder = builder
                        .get_or_insert_with(|| ResultBuilder::new(column_names(&row), limits));
                    if !builder.push(row_values(&row)) {
                        break;
                    }
                }
            }
            let result = match builder {
                Some(builder) => builder.finish(),
                None => {
                    // No rows: ask for the columns, so the guest still learns the shape.
                    let described = (&mut *tx)
                        .describe(&statement.sql)
                        .await
                        .map_err(|e| classify(e, limits))?;
                    let columns = described
                        .columns()
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect();
                    ResultBuilder::new(columns, limits).finish()
                }
            };
            tx.rollback().await.map_err(|e| classify(e, limits))?;
            Ok(Outcome::Rows(result))
        }
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind<'q>(query: PgQuery<'q>, param: &SqlValue) -> PgQuery<'q> {
    match param {
        SqlValue::Null => query.bind(UntypedNull),
        SqlValue::Boolean(b) => query.bind(*b),
        SqlValue::Integer(i) => query.bind(*i),
        SqlValue::Real(f) => query.bind(*f),
        SqlValue::Text(s) => query.bind(s.clone()),
        SqlValue::Blob(b) => query.bind(b.clone()),
    }
}

/// A NULL parameter whose type Postgres infers from its place in the statement (type oid 0,
/// "unspecified"), so `INSERT INTO t (n) VALUES ($1)` takes NULL whatever the column's type.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

fn column_names(row: &PgRow) -> Vec<String> {
    row.columns().iter().map(|c| c.name().to_string()).collect()
}

fn row_values(row: &PgRow) -> Vec<SqlValue> {
    (0..row.len())
        .map(|i| match row.try_get_raw(i) {
            Ok(raw) => decode(raw),
            Err(e) => SqlValue::Text(format!("(unreadable value: {e})")),
        })
        .collect()
}

/// One result cell, from Postgres' binary format. Hand-written because sqlx decodes these
/// types only behind features that pull in big crates (bigdecimal, chrono), and the wire
/// formats of the few types that matter here are small and stable.
fn decode(raw: PgValueRef<'_>) -> SqlValue {
    if raw.is_null() {
        return SqlValue::Null;
    }
    let type_name = raw.type_info().name().to_string();
    let Ok(bytes) = raw.as_bytes() else {
        return SqlValue::Null;
    };
    super::pg_binary::decode(&type_name, bytes)
}

fn timeout_error(limits: DatabaseLimits) -> DatabaseError {
    DatabaseError::Failed(format!(
        "the statement did not finish within {} ms and was stopped",
        limits.timeout.as_millis()
    ))
}

/// Postgres' errors, told apart for the guest by SQLSTATE.
fn classify(e: sqlx::Error, limits: DatabaseLimits) -> DatabaseError {
    let Some(db) = e.as_database_error() else {
        return DatabaseError::Failed(format!("the data database failed: {e}"));
    };
    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
    let message = db.message().to_string();
    match code.as_str() {
        "57014" => timeout_error(limits),
        "25006" => DatabaseError::Denied(format!("read-only query: {message}")),
        "42501" => DatabaseError::Denied(format!("the database refused: {message}")),
        c if c.starts_with("42") || c.starts_with("22") || c.starts_with("23") => {
            DatabaseError::InvalidQuery(format!("the database reported: {message} (SQLSTATE {c})"))
        }
        c => DatabaseError::Failed(format!("the database reported: {message} (SQLSTATE {c})")),
    }
}

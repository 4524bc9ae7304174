//! Running a checked statement on a SQLite data database.
//!
//! Two checks guard every statement here: the parser's (`statement.rs`), and SQLite's own
//! authorizer, which the engine calls for every table and column it is about to read or write
//! and every function it is about to call, after resolving names exactly as it will run them.
//! A statement that somehow slipped past the parser still cannot touch an ungranted table.
//! Reads also run on a read-only connection with `query_only` on.
//!
//! rusqlite rather than the server's sqlx pool: sqlx exposes neither the authorizer nor the
//! progress handler (our statement timeout), and a fresh connection per call keeps no state.

use super::Outcome;
use super::limits::{DatabaseLimits, ResultBuilder};
use super::scope::DatabaseScope;
use super::statement::{Access, CheckedStatement, Dialect, function_denied};
use crate::bindings::corral::tool::database::{DatabaseError, SqlValue};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Runs `statement` on the SQLite file at `path`. Blocking: call it off the async workers.
pub(super) fn run(
    path: &Path,
    statement: &CheckedStatement,
    access: Access,
    scope: &Arc<DatabaseScope>,
    params: &[SqlValue],
    limits: DatabaseLimits,
) -> Result<Outcome, DatabaseError> {
    if let Some(other) = scope.schema_names().find(|s| !s.eq_ignore_ascii_case("main")) {
        return Err(DatabaseError::Denied(format!(
            "the data database is SQLite, whose only schema is `main`; the grant names `{other}` \
             (grant {{\"main\": [tables...]}} instead)"
        )));
    }
    let flags = match access {
        Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        DatabaseError::Failed(format!("the data database cannot be opened: {e}"))
    })?;
    conn.busy_timeout(limits.timeout).map_err(failed)?;
    // No attaching other files, and no string or blob larger than the result cap.
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0);
    conn.set_limit(
        Limit::SQLITE_LIMIT_LENGTH,
        i32::try_from(limits.max_result_bytes.max(1024)).unwrap_or(i32::MAX),
    );
    if access == Access::Read {
        conn.pragma_update(None, "query_only", true).map_err(failed)?;
    }
    let deadline = Instant::now() + limits.timeout;
    conn.progress_handler(1_000, Some(move || Instant::now() >= deadline));
    conn.execute_batch(match access {
        Access::Read => "BEGIN",
        Access::Write => "BEGIN IMMEDIATE",
    })
    .map_err(|e| classify(e, limits))?;

    conn.authorizer(Some(authorizer(scope.clone(), access)));
    let outcome = execute(&conn, statement, access, params, limits);
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
    let end = match (&outcome, access) {
        (Ok(_), Access::Write) => "COMMIT",
        _ => "ROLLBACK",
    };
    conn.execute_batch(end).map_err(|e| classify(e, limits))?;
    outcome
}

fn execute(
    conn: &Connection,
    statement: &CheckedStatement,
    access: Access,
    params: &[SqlValue],
    limits: DatabaseLimits,
) -> Result<Outcome, DatabaseError> {
    let mut prepared = conn
        .prepare(&statement.sql)
        .map_err(|e| classify(e, limits))?;
    let expected = prepared.parameter_count();
    if expected != params.len() {
        return Err(DatabaseError::InvalidQuery(format!(
            "the statement has {expected} parameter placeholder(s) but {} parameter(s) were given",
            params.len()
        )));
    }
    let bound: Vec<Bound<'_>> = params.iter().map(Bound).collect();
    match access {
        Access::Write => {
            let affected = prepared
                .execute(rusqlite::params_from_iter(bound.iter()))
                .map_err(|e| classify(e, limits))?;
            Ok(Outcome::Affected(affected as u64))
        }
        Access::Read => {
            let columns: Vec<String> = prepared
                .column_names()
                .into_iter()
                .map(str::to_string)
                .collect();
            let width = columns.len();
            let mut result = ResultBuilder::new(columns, limits);
            let mut rows = prepared
                .query(rusqlite::params_from_iter(bound.iter()))
                .map_err(|e| classify(e, limits))?;
            while let Some(row) = rows.next().map_err(|e| classify(e, limits))? {
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    values.push(value(row.get_ref(i).map_err(failed)?));
                }
                if !result.push(values) {
                    break;
                }
            }
            Ok(Outcome::Rows(result.finish()))
        }
    }
}

/// SQLite's own check of every table, column and function the statement uses.
fn authorizer(
    scope: Arc<DatabaseScope>,
    access: Access,
) -> impl for<'r> FnMut(AuthContext<'r>) -> Authorization + Send + 'static {
    move |ctx: AuthContext<'_>| {
        // Inside a view or trigger the operator defined: those run with the operator's
        // authority (a granted view may read tables the tool cannot name itself).
        let by_operator = ctx.accessor.is_some();
        let granted = |table: &str| {
            by_operator
                || ctx.database_name.is_some_and(|db| {
                    db.eq_ignore_ascii_case("main") && scope.grants("main", table, Dialect::Sqlite)
                })
        };
        let allowed = match ctx.action {
            AuthAction::Select | AuthAction::Recursive => true,
            AuthAction::Read { table_name, .. } => granted(table_name),
            AuthAction::Function { function_name } => !function_denied(function_name),
            AuthAction::Insert { table_name }
            | AuthAction::Update { table_name, .. }
            | AuthAction::Delete { table_name } => access == Access::Write && granted(table_name),
            _ => false,
        };
        if allowed {
            Authorization::Allow
        } else {
            Authorization::Deny
        }
    }
}

struct Bound<'a>(&'a SqlValue);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlValue::Null => ToSqlOutput::Owned(Value::Null),
            SqlValue::Boolean(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            SqlValue::Integer(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            SqlValue::Real(f) => ToSqlOutput::Owned(Value::Real(*f)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn value(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

fn failed(e: rusqlite::Error) -> DatabaseError {
    DatabaseError::Failed(format!("the database reported: {e}"))
}

/// SQLite's errors, told apart for the guest: refusals, timeouts, mistakes.
fn classify(e: rusqlite::Error, limits: DatabaseLimits) -> DatabaseError {
    use rusqlite::ffi::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::AuthorizationForStatementDenied) => DatabaseError::Denied(
            "the database refused the statement: it reads or writes a table, or calls a \
             function, outside this tool's grant"
                .into(),
        ),
        Some(ErrorCode::OperationInterrupted) => DatabaseError::Failed(format!(
            "the statement did not finish within {} ms and was stopped",
            limits.timeout.as_millis()
        )),
        Some(ErrorCode::ReadOnly) => {
            DatabaseError::Denied("the statement tried to write during a read-only query".into())
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DatabaseError::Failed(
            "the data database is busy (another write holds it); try again".into(),
        ),
        _ => failed(e),
    }
}

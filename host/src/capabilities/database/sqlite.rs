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
    if let Some(other) = scope
        .schema_names()
        .find(|s| !s.eq_ignore_ascii_case("main"))
    {
        return Err(DatabaseError::Denied(format!(
            "the data database is SQLite, whose only schema is `main`; the grant names `{other}` \
             (grant {{\"main\": [tables...]}} instead)"
        )));
    }
    let flags = match access {
        Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| DatabaseError::Failed(format!("the data database cannot be opened: {e}")))?;
    conn.busy_timeout(limits.timeout).map_err(failed)?;
    // No attaching other files, and no string or blob larger than the result cap.
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0);
    conn.set_limit(
        Limit::SQLITE_LIMIT_LENGTH,
        i32::try_from(limits.max_result_bytes.max(1024)).unwrap_or(i32::MAX),
    );
    if access == Access::Read {
        conn.pragma_update(None, "query_only", true)
            .map_err(failed)?;
    }
    let deadline = Instant::now() + limits.timeout;
    conn.progress_handler(1_000, Some(move || Instant::now() >= deadline));
    conn.execute_batch(match access {
        Access::Read => "BEGIN",
        Access::Write => "BEGIN IMMEDIATE",
    })
    .map_err(|e| classify(e, limits))?;

    let operator_objects = views_and_triggers(&conn, &statement.ctes).map_err(failed)?;
    conn.authorizer(Some(authorizer(scope.clone(), access, operator_objects)));
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

/// The operator's views and triggers, minus any name the statement declares as a CTE (SQLite
/// reports a CTE as the "accessor" of the reads inside it, exactly as it reports a view).
fn views_and_triggers(conn: &Connection, ctes: &[String]) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT lower(name) FROM main.sqlite_master WHERE type IN ('view', 'trigger')")?;
    let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
    let mut objects = Vec::new();
    for name in names {
        let name = name?;
        if !ctes.iter().any(|cte| cte.eq_ignore_ascii_case(&name)) {
            objects.push(name);
        }
    }
    Ok(objects)
}

/// SQLite's own check of every table, column and function the statement uses.
fn authorizer(
    scope: Arc<DatabaseScope>,
    access: Access,
    operator_objects: Vec<String>,
) -> impl for<'r> FnMut(AuthContext<'r>) -> Authorization + Send + 'static {
    move |ctx: AuthContext<'_>| {
        // Inside a view or trigger the operator defined, SQLite acts with the operator's
        // authority (a granted view may read tables the tool cannot name itself).
        let by_operator = ctx
            .accessor
            .is_some_and(|a| operator_objects.iter().any(|o| o.eq_ignore_ascii_case(a)));
        let granted = |table: &str| {
            by_operator
                || ctx.database_name.is_some_and(|db| {
                    db.eq_ignore_ascii_case("main") && scope.grants("main", table, Dialect::Sqlite)
                })
        };
        let allowed = match ctx.action {
            AuthAction::Select | AuthAction::Recursive => true,
            // No database: a CTE or subquery result, not a stored table.
            AuthAction::Read { .. } if ctx.database_name.is_none() => true,
            AuthAction::Read { table_name, .. } => {
                granted(table_name) || TABLE_FUNCTIONS.contains(&table_name.to_lowercase().as_str())
            }
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

/// SQLite's table-valued functions the parser lets through (they read only their arguments);
/// the engine reports their columns as reads of a table with the function's name.
const TABLE_FUNCTIONS: &[&str] = &["json_each", "json_tree"];

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Statements handed straight to the engine, as if the parser had missed them: SQLite's
    /// authorizer alone must still refuse every ungranted table.
    #[test]
    fn the_authorizer_alone_keeps_unchecked_sql_inside_the_grant() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE notes (id INTEGER, body TEXT);
                 CREATE TABLE secrets (token TEXT);
                 INSERT INTO secrets VALUES ('TOPSECRET');
                 INSERT INTO notes VALUES (1, 'hi');
                 CREATE VIEW public_notes AS SELECT n.body, s.token FROM notes n, secrets s;",
            )
            .unwrap();
        let scope = Arc::new(DatabaseScope::new([(
            "main",
            &["notes", "public_notes"][..],
        )]));
        let run_raw = |sql: &str, ctes: &[&str], access: Access| {
            let statement = CheckedStatement {
                sql: sql.into(),
                tables: Vec::new(),
                ctes: ctes.iter().map(|c| c.to_string()).collect(),
            };
            run(
                &path,
                &statement,
                access,
                &scope,
                &[],
                DatabaseLimits::default(),
            )
        };
        for (sql, ctes) in [
            ("SELECT * FROM secrets", &[][..]),
            (
                "WITH a AS (SELECT token FROM secrets) SELECT * FROM a",
                &["a"][..],
            ),
            // A CTE named like the operator's view does not borrow its authority.
            (
                "WITH public_notes AS (SELECT token FROM secrets) SELECT * FROM public_notes",
                &["public_notes"][..],
            ),
            ("SELECT * FROM sqlite_master", &[][..]),
        ] {
            assert!(
                matches!(
                    run_raw(sql, ctes, Access::Read),
                    Err(DatabaseError::Denied(_))
                ),
                "{sql}"
            );
        }
        // Not even compiled in: extension loading stays off in our connections.
        assert!(run_raw("SELECT load_extension('x')", &[], Access::Read).is_err());
        assert!(matches!(
            run_raw("DELETE FROM secrets", &[], Access::Write),
            Err(DatabaseError::Denied(_))
        ));
        assert!(matches!(
            run_raw("INSERT INTO notes VALUES (2, 'x')", &[], Access::Read),
            Err(DatabaseError::Denied(_))
        ));
        // The operator's granted view reads what it was defined to read.
        assert!(matches!(
            run_raw("SELECT * FROM public_notes", &[], Access::Read),
            Ok(Outcome::Rows(r)) if r.rows.len() == 1
        ));
    }
}

//! The statement check: the host's answer to "may this SQL run under this grant?".
//!
//! A guest's SQL is parsed with `sqlparser` in the data database's dialect and must be exactly
//! one statement of the kind the call accepts (a query for `query`, INSERT/UPDATE/DELETE for
//! `execute`). Every relation it names, in joins, subqueries, CTEs and set operations, must be
//! a granted table, and every function outside a deny-list. The statement that runs is the
//! parsed one printed back, with **every table name fully qualified** with the schema the check
//! resolved it to: what was checked is what runs, whatever the database's search path says.
//!
//! Names left unqualified are CTE references only. The executors make those unable to reach
//! anything else (Postgres: `search_path = pg_catalog, pg_temp` and no CTE may be named `pg_*`;
//! SQLite: the authorizer checks every table read or written by the engine itself).

use super::scope::DatabaseScope;
use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, TableObject,
    VisitMut, VisitorMut,
};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 64 * 1024;

/// The data database's SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one schema, `main`; identifiers case-insensitive.
    Sqlite,
    /// PostgreSQL: unquoted identifiers fold to lower case, quoted ones are exact.
    Postgres,
}

/// What kind of statement a call accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `SELECT` / `WITH ... SELECT` / `VALUES`, run read-only.
    Read,
    /// One `INSERT`, `UPDATE` or `DELETE`.
    Write,
}

/// Why a statement may not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// It does not parse, or is not one statement of the accepted kind.
    #[error("{0}")]
    Invalid(String),
    /// It reaches outside the grant or uses a forbidden function.
    #[error("{0}")]
    Denied(String),
}

/// A statement that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedStatement {
    /// The SQL to run: the parsed statement printed back with every table qualified.
    pub sql: String,
    /// Every granted table it touches, as `(schema, table)`, in order of appearance.
    pub tables: Vec<(String, String)>,
    /// Every CTE name it declares (normalized), at any depth.
    pub ctes: Vec<String>,
}

/// Functions no statement may call, whatever the grant: they read or write files, reach other
/// databases or the network, run SQL given as text (which would skip this check), change
/// settings, signal other sessions, or touch sequences outside the grant. Matched on the
/// lower-cased last part of the name.
const DENIED_FUNCTIONS: &[&str] = &[
    // Postgres: SQL as text, settings, sequences, client/server info.
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xml_and_xmlschema",
    "table_to_xmlschema",
    "schema_to_xml",
    "schema_to_xml_and_xmlschema",
    "schema_to_xmlschema",
    "database_to_xml",
    "database_to_xml_and_xmlschema",
    "database_to_xmlschema",
    "ts_stat",
    "ts_rewrite",
    "set_config",
    "current_setting",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "inet_server_addr",
    "inet_server_port",
    "inet_client_addr",
    "inet_client_port",
    "txid_current",
    "xmlparse",
    // SQLite: extensions and the CLI's file functions.
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

/// Name prefixes no function may have: Postgres' admin and file functions (`pg_read_file`,
/// `pg_ls_dir`, `pg_sleep`, `pg_terminate_backend`, `pg_advisory_lock`, ...), large objects
/// (`lo_import`, `lo_export`), `dblink*`, the `http` extension, SQLite's internals.
const DENIED_PREFIXES: &[&str] = &["pg_", "lo_", "dblink", "http", "binary_upgrade", "sqlite_"];

/// Functions allowed despite a denied prefix.
const ALLOWED_DESPITE_PREFIX: &[&str] = &["sqlite_version"];

/// Table-valued functions a `FROM` clause may call: they only unfold their arguments.
const ALLOWED_TABLE_FUNCTIONS: &[&str] = &[
    "json_each",
    "json_tree",
    "jsonb_each",
    "jsonb_each_text",
    "json_each_text",
    "json_array_elements",
    "jsonb_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "generate_series",
    "unnest",
];

/// Whether the function `name` (any case) is on the deny-list.
pub fn function_denied(name: &str) -> bool {
    let name = name.to_lowercase();
    DENIED_FUNCTIONS.contains(&name.as_str())
        || (DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
            && !ALLOWED_DESPITE_PREFIX.contains(&name.as_str()))
}

/// Checks `sql` against `scope` and returns the statement to run.
pub fn check(
    sql: &str,
    dialect: Dialect,
    access: Access,
    scope: &DatabaseScope,
) -> Result<CheckedStatement, StatementError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(StatementError::Invalid(format!(
            "the SQL is {} bytes; at most {MAX_SQL_BYTES} are accepted",
            sql.len()
        )));
    }
    let parsed = match dialect {
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, sql),
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
    }
    .map_err(|e| StatementError::Invalid(format!("the SQL does not parse: {e}")))?;
    let mut statement = match <[Statement; 1]>::try_from(parsed) {
        Ok([statement]) => statement,
        Err(statements) if statements.is_empty() => {
            return Err(StatementError::Invalid("the SQL holds no statement".into()));
        }
        Err(statements) => {
            return Err(StatementError::Invalid(format!(
                "exactly one statement is accepted, the SQL holds {}",
                statements.len()
            )));
        }
    };
    check_kind(&statement, access)?;
    let mut checker = Checker {
        dialect,
        scope,
        ctes: Vec::new(),
        allowed_table_function: false,
        tables: Vec::new(),
        all_ctes: Vec::new(),
    };
    if let ControlFlow::Break(error) = statement.visit(&mut checker) {
        return Err(error);
    }
    Ok(CheckedStatement {
        sql: statement.to_string(),
        tables: checker.tables,
        ctes: checker.all_ctes,
    })
}

/// The statement's top-level kind must match the call.
fn check_kind(statement: &Statement, access: Access) -> Result<(), StatementError> {
    let kind = statement_kind(statement);
    match (access, statement) {
        (Access::Read, Statement::Query(_)) => Ok(()),
        (Access::Read, _) => Err(StatementError::Invalid(format!(
            "database_query runs only queries (SELECT, WITH ... SELECT, VALUES), not {kind}"
        ))),
        (Access::Write, Statement::Insert(insert)) => match insert.table {
            TableObject::TableName(_) => Ok(()),
            _ => Err(StatementError::Invalid(
                "INSERT must name a table".to_string(),
            )),
        },
        (Access::Write, Statement::Delete(delete)) if !delete.tables.is_empty() => Err(
            StatementError::Invalid("multi-table DELETE is not supported".into()),
        ),
        (Access::Write, Statement::Update(_) | Statement::Delete(_)) => Ok(()),
        (Access::Write, _) => Err(StatementError::Invalid(format!(
            "database_write runs only one INSERT, UPDATE or DELETE, not {kind}"
        ))),
    }
}

/// A short name of the statement's kind, for messages (`DROP`, `COPY`, `COMMIT`, ...).
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    match words.as_slice() {
        [] => "an empty statement".into(),
        [first] => first.to_ascii_uppercase(),
        [first, second] => {
            let first = first.to_ascii_uppercase();
            if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER" | "TRUNCATE") {
                format!("{first} {}", second.to_ascii_uppercase())
            } else {
                first
            }
        }
        _ => unreachable!("take(2)"),
    }
}

struct Checker<'a> {
    dialect: Dialect,
    scope: &'a DatabaseScope,
    /// CTE names of the enclosing queries, innermost last.
    ctes: Vec<Vec<String>>,
    /// Set when the next relation visited is the name of an allowed table function.
    allowed_table_function: bool,
    tables: Vec<(String, String)>,
    all_ctes: Vec<String>,
}

impl Checker<'_> {
    /// The name as the database will see it: Postgres folds unquoted names to lower case;
    /// SQLite compares every name case-insensitively, so it is lower-cased either way.
    fn normalize(&self, ident: &Ident) -> String {
        match (self.dialect, ident.quote_style) {
            (Dialect::Postgres, Some(_)) => ident.value.clone(),
            _ => ident.value.to_lowercase(),
        }
    }

    fn idents<'n>(&self, name: &'n ObjectName) -> Result<Vec<&'n Ident>, StatementError> {
        name.0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => Ok(ident),
                ObjectNamePart::Function(_) => Err(StatementError::Invalid(format!(
                    "computed object names are not supported: {name}"
                ))),
            })
            .collect()
    }

    fn is_cte(&self, name: &str) -> bool {
        self.ctes.iter().flatten().any(|cte| cte == name)
    }

    /// Checks one relation name and rewrites it to `"schema"."table"`.
    fn relation(&mut self, relation: &mut ObjectName) -> Result<(), StatementError> {
        let idents = self.idents(relation)?;
        let (schema, table) = match idents.as_slice() {
            [table] => {
                let table = self.normalize(table);
                if self.is_cte(&table) {
                    return Ok(());
                }
                let schemas = self.scope.schemas_with_table(&table, self.dialect);
                match schemas.as_slice() {
                    [schema] => (schema.to_string(), table),
                    [] => return Err(self.not_granted(None, &table)),
                    several => {
                        return Err(StatementError::Invalid(format!(
                            "table {table:?} is granted in several schemas ({}); qualify it, e.g. {}.{table}",
                            several.join(", "),
                            several[0]
                        )));
                    }
                }
            }
            [schema, table] => {
                let (schema, table) = (self.normalize(schema), self.normalize(table));
                if !self.scope.grants(&schema, &table, self.dialect) {
                    return Err(self.not_granted(Some(&schema), &table));
                }
                (schema, table)
            }
            _ => {
                return Err(StatementError::Denied(format!(
                    "{relation}: names with a database part are not allowed; use schema.table"
                )));
            }
        };
        let (schema, table) = self.scope.canonical(&schema, &table, self.dialect);
        *relation = ObjectName::from(vec![
            Ident::with_quote('"', schema.clone()),
            Ident::with_quote('"', table.clone()),
        ]);
        self.tables.push((schema, table));
        Ok(())
    }

    fn not_granted(&self, schema: Option<&str>, table: &str) -> StatementError {
        let name = schema.map_or_else(|| table.to_string(), |s| format!("{s}.{table}"));
        StatementError::Denied(format!(
            "table {name} is not granted to this tool (granted: {})",
            self.scope.describe()
        ))
    }

    fn function(&self, name: &ObjectName) -> Result<(), StatementError> {
        let idents = self.idents(name)?;
        let Some(last) = idents.last() else {
            return Ok(());
        };
        let function = last.value.to_lowercase();
        if function_denied(&function) {
            return Err(StatementError::Denied(format!(
                "the function {function}() is not allowed"
            )));
        }
        match idents.as_slice() {
            [_] => Ok(()),
            [schema, _] => {
                let schema = self.normalize(schema);
                let builtin = self.dialect == Dialect::Postgres && schema == "pg_catalog";
                if builtin || self.scope.has_schema(&schema, self.dialect) {
                    Ok(())
                } else {
                    Err(StatementError::Denied(format!(
                        "{name}(): functions of schema {schema} are not allowed (it is not granted)"
                    )))
                }
            }
            _ => Err(StatementError::Denied(format!(
                "{name}(): names with a database part are not allowed"
            ))),
        }
    }

    fn query(&mut self, query: &Query) -> Result<(), StatementError> {
        if !query.locks.is_empty() {
            return Err(StatementError::Invalid(
                "row locks (FOR UPDATE / FOR SHARE) are not allowed".into(),
            ));
        }
        check_set_expr(&query.body)?;
        let mut names = Vec::new();
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = self.normalize(&cte.alias.name);
                if self.dialect == Dialect::Postgres && name.starts_with("pg_") {
                    return Err(StatementError::Invalid(format!(
                        "a CTE may not be named {name}: names starting with pg_ belong to the system catalog"
                    )));
                }
                check_set_expr(&cte.query.body)?;
                self.all_ctes.push(name.clone());
                names.push(name);
            }
        }
        self.ctes.push(names);
        Ok(())
    }
}

/// The body of every query, at every depth, is a plain query: no `TABLE name` shorthand (its
/// name is not a relation node, so it could slip past the relation check), no data-modifying
/// statement in a CTE or subquery, no `SELECT ... INTO` (which creates a table).
fn check_set_expr(body: &SetExpr) -> Result<(), StatementError> {
    match body {
        SetExpr::Select(select) => match &select.into {
            None => Ok(()),
            Some(_) => Err(StatementError::Invalid(
                "SELECT ... INTO creates a table and is not allowed".into(),
            )),
        },
        SetExpr::Query(_) | SetExpr::Values(_) => Ok(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Table(table) => Err(StatementError::Invalid(format!(
            "the TABLE shorthand is not supported; write SELECT * FROM {}",
            table
                .table_name
                .as_ref()
                .map_or_else(|| "...".to_string(), ToString::to_string)
        ))),
        other => Err(StatementError::Invalid(format!(
            "only queries may appear inside a statement, not {}",
            other
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or("this")
        ))),
    }
}

impl VisitorMut for Checker<'_> {
    type Break = StatementError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<StatementError> {
        into_flow(self.query(query))
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<StatementError> {
        self.ctes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<StatementError> {
        let result = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                let allowed = table_function(name);
                // Its name is visited next as a relation; that visit must not check it.
                self.allowed_table_function = allowed.is_ok();
                allowed
            }
            TableFactor::Table { .. }
            | TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. } => Ok(()),
            TableFactor::Function { name, .. } => table_function(name),
            other => Err(StatementError::Invalid(format!(
                "this FROM item is not supported: {other}"
            ))),
        };
        into_flow(result)
    }

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<StatementError> {
        if std::mem::take(&mut self.allowed_table_function) {
            return ControlFlow::Continue(());
        }
        into_flow(self.relation(relation))
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<StatementError> {
        match expr {
            Expr::Function(function) => into_flow(self.function(&function.name)),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// A table-valued function in FROM must be one that only unfolds its arguments.
fn table_function(name: &ObjectName) -> Result<(), StatementError> {
    let function = name.to_string().to_lowercase();
    if ALLOWED_TABLE_FUNCTIONS.contains(&function.as_str()) {
        Ok(())
    } else {
        Err(StatementError::Denied(format!(
            "the table function {name}() is not allowed in FROM"
        )))
    }
}

fn into_flow(result: Result<(), StatementError>) -> ControlFlow<StatementError> {
    match result {
        Ok(()) => ControlFlow::Continue(()),
        Err(error) => ControlFlow::Break(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> DatabaseScope {
        DatabaseScope::new([
            ("public", &["notes", "items"][..]),
            ("sales", &["orders"][..]),
        ])
    }

    fn pg(sql: &str, access: Access) -> Result<CheckedStatement, StatementError> {
        check(sql, Dialect::Postgres, access, &scope())
    }

    #[test]
    fn every_table_is_qualified_with_the_schema_it_was_checked_against() {
        let checked = pg(
            "SELECT n.body, o.total FROM notes n JOIN orders o ON o.note_id = n.id \
             WHERE n.id IN (SELECT id FROM public.items)",
            Access::Read,
        )
        .unwrap();
        assert_eq!(
            checked.sql,
            "SELECT n.body, o.total FROM \"public\".\"notes\" n JOIN \"sales\".\"orders\" o \
             ON o.note_id = n.id WHERE n.id IN (SELECT id FROM \"public\".\"items\")"
        );
        assert_eq!(checked.tables.len(), 3);
    }

    #[test]
    fn cte_names_stay_unqualified_and_cannot_shadow_the_catalog() {
        let checked = pg(
            "WITH recent AS (SELECT * FROM notes) SELECT * FROM recent",
            Access::Read,
        )
        .unwrap();
        assert!(
            checked.sql.ends_with("SELECT * FROM recent"),
            "{}",
            checked.sql
        );
        assert!(matches!(
            pg(
                "WITH pg_user AS (SELECT 1) SELECT * FROM pg_user",
                Access::Read
            ),
            Err(StatementError::Invalid(_))
        ));
    }

    #[test]
    fn postgres_names_fold_like_postgres() {
        assert!(pg("SELECT * FROM NOTES", Access::Read).is_ok());
        // Quoted names are exact: "NOTES" is another table.
        assert!(matches!(
            pg("SELECT * FROM \"NOTES\"", Access::Read),
            Err(StatementError::Denied(_))
        ));
        // SQLite compares every name case-insensitively.
        let sqlite = DatabaseScope::new([("main", &["notes"][..])]);
        assert!(
            check(
                "SELECT * FROM \"NOTES\"",
                Dialect::Sqlite,
                Access::Read,
                &sqlite
            )
            .is_ok()
        );
    }

    #[test]
    fn the_statement_kind_must_match_the_call() {
        assert!(pg("INSERT INTO notes (body) VALUES ($1)", Access::Write).is_ok());
        assert!(pg("INSERT INTO notes (body) VALUES ($1)", Access::Read).is_err());
        assert!(pg("SELECT 1", Access::Write).is_err());
        let drop = pg("DROP TABLE notes", Access::Write).unwrap_err();
        assert!(drop.to_string().contains("DROP TABLE"), "{drop}");
    }

    #[test]
    fn ambiguous_unqualified_names_must_be_qualified() {
        let scope = DatabaseScope::new([("a", &["t"][..]), ("b", &["t"][..])]);
        let error = check("SELECT * FROM t", Dialect::Postgres, Access::Read, &scope).unwrap_err();
        assert!(error.to_string().contains("qualify"), "{error}");
        assert!(check("SELECT * FROM b.t", Dialect::Postgres, Access::Read, &scope).is_ok());
    }

    #[test]
    fn denied_functions_are_found_in_any_case_and_schema() {
        for f in [
            "pg_read_file",
            "PG_LS_DIR",
            "lo_import",
            "dblink_exec",
            "query_to_xml",
            "load_extension",
        ] {
            assert!(function_denied(f), "{f}");
        }
        for f in ["count", "lower", "json_extract", "sqlite_version", "now"] {
            assert!(!function_denied(f), "{f}");
        }
        assert!(matches!(
            pg("SELECT other.f(1)", Access::Read),
            Err(StatementError::Denied(_))
        ));
        assert!(pg("SELECT pg_catalog.lower('A')", Access::Read).is_ok());
    }
}

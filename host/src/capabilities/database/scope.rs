//! The database grant of one tool assignment: `config_override.schemas`, `{schema: [table]}`.
//!
//! It is validated when the assignment is saved (`boundary::inject::validate_database_scope`)
//! and compiled here once; every statement the tool sends is then checked against it.

use super::statement::Dialect;
use serde_json::Value;
use std::collections::BTreeMap;

/// The tables a tool may touch, by schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseScope {
    schemas: BTreeMap<String, Vec<String>>,
}

impl DatabaseScope {
    /// The scope in a validated `config_override.schemas` value; `None` when it is absent or
    /// not an object of string lists (which save-time validation already refused).
    pub fn from_override(schemas: &Value) -> Option<Self> {
        let object = schemas.as_object()?;
        let mut scope = BTreeMap::new();
        for (schema, tables) in object {
            let tables = tables
                .as_array()?
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            scope.insert(schema.clone(), tables);
        }
        Some(Self { schemas: scope })
    }

    /// A scope from `(schema, tables)` pairs, for tests and the CLI.
    pub fn new<'a>(schemas: impl IntoIterator<Item = (&'a str, &'a [&'a str])>) -> Self {
        Self {
            schemas: schemas
                .into_iter()
                .map(|(s, t)| (s.to_string(), t.iter().map(|t| t.to_string()).collect()))
                .collect(),
        }
    }

    /// The granted schema names.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.schemas.values().all(Vec::is_empty)
    }

    fn same(a: &str, b: &str, dialect: Dialect) -> bool {
        match dialect {
            Dialect::Postgres => a == b,
            Dialect::Sqlite => a.eq_ignore_ascii_case(b),
        }
    }

    /// Whether `schema` is granted (with any tables).
    pub fn has_schema(&self, schema: &str, dialect: Dialect) -> bool {
        self.schemas.keys().any(|s| Self::same(s, schema, dialect))
    }

    /// Whether `schema.table` is granted.
    pub fn grants(&self, schema: &str, table: &str, dialect: Dialect) -> bool {
        self.schemas.iter().any(|(s, tables)| {
            Self::same(s, schema, dialect) && tables.iter().any(|t| Self::same(t, table, dialect))
        })
    }

    /// The granted schemas holding a table named `table`, for resolving unqualified names.
    pub fn schemas_with_table(&self, table: &str, dialect: Dialect) -> Vec<&str> {
        self.schemas
            .iter()
            .filter(|(_, tables)| tables.iter().any(|t| Self::same(t, table, dialect)))
            .map(|(s, _)| s.as_str())
            .collect()
    }

    /// `schema.table` spelled as in the grant (they differ only in case, on SQLite).
    pub fn canonical(&self, schema: &str, table: &str, dialect: Dialect) -> (String, String) {
        for (s, tables) in &self.schemas {
            if Self::same(s, schema, dialect) {
                for t in tables {
                    if Self::same(t, table, dialect) {
                        return (s.clone(), t.clone());
                    }
                }
            }
        }
        (schema.to_string(), table.to_string())
    }

    /// `schema.table, ...` for messages; the model reads it to correct its SQL.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .schemas
            .iter()
            .flat_map(|(s, tables)| tables.iter().map(move |t| format!("{s}.{t}")))
            .collect();
        if names.is_empty() {
            "no tables".into()
        } else {
            names.join(", ")
        }
    }
}

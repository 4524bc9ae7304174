//! Step 2 of the boundary: force the operator's `config_override` into the arguments.
//!
//! Rules (DESIGN.md §4):
//! - builtin and WASM tools: each key of `config_override` that names a top-level property of
//!   the tool's input schema replaces whatever the model sent for it; other keys are dropped,
//!   and reported as ignored when the override is saved;
//! - database tools: `schemas` = `{schema: [table, ...]}` scopes the database capability and is
//!   validated strictly at save time; it is never injected into the arguments;
//! - declarative HTTP and MCP tools do not use `config_override`.

use crate::tool::ToolDescriptor;
use serde_json::{Map, Value};

/// The key that scopes database tools.
pub const DATABASE_SCOPE_KEY: &str = "schemas";

/// Schemas no grant may name: the platform's own and the database's catalogs.
const SYSTEM_SCHEMAS: &[&str] = &[
    "ai",
    "auth",
    "storage",
    "information_schema",
    "extensions",
    "graphql",
    "graphql_public",
    "realtime",
    "vault",
    "cron",
    "net",
    "supabase_functions",
    "supabase_migrations",
    "sqlite_master",
    "sqlite_temp_master",
    "corral",
];

/// How a tool treats `config_override`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideRule {
    /// Keys naming input-schema properties are forced into the arguments.
    ForceSchemaProperties,
    /// Database tools: `schemas` scopes the capability; other keys follow the property rule.
    DatabaseScope,
    /// Declarative HTTP and MCP tools: not used; every key is ignored.
    Unused,
}

impl OverrideRule {
    /// The rule for a tool described by `descriptor`, from its tool type.
    pub fn for_descriptor(descriptor: &ToolDescriptor) -> Self {
        match descriptor.tool_type.as_deref() {
            Some("database") => Self::DatabaseScope,
            _ => Self::ForceSchemaProperties,
        }
    }
}

/// Why a `config_override` cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// `config_override` itself is not an object.
    #[error("config_override must be a JSON object")]
    NotAnObject,
    /// `schemas` breaks a rule; the message says which.
    #[error("config_override.schemas: {0}")]
    InvalidScope(String),
}

/// What saving an override will do: which keys are forced and which are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OverrideReport {
    /// Keys that will be forced into every call.
    pub applied_keys: Vec<String>,
    /// Keys that have no effect on this tool (not in its input schema).
    pub ignored_keys: Vec<String>,
}

/// Checks `config_override` for a tool at save time and reports what it will do.
pub fn check_override(
    descriptor: &ToolDescriptor,
    rule: OverrideRule,
    config_override: &Value,
) -> Result<OverrideReport, OverrideError> {
    let map = config_override
        .as_object()
        .ok_or(OverrideError::NotAnObject)?;
    let mut report = OverrideReport::default();
    let properties: Vec<&str> = descriptor.input_properties().collect();
    for (key, value) in map {
        let applies = match rule {
            OverrideRule::Unused => false,
            OverrideRule::DatabaseScope if key == DATABASE_SCOPE_KEY => {
                validate_database_scope(value)?;
                true
            }
            _ => properties.contains(&key.as_str()),
        };
        if applies {
            &mut report.applied_keys
        } else {
            &mut report.ignored_keys
        }
        .push(key.clone());
    }
    Ok(report)
}

/// Forces every applicable key of `config_override` into `arguments`, replacing the model's
/// values. Returns the keys that were forced.
pub fn inject(
    descriptor: &ToolDescriptor,
    rule: OverrideRule,
    config_override: &Map<String, Value>,
    arguments: &mut Map<String, Value>,
) -> Vec<String> {
    if rule == OverrideRule::Unused {
        return Vec::new();
    }
    let mut forced = Vec::new();
    for property in descriptor.input_properties() {
        if rule == OverrideRule::DatabaseScope && property == DATABASE_SCOPE_KEY {
            continue;
        }
        if let Some(value) = config_override.get(property) {
            arguments.insert(property.to_string(), value.clone());
            forced.push(property.to_string());
        }
    }
    forced
}

/// Validates a database scope: an object of `schema -> [table, ...]` with safe identifiers and
/// no system schema.
pub fn validate_database_scope(scope: &Value) -> Result<(), OverrideError> {
    let invalid = |m: String| Err(OverrideError::InvalidScope(m));
    let Some(schemas) = scope.as_object() else {
        return invalid("must be an object mapping schema names to lists of table names".into());
    };
    for (schema, tables) in schemas {
        if !is_identifier(schema) {
            return invalid(format!(
                "schema name {schema:?} must match ^[a-zA-Z_][a-zA-Z0-9_]{{0,63}}$"
            ));
        }
        let lower = schema.to_ascii_lowercase();
        if lower.starts_with("pg_") || SYSTEM_SCHEMAS.contains(&lower.as_str()) {
            return invalid(format!(
                "{schema:?} is a system schema and cannot be granted"
            ));
        }
        let Some(tables) = tables.as_array() else {
            return invalid(format!(
                "the value for schema {schema:?} must be a list of table names"
            ));
        };
        for table in tables {
            match table.as_str() {
                Some(name) if is_identifier(name) => {}
                _ => {
                    return invalid(format!(
                        "{table} in schema {schema:?} is not a valid table name (^[a-zA-Z_][a-zA-Z0-9_]{{0,63}}$)"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::Confirmation;
    use proptest::prelude::*;
    use serde_json::json;

    fn tool(tool_type: Option<&str>) -> ToolDescriptor {
        ToolDescriptor {
            name: "web_search".into(),
            description: String::new(),
            input_schema: json!({"type": "object", "properties": {
                "query": {"type": "string"}, "max_results": {"type": "integer"}, "include_domains": {"type": "array"}
            }}),
            output_schema: None,
            confirmation: Confirmation::Never,
            tool_type: tool_type.map(str::to_string),
            confirm_if: None,
        }
    }

    #[test]
    fn schema_keys_are_forced_over_the_models_values() {
        let over = json!({"max_results": 3, "include_domains": ["example.com"]});
        let mut args = json!({"query": "rust", "max_results": 50})
            .as_object()
            .unwrap()
            .clone();
        let forced = inject(
            &tool(None),
            OverrideRule::ForceSchemaProperties,
            over.as_object().unwrap(),
            &mut args,
        );
        assert_eq!(
            Value::Object(args),
            json!({"query": "rust", "max_results": 3, "include_domains": ["example.com"]})
        );
        assert_eq!(forced.len(), 2);
    }

    #[test]
    fn keys_outside_the_schema_are_dropped_and_reported() {
        let over = json!({"max_results": 3, "api_key": "x", "config": {}});
        let mut args = Map::new();
        inject(
            &tool(None),
            OverrideRule::ForceSchemaProperties,
            over.as_object().unwrap(),
            &mut args,
        );
        assert_eq!(Value::Object(args), json!({"max_results": 3}));
        let report =
            check_override(&tool(None), OverrideRule::ForceSchemaProperties, &over).unwrap();
        assert_eq!(report.applied_keys, ["max_results"]);
        assert_eq!(report.ignored_keys, ["api_key", "config"]);
    }

    #[test]
    fn unused_rule_ignores_everything() {
        let over = json!({"query": "forced"});
        let mut args = json!({"query": "model"}).as_object().unwrap().clone();
        assert!(
            inject(
                &tool(None),
                OverrideRule::Unused,
                over.as_object().unwrap(),
                &mut args
            )
            .is_empty()
        );
        assert_eq!(args["query"], "model");
        assert_eq!(
            check_override(&tool(None), OverrideRule::Unused, &over)
                .unwrap()
                .ignored_keys,
            ["query"]
        );
    }

    #[test]
    fn override_must_be_an_object() {
        assert_eq!(
            check_override(
                &tool(None),
                OverrideRule::ForceSchemaProperties,
                &json!([1])
            ),
            Err(OverrideError::NotAnObject)
        );
    }

    #[test]
    fn database_scope_is_validated_and_never_injected() {
        let db = tool(Some("database"));
        let ok = json!({"schemas": {"public": ["users", "orders"], "_x": []}});
        assert_eq!(
            check_override(&db, OverrideRule::DatabaseScope, &ok)
                .unwrap()
                .applied_keys,
            ["schemas"]
        );
        let mut args = Map::new();
        inject(
            &db,
            OverrideRule::DatabaseScope,
            ok.as_object().unwrap(),
            &mut args,
        );
        assert!(args.is_empty());

        let bad = [
            json!("public"),
            json!(["public"]),
            json!({"1public": ["t"]}),
            json!({"pub-lic": ["t"]}),
            json!({"auth": ["users"]}),
            json!({"AI": ["x"]}),
            json!({"storage": ["x"]}),
            json!({"pg_catalog": ["pg_user"]}),
            json!({"PG_toast": ["x"]}),
            json!({"information_schema": ["tables"]}),
            json!({"public": "users"}),
            json!({"public": ["users; drop table x"]}),
            json!({"public": [1]}),
            json!({"public": ["a".repeat(65)]}),
            json!({"a".repeat(65): ["t"]}),
        ];
        for scope in bad {
            let over = json!({"schemas": scope.clone()});
            assert!(
                matches!(
                    check_override(&db, OverrideRule::DatabaseScope, &over),
                    Err(OverrideError::InvalidScope(_))
                ),
                "{scope}"
            );
        }
    }

    proptest! {
        /// Whatever the model sends, a forced key always ends up with the operator's value.
        #[test]
        fn a_forced_key_always_wins(
            model_value in prop_oneof![
                any::<i64>().prop_map(Value::from),
                ".*".prop_map(Value::from),
                Just(Value::Null),
                Just(serde_json::json!({"nested": [1, 2]})),
            ],
            forced_value in any::<u32>(),
            extra in prop::collection::btree_map("[a-z_]{1,12}", any::<i32>(), 0..6),
        ) {
            let descriptor = tool(None);
            let mut args: Map<String, Value> = extra.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            args.insert("max_results".into(), model_value);
            let over = json!({"max_results": forced_value});
            inject(&descriptor, OverrideRule::ForceSchemaProperties, over.as_object().unwrap(), &mut args);
            prop_assert_eq!(&args["max_results"], &Value::from(forced_value));
        }
    }
}

//! Builtin tools `database_query` and `database_write`: SQL on the operator's data database.
//!
//! The operator grants tables with the assignment's `config_override.schemas`, and the **host**
//! enforces it on every statement (one statement, right kind, only granted tables, no
//! dangerous functions, read-only transaction for queries, timeout, row cap). This crate only
//! shapes arguments and results for the model: JSON parameters to SQL values, rows to JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use corral_plugin_sdk::database::{self, QueryResult, SqlValue};
use corral_plugin_sdk::prelude::*;
use serde_json::Value;

/// Rows a query returns unless asked for fewer (the host caps every query at 1000).
const DEFAULT_MAX_ROWS: usize = 200;

/// Arguments of `database_query`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    /// One read-only SQL query: SELECT, WITH ... SELECT, or VALUES. Use placeholders for values
    /// (`$1, $2` on PostgreSQL, `?` or `?1` on SQLite) and pass them in `params`.
    sql: String,
    /// Values for the placeholders, in order: strings, numbers, booleans, null, or
    /// `{"base64": "..."}` for binary data. On PostgreSQL cast text where a column is not text,
    /// e.g. `$1::date`.
    #[serde(default)]
    params: Vec<Value>,
    /// Most rows to return (default 200, at most 1000); the result says `truncated: true` when
    /// there were more.
    #[schemars(range(min = 1, max = 1000))]
    max_rows: Option<usize>,
}

/// Arguments of `database_write`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    /// One INSERT, UPDATE or DELETE on a granted table. Use placeholders for values (`$1, $2` on
    /// PostgreSQL, `?` or `?1` on SQLite) and pass them in `params`.
    sql: String,
    /// Values for the placeholders, in order: strings, numbers, booleans, null, or
    /// `{"base64": "..."}` for binary data.
    #[serde(default)]
    params: Vec<Value>,
}

/// What `database_query` returns.
#[derive(Serialize, JsonSchema)]
struct QueryOutput {
    /// Column names, in order.
    columns: Vec<String>,
    /// One array per row, one value per column; binary values as `{"base64": "..."}`.
    rows: Vec<Vec<Value>>,
    /// Number of rows returned.
    row_count: usize,
    /// True when more rows matched than were returned.
    truncated: bool,
}

/// What `database_write` returns.
#[derive(Serialize, JsonSchema)]
struct WriteOutput {
    /// Rows inserted, updated or deleted.
    rows_affected: u64,
}

fn database_query(args: QueryArgs, _ctx: &Context) -> Result<QueryOutput, ToolError> {
    let params = sql_params(&args.params)?;
    let max_rows = args.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows == 0 {
        return Err(ToolError::invalid("max_rows must be at least 1"));
    }
    let result = database::query(&args.sql, &params)?;
    Ok(shape(result, max_rows))
}

fn database_write(args: WriteArgs, _ctx: &Context) -> Result<WriteOutput, ToolError> {
    let params = sql_params(&args.params)?;
    let rows_affected = database::execute(&args.sql, &params)?;
    Ok(WriteOutput { rows_affected })
}

fn shape(result: QueryResult, max_rows: usize) -> QueryOutput {
    let cut = result.rows.len() > max_rows;
    let rows: Vec<Vec<Value>> = result
        .rows
        .into_iter()
        .take(max_rows)
        .map(|row| row.into_iter().map(json_value).collect())
        .collect();
    QueryOutput {
        columns: result.columns,
        row_count: rows.len(),
        rows,
        truncated: result.truncated || cut,
    }
}

fn json_value(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Boolean(b) => Value::Bool(b),
        SqlValue::Integer(i) => Value::from(i),
        // NaN and infinities have no JSON number; say what they are.
        SqlValue::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => json!({ "base64": BASE64.encode(b) }),
    }
}

fn sql_params(params: &[Value]) -> Result<Vec<SqlValue>, ToolError> {
    params
        .iter()
        .enumerate()
        .map(|(i, value)| {
            sql_value(value).map_err(|why| ToolError::invalid(format!("params[{i}]: {why}")))
        })
        .collect()
}

fn sql_value(value: &Value) -> Result<SqlValue, String> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().ok_or("the number is out of range")?),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(map) => match (map.get("base64"), map.len()) {
            (Some(Value::String(b64)), 1) => SqlValue::Blob(
                BASE64
                    .decode(b64.trim())
                    .map_err(|e| format!("invalid base64: {e}"))?,
            ),
            _ => {
                return Err(
                    "objects are accepted only as {\"base64\": \"...\"} for binary data; \
                             pass JSON as a string"
                        .into(),
                );
            }
        },
        Value::Array(_) => {
            return Err("arrays are not a SQL value; pass one value per placeholder".into());
        }
    })
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "database_query",
        "Runs one read-only SQL query (SELECT, WITH ... SELECT or VALUES) on the tables the \
         operator granted to this agent and returns the columns and rows. Only granted tables \
         can be named (schema-qualified or not); anything else is refused, as are writes, DDL, \
         several statements and system functions. Pass values as `params` with placeholders, \
         never by pasting them into the SQL. To see a table's columns, select from it with \
         LIMIT 1.",
        database_query
    )
    .output_schema::<QueryOutput>()
    .tool_type("database"),
    Tool::new(
        "database_write",
        "Runs one INSERT, UPDATE or DELETE on a table the operator granted to this agent and \
         returns the number of rows affected. Only granted tables can be named; DDL, several \
         statements and system functions are refused. Pass values as `params` with \
         placeholders. A human may have to approve each write before it runs.",
        database_write
    )
    .output_schema::<WriteOutput>()
    .confirmation(Confirmation::Always)
    .tool_type("database"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_params_become_sql_values() {
        let params = sql_params(&[
            json!(null),
            json!(true),
            json!(42),
            json!(1.5),
            json!("x"),
            json!({"base64": "aGk="}),
        ])
        .unwrap();
        assert_eq!(
            format!("{params:?}"),
            format!(
                "{:?}",
                [
                    SqlValue::Null,
                    SqlValue::Boolean(true),
                    SqlValue::Integer(42),
                    SqlValue::Real(1.5),
                    SqlValue::Text("x".into()),
                    SqlValue::Blob(b"hi".to_vec()),
                ]
            )
        );
        for bad in [json!([1]), json!({"a": 1}), json!({"base64": "%%"})] {
            assert!(sql_params(&[bad.clone()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn rows_are_cut_at_max_rows_and_blobs_are_base64() {
        let result = QueryResult {
            columns: vec!["b".into()],
            rows: vec![
                vec![SqlValue::Blob(b"hi".to_vec())],
                vec![SqlValue::Real(f64::NAN)],
            ],
            truncated: false,
        };
        let out = shape(result, 1);
        assert!(out.truncated);
        assert_eq!(out.rows, vec![vec![json!({"base64": "aGk="})]]);
    }
}

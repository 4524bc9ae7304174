//! Test guest for the host boundary and the benchmark: tools that show exactly what the host
//! passed in (arguments after injection, configuration) and a trivial `add`.

use corral_plugin_sdk::prelude::*;
use corral_plugin_sdk::{config, log};

/// Arguments of `add`.
#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First number.
    a: f64,
    /// Second number.
    b: f64,
}

fn add(args: AddArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    Ok(json!({ "sum": args.a + args.b }))
}

// Only the schema of this struct is used: `echo` takes its arguments as a raw JSON object
// (`EchoArgs`) so it hands back exactly what the host passed in, nothing added or dropped.
/// Arguments of `echo`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "only the derived schema is used")]
struct EchoShape {
    /// Any text.
    message: String,
    /// A mode an operator may force.
    mode: Option<String>,
    /// A count an operator may force.
    count: Option<i64>,
}

/// `echo`'s arguments as received, described by `EchoShape`'s schema.
#[derive(Deserialize)]
#[serde(transparent)]
struct EchoArgs(serde_json::Map<String, serde_json::Value>);

impl JsonSchema for EchoArgs {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        EchoShape::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        EchoShape::json_schema(generator)
    }
}

fn echo(
    args: EchoArgs,
    _ctx: &Context,
) -> Result<serde_json::Map<String, serde_json::Value>, ToolError> {
    Ok(args.0)
}

/// Arguments of `config_get`.
#[derive(Deserialize, JsonSchema)]
struct ConfigArgs {
    /// The configuration key to read.
    key: String,
}

fn config_get(args: ConfigArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    Ok(json!({ "value": config::get(&args.key)? }))
}

/// Arguments of `write_log`.
#[derive(Deserialize, JsonSchema)]
struct LogArgs {
    /// The line to log.
    message: String,
}

fn write_log(args: LogArgs, ctx: &Context) -> Result<serde_json::Value, ToolError> {
    log::info(format!("{} (call {})", args.message, ctx.call_id));
    Ok(json!({ "ok": true }))
}

/// Arguments of `always_confirm`.
#[derive(Deserialize, JsonSchema)]
struct NoteArgs {
    /// Echoed back.
    note: String,
}

fn always_confirm(args: NoteArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    Ok(json!({ "done": args.note }))
}

fn counter(
    _args: serde_json::Map<String, serde_json::Value>,
    _ctx: &Context,
) -> Result<serde_json::Value, ToolError> {
    // A fresh instance per call means this is always 1: no state survives a call.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    Ok(json!({ "calls": CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 }))
}

#[derive(Deserialize, JsonSchema)]
struct ScopedArgs {
    /// A query text; echoed back, never run.
    query: String,
}

/// Labelled `database` so the host applies the database `config_override.schemas` rules to it;
/// it only echoes, so tests can check those rules without a data database.
fn scoped_echo(args: ScopedArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    Ok(json!({ "query": args.query }))
}

corral_plugin_sdk::export_tools![
    Tool::new("add", "Adds two numbers.", add),
    Tool::new(
        "echo",
        "Returns its arguments exactly as the tool received them.",
        echo
    ),
    Tool::new(
        "config_get",
        "Reads one operator configuration value.",
        config_get
    ),
    Tool::new("write_log", "Writes a line to the server log.", write_log),
    Tool::new(
        "always_confirm",
        "Needs a human's approval on every call.",
        always_confirm
    )
    .confirmation(Confirmation::Always),
    Tool::new(
        "counter",
        "Counts the calls this instance has served.",
        counter
    ),
    Tool::new(
        "scoped_echo",
        "Echoes a query; labelled as a database tool.",
        scoped_echo
    )
    .tool_type("database"),
];

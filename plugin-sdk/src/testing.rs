//! Calling tools natively, without a host, for unit tests and doc tests. Capabilities are not
//! available outside a host: a tool that uses them must be tested with `corral tool call`.

use crate::{Context, Tool, ToolError};

/// Calls the tool `name` from `tools` with `arguments`, as the host would, and parses the result.
pub fn call(
    tools: &[Tool],
    name: &str,
    arguments: serde_json::Value,
) -> Result<serde_json::Value, ToolError> {
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ToolError::NotFound(format!("no tool named `{name}`")))?;
    let out = tool.call(&arguments.to_string(), &Context::default())?;
    Ok(serde_json::from_str(&out)?)
}

/// The input schema of the tool `name`, parsed.
pub fn input_schema(tools: &[Tool], name: &str) -> Option<serde_json::Value> {
    tools
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| serde_json::from_str(&t.input_schema()).ok())
}

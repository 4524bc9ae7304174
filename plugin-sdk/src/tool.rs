//! A tool: a name, a description, and a typed function; the schema comes from the types.

use crate::{Context, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Whether calls need a human's approval by default (an operator can change it per assignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirmation {
    /// Runs without asking.
    #[default]
    Never,
    /// Every call waits for ALLOW.
    Always,
}

/// The input-schema keyword that carries a tool's confirmation condition to the host.
pub(crate) const CONFIRM_IF_KEY: &str = "x-corral-confirm-if";

type Handler = Box<dyn Fn(&str, &Context) -> Result<String, ToolError>>;

/// One tool of a component. Build it with [`Tool::new`] and list it in
/// [`export_tools!`](crate::export_tools).
pub struct Tool {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    // Schemas are generated only when the host asks (`describe`), not on every call.
    pub(crate) input_schema: fn() -> String,
    pub(crate) output_schema: Option<fn() -> String>,
    pub(crate) confirmation: Confirmation,
    pub(crate) tool_type: Option<&'static str>,
    pub(crate) confirm_if: Option<&'static str>,
    pub(crate) handler: Handler,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn schema_of<T: JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(T))
        .unwrap_or_else(|_| "{\"type\":\"object\"}".into())
}

impl Tool {
    /// A tool named `name` (snake_case) that deserializes its arguments into `A`, calls `run`,
    /// and serializes what it returns. `A`'s JSON Schema (doc comments become descriptions)
    /// is the tool's input schema.
    pub fn new<A, R, F>(name: &'static str, description: &'static str, run: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + 'static,
        R: Serialize + 'static,
        F: Fn(A, &Context) -> Result<R, ToolError> + 'static,
    {
        Self {
            name,
            description,
            input_schema: schema_of::<A>,
            output_schema: None,
            confirmation: Confirmation::Never,
            tool_type: None,
            confirm_if: None,
            handler: Box::new(move |json, ctx| {
                let args: A = serde_json::from_str(json)
                    .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
                let result = run(args, ctx)?;
                serde_json::to_string(&result).map_err(ToolError::from)
            }),
        }
    }

    /// Declares the result's JSON Schema, derived from `T`.
    pub fn output_schema<T: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(schema_of::<T>);
        self
    }

    /// Sets the default confirmation.
    pub fn confirmation(mut self, confirmation: Confirmation) -> Self {
        self.confirmation = confirmation;
        self
    }

    /// Asks for confirmation only for the calls whose final arguments match `schema`, a JSON
    /// Schema given as JSON text: e.g. HTTP requests whose method changes things. It travels
    /// in the input schema as `x-corral-confirm-if`; the host takes it out before the model
    /// sees the schema, and enforces it. An assignment's `confirmation` still overrides it.
    pub fn confirm_if(mut self, schema: &'static str) -> Self {
        self.confirm_if = Some(schema);
        self
    }

    /// A label for humans approving calls (`http`, `storage`, ...).
    pub fn tool_type(mut self, tool_type: &'static str) -> Self {
        self.tool_type = Some(tool_type);
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The input schema as JSON text, with the `confirm_if` condition in it.
    pub fn input_schema(&self) -> String {
        let schema = (self.input_schema)();
        let Some(condition) = self.confirm_if else {
            return schema;
        };
        let (Ok(serde_json::Value::Object(mut map)), Ok(condition)) = (
            serde_json::from_str::<serde_json::Value>(&schema),
            serde_json::from_str::<serde_json::Value>(condition),
        ) else {
            return schema;
        };
        map.insert(CONFIRM_IF_KEY.into(), condition);
        serde_json::Value::Object(map).to_string()
    }

    /// Runs the tool on `arguments` (JSON text), as the host would.
    pub fn call(&self, arguments: &str, ctx: &Context) -> Result<String, ToolError> {
        (self.handler)(arguments, ctx)
    }
}

//! Write [Corral](https://github.com/corral-dev/corral) tools in Rust.
//!
//! A tool is an arguments struct (serde + schemars, so the input schema is derived from it) and
//! a function. [`export_tools!`] turns a list of them into a WebAssembly component that the
//! Corral host can run in its sandbox. Build with `cargo build --release --target wasm32-wasip2`.
//!
//! # Layout
//! - [`Tool`], [`ToolError`], [`Context`], [`export_tools!`]: defining tools;
//! - [`log`], [`config`], [`storage`], [`http`], [`database`]: the host capabilities, each
//!   denied unless the operator grants it for the tool assignment;
//! - [`testing`]: calling tools natively in unit tests;
//! - [`prelude`]: what a tool file usually imports; `serde`, `serde_json` and `schemars` are
//!   re-exported so their versions match the SDK's.
//!
//! # Example
//!
//! ```
//! use corral_plugin_sdk::prelude::*;
//!
//! /// Arguments of `add`.
//! #[derive(Deserialize, JsonSchema)]
//! struct AddArgs {
//!     /// The first number.
//!     a: f64,
//!     /// The second number.
//!     b: f64,
//! }
//!
//! fn add(args: AddArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
//!     Ok(json!({ "sum": args.a + args.b }))
//! }
//!
//! corral_plugin_sdk::export_tools![Tool::new("add", "Adds two numbers.", add)];
//!
//! fn main() {
//!     use corral_plugin_sdk::testing;
//!     let tools = corral_tools();
//!     assert_eq!(testing::call(&tools, "add", json!({"a": 1, "b": 2})).unwrap(), json!({"sum": 3.0}));
//!     let schema = testing::input_schema(&tools, "add").unwrap();
//!     assert_eq!(schema["properties"]["a"]["description"], "The first number.");
//!     assert_eq!(schema["required"], json!(["a", "b"]));
//!     assert!(matches!(testing::call(&tools, "add", json!({"a": "x"})), Err(ToolError::InvalidArguments(_))));
//!     assert!(matches!(testing::call(&tools, "sub", json!({})), Err(ToolError::NotFound(_))));
//! }
//! ```

extern crate self as corral_plugin_sdk;

#[doc(hidden)]
pub mod bindings;
pub mod config;
mod context;
pub mod database;
mod error;
pub mod http;
pub mod log;
mod macros;
pub mod storage;
pub mod testing;
mod tool;

pub use context::Context;
pub use error::ToolError;
pub use tool::{Confirmation, Tool};

pub use schemars;
pub use serde;
pub use serde_json;

/// Everything a tool file usually needs.
pub mod prelude {
    pub use crate::{Confirmation, Context, Tool, ToolError};
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::json;
}

/// Plumbing for [`export_tools!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::corral::tool::types::{CallContext, ToolDescriptor};
    pub use crate::bindings::exports::corral::tool::tool::{Guest, ToolError as WitToolError};
    pub use wit_bindgen;

    use crate::bindings::corral::tool::types::Confirmation as WitConfirmation;
    use crate::{Confirmation, Tool};

    pub fn describe(tools: &[Tool]) -> Vec<ToolDescriptor> {
        tools
            .iter()
            .map(|t| ToolDescriptor {
                name: t.name.to_string(),
                description: t.description.to_string(),
                input_schema: t.input_schema(),
                output_schema: t.output_schema.map(|f| f()),
                confirmation: match t.confirmation {
                    Confirmation::Never => WitConfirmation::Never,
                    Confirmation::Always => WitConfirmation::Always,
                },
                tool_type: t.tool_type.map(str::to_string),
            })
            .collect()
    }

    pub fn invoke(
        tools: &[Tool],
        name: &str,
        arguments: &str,
        context: CallContext,
    ) -> Result<String, WitToolError> {
        let tool = tools.iter().find(|t| t.name == name).ok_or_else(|| {
            WitToolError::NotFound(format!("this component has no tool named `{name}`"))
        })?;
        tool.call(arguments, &context.into()).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Args {
        /// Name to greet.
        name: String,
        /// How many times.
        times: Option<u32>,
    }

    fn greet(args: Args, ctx: &Context) -> Result<serde_json::Value, ToolError> {
        if args.name.is_empty() {
            return Err(ToolError::invalid("name must not be empty"));
        }
        Ok(
            json!({"text": format!("hi {}", args.name).repeat(args.times.unwrap_or(1) as usize), "call": ctx.call_id}),
        )
    }

    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("greet", "Greets.", greet)
                .confirmation(Confirmation::Always)
                .tool_type("demo"),
        ]
    }

    #[test]
    fn schema_is_derived_with_descriptions_and_required_fields() {
        let schema = testing::input_schema(&tools(), "greet").unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["name"]["description"],
            "Name to greet."
        );
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn calls_parse_arguments_and_report_errors() {
        assert_eq!(
            testing::call(&tools(), "greet", json!({"name": "a", "times": 2})).unwrap()["text"],
            "hi ahi a"
        );
        assert!(matches!(
            testing::call(&tools(), "greet", json!({"name": 3})),
            Err(ToolError::InvalidArguments(_))
        ));
        assert!(matches!(
            testing::call(&tools(), "greet", json!({"name": ""})),
            Err(ToolError::InvalidArguments(_))
        ));
        assert!(matches!(
            testing::call(&tools(), "nope", json!({})),
            Err(ToolError::NotFound(_))
        ));
    }

    #[test]
    fn invoke_reports_unknown_tools_and_bad_json_as_wit_errors() {
        use crate::__private::{CallContext, WitToolError, invoke};
        let context = || CallContext {
            call_id: "c1".into(),
            run_id: None,
            assignment_id: Some("a1".into()),
        };
        assert_eq!(
            invoke(&tools(), "greet", r#"{"name":"x"}"#, context()).unwrap(),
            r#"{"call":"c1","text":"hi x"}"#
        );
        assert!(matches!(
            invoke(&tools(), "nope", "{}", context()),
            Err(WitToolError::NotFound(m)) if m.contains("nope")
        ));
        assert!(matches!(
            invoke(&tools(), "greet", "{not json", context()),
            Err(WitToolError::InvalidArguments(_))
        ));
        assert!(matches!(
            invoke(&tools(), "greet", r#"{"name":"x","extra":1}"#, context()),
            Err(WitToolError::InvalidArguments(m)) if m.contains("extra")
        ));
    }

    #[test]
    fn output_schema_is_optional_and_derived() {
        #[derive(Serialize, JsonSchema)]
        struct Out {
            /// The greeting.
            text: String,
        }
        let described = crate::__private::describe(&[
            Tool::new("plain", "No output schema.", greet),
            Tool::new("typed", "With one.", greet).output_schema::<Out>(),
        ]);
        assert!(described[0].output_schema.is_none());
        let schema: serde_json::Value =
            serde_json::from_str(described[1].output_schema.as_deref().unwrap()).unwrap();
        assert_eq!(schema["properties"]["text"]["description"], "The greeting.");
    }

    #[test]
    fn descriptors_carry_confirmation_and_type() {
        let described = crate::__private::describe(&tools());
        assert_eq!(described[0].name, "greet");
        assert_eq!(described[0].tool_type.as_deref(), Some("demo"));
        assert!(matches!(
            described[0].confirmation,
            crate::bindings::corral::tool::types::Confirmation::Always
        ));
    }
}

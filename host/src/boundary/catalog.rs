//! Step 1 of the boundary's data: the tools the server knows and how each one runs.

use super::http_tool::HttpEndpoint;
use super::inject::OverrideRule;
use super::validate::ArgumentValidator;
use crate::sandbox::LoadedComponent;
use crate::tool::{Confirmation, ToolDescriptor};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// How a tool is executed. Knowledge-base search and MCP tools join as variants, and go
/// through the same boundary.
#[derive(Debug, Clone)]
pub enum Implementation {
    /// A tool exported by a sandboxed component.
    Wasm(LoadedComponent),
    /// A declarative HTTP tool: the arguments are POSTed (or sent with the configured method)
    /// as JSON to an endpoint, through the same egress policy as a guest's HTTP.
    Http(Arc<HttpEndpoint>),
}

/// One tool, ready to be assigned and called.
#[derive(Debug)]
pub struct CatalogTool {
    /// What the tool is.
    pub descriptor: ToolDescriptor,
    /// How it runs.
    pub implementation: Implementation,
    /// How it treats `config_override`.
    pub override_rule: OverrideRule,
    pub(crate) validator: ArgumentValidator,
    confirm_if: Option<ArgumentValidator>,
}

/// Why a tool could not be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// Another tool has the name.
    #[error("a tool named `{0}` already exists")]
    Duplicate(String),
    /// The input schema does not compile.
    #[error("tool `{tool}` has an input schema that cannot be used: {reason}")]
    Schema {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
}

impl CatalogTool {
    /// A tool ready to be assigned, with its input schema compiled once.
    pub fn new(
        descriptor: ToolDescriptor,
        implementation: Implementation,
    ) -> Result<Self, CatalogError> {
        let validator = ArgumentValidator::new(&descriptor.input_schema).map_err(|reason| {
            CatalogError::Schema {
                tool: descriptor.name.clone(),
                reason,
            }
        })?;
        let confirm_if = descriptor
            .confirm_if
            .as_ref()
            .map(ArgumentValidator::new)
            .transpose()
            .map_err(|reason| CatalogError::Schema {
                tool: descriptor.name.clone(),
                reason: format!("its confirmation condition: {reason}"),
            })?;
        let override_rule = match implementation {
            Implementation::Http(_) => OverrideRule::Unused,
            Implementation::Wasm(_) => OverrideRule::for_descriptor(&descriptor),
        };
        Ok(Self {
            descriptor,
            implementation,
            override_rule,
            validator,
            confirm_if,
        })
    }

    /// The tool's own confirmation default for a call with these final arguments: `always`
    /// when the descriptor says so or its `confirm_if` condition matches them.
    pub fn default_confirmation(&self, arguments: &serde_json::Value) -> Confirmation {
        let conditional = self
            .confirm_if
            .as_ref()
            .is_some_and(|condition| condition.matches(arguments));
        if conditional {
            Confirmation::Always
        } else {
            self.descriptor.confirmation
        }
    }
}

/// All tools by name.
#[derive(Debug, Default)]
pub struct Catalog {
    tools: RwLock<BTreeMap<String, Arc<CatalogTool>>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every tool of `component`; all or nothing.
    pub fn add_component(&self, component: &LoadedComponent) -> Result<Vec<String>, CatalogError> {
        let prepared = component
            .descriptors()
            .iter()
            .map(|d| CatalogTool::new(d.clone(), Implementation::Wasm(component.clone())))
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let mut tools = self.tools.write().unwrap_or_else(|e| e.into_inner());
        if let Some(dup) = prepared
            .iter()
            .find(|t| tools.contains_key(&t.descriptor.name))
        {
            return Err(CatalogError::Duplicate(dup.descriptor.name.clone()));
        }
        let names = prepared.iter().map(|t| t.descriptor.name.clone()).collect();
        for tool in prepared {
            tools.insert(tool.descriptor.name.clone(), Arc::new(tool));
        }
        Ok(names)
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<CatalogTool>> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every tool, by name.
    pub fn list(&self) -> Vec<Arc<CatalogTool>> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

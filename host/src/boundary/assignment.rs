//! A tool assignment: a tool given to an agent, with the operator's settings, checked once
//! when saved and then used by every call.

use super::catalog::{Catalog, CatalogTool};
use super::gate::ConfirmationSetting;
use super::inject::{
    DATABASE_SCOPE_KEY, OverrideError, OverrideReport, OverrideRule, check_override,
};
use crate::capabilities::database::scope::DatabaseScope;
use crate::capabilities::{CompiledGrants, GrantError, Grants};
use crate::sandbox::limits::{Ceilings, LimitError, LimitOverrides, Limits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The operator's settings for one assignment, as stored and as the API/CLI accept them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentSpec {
    /// Assignment id.
    pub id: String,
    /// The tool, by catalog name.
    pub tool_name: String,
    /// Values forced into every call (DESIGN.md §4 step 2).
    #[serde(default = "empty_object")]
    pub config_override: Value,
    /// Confirmation setting.
    #[serde(default)]
    pub confirmation: ConfirmationSetting,
    /// Capability grants.
    #[serde(default)]
    pub grants: Grants,
    /// Limit overrides.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Operator values readable through `config`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secrets readable through `config`; never shown, redacted from records.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Why an assignment cannot be saved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssignmentError {
    /// The tool does not exist.
    #[error("no tool named `{0}`")]
    UnknownTool(String),
    /// `config_override` is invalid.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// A grant is invalid.
    #[error(transparent)]
    Grants(#[from] GrantError),
    /// A limit is invalid.
    #[error(transparent)]
    Limits(#[from] LimitError),
}

/// A checked assignment, ready for calls.
#[derive(Debug)]
pub struct Assignment {
    /// The settings it was made from.
    pub spec: AssignmentSpec,
    /// The tool.
    pub tool: Arc<CatalogTool>,
    /// Which override keys apply and which are ignored.
    pub override_report: OverrideReport,
    pub(crate) override_map: Map<String, Value>,
    pub(crate) grants: CompiledGrants,
    pub(crate) limits: Limits,
}

impl Assignment {
    /// Checks `spec` against the catalog and the ceilings.
    pub fn prepare(
        spec: AssignmentSpec,
        catalog: &Catalog,
        ceilings: &Ceilings,
    ) -> Result<Self, AssignmentError> {
        let tool = catalog
            .get(&spec.tool_name)
            .ok_or_else(|| AssignmentError::UnknownTool(spec.tool_name.clone()))?;
        Self::for_tool(spec, tool, ceilings)
    }

    /// Checks `spec` for an already resolved `tool` (the server resolves tools from its
    /// registry, which spans builtins and stored custom tools).
    pub fn for_tool(
        spec: AssignmentSpec,
        tool: Arc<CatalogTool>,
        ceilings: &Ceilings,
    ) -> Result<Self, AssignmentError> {
        let override_report =
            check_override(&tool.descriptor, tool.override_rule, &spec.config_override)?;
        let override_map = spec
            .config_override
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut grants = spec.grants.compile(&spec.config, &spec.secrets)?;
        if tool.override_rule == OverrideRule::DatabaseScope {
            // Validated by check_override above; the scope is the database capability's grant.
            grants.database = override_map
                .get(DATABASE_SCOPE_KEY)
                .and_then(DatabaseScope::from_override)
                .map(Arc::new);
        }
        spec.limits.validate(ceilings)?;
        let limits = Limits::with_overrides(&spec.limits, ceilings);
        Ok(Self {
            spec,
            tool,
            override_report,
            override_map,
            grants,
            limits,
        })
    }

    /// The assignment id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// Secret values, for redaction.
    pub(crate) fn secret_values(&self) -> Vec<&str> {
        self.spec.secrets.values().map(String::as_str).collect()
    }
}

/// The tools one agent can call, by the name the model uses.
#[derive(Debug, Default, Clone)]
pub struct Toolset {
    by_name: HashMap<String, Arc<Assignment>>,
    by_id: HashMap<String, Arc<Assignment>>,
}

impl Toolset {
    /// An empty toolset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an assignment, replacing one for the same tool.
    pub fn insert(&mut self, assignment: Assignment) -> Arc<Assignment> {
        let assignment = Arc::new(assignment);
        if let Some(old) = self
            .by_name
            .insert(assignment.tool.descriptor.name.clone(), assignment.clone())
        {
            self.by_id.remove(old.id());
        }
        self.by_id
            .insert(assignment.id().to_string(), assignment.clone());
        assignment
    }

    /// The assignment the model reaches by `tool_name`.
    pub fn by_tool_name(&self, tool_name: &str) -> Option<&Arc<Assignment>> {
        self.by_name.get(tool_name)
    }

    /// The assignment with `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Assignment>> {
        self.by_id.get(id)
    }
}

//! An agent's tools for one run: its stored assignments, resolved and checked exactly as the
//! API checked them when saved, plus what the model is told about each.

use crate::boundary::assignment::{Assignment, Toolset};
use crate::capabilities::database::statement::Dialect;
use crate::llm::ToolSpec;
use crate::registry::ToolRegistry;
use crate::store::Store;

/// The toolset and the model's view of it.
pub struct AgentTools {
    /// What the boundary runs.
    pub toolset: Toolset,
    /// What the model sees: name, description, input schema.
    pub specs: Vec<ToolSpec>,
}

/// Loads the agent's tools. An assignment whose tool disappeared, or whose settings no longer
/// pass (e.g. ceilings lowered), is left out with a warning rather than failing the run.
pub async fn load(
    store: &Store,
    registry: &ToolRegistry,
    agent_id: &str,
) -> Result<AgentTools, crate::store::StoreError> {
    let mut toolset = Toolset::new();
    let mut specs = Vec::new();
    for stored in store.list_assignments(agent_id).await? {
        let name = stored.spec.tool_name.clone();
        let resolved = match registry.resolve(&name).await {
            Ok(Some(resolved)) => resolved,
            Ok(None) => {
                tracing::warn!(agent_id, tool = %name, "assigned tool no longer exists; skipped");
                continue;
            }
            Err(error) => {
                tracing::warn!(agent_id, tool = %name, %error, "assigned tool did not load; skipped");
                continue;
            }
        };
        match Assignment::for_tool(
            stored.spec,
            resolved.tool.clone(),
            &registry.sandbox().config().ceilings,
        ) {
            Ok(assignment) => {
                specs.push(ToolSpec {
                    name: resolved.tool.descriptor.name.clone(),
                    description: model_description(
                        &assignment,
                        registry.sandbox().config().data_database.dialect(),
                    ),
                    input_schema: resolved.tool.descriptor.input_schema.clone(),
                });
                toolset.insert(assignment);
            }
            Err(error) => {
                tracing::warn!(agent_id, tool = %name, %error, "assignment no longer valid; skipped");
            }
        }
    }
    Ok(AgentTools { toolset, specs })
}

/// What the model reads about a tool: its description, and for a database tool the dialect
/// and the granted tables, which the model could not discover otherwise (the catalog tables
/// are outside every grant).
fn model_description(assignment: &Assignment, dialect: Dialect) -> String {
    let description = assignment.tool.descriptor.description.clone();
    let Some(scope) = &assignment.grants.database else {
        return description;
    };
    let dialect = match dialect {
        Dialect::Sqlite => "SQLite",
        Dialect::Postgres => "PostgreSQL",
    };
    format!(
        "{description}\n\nSQL dialect: {dialect}. Tables you may use: {}.",
        scope.describe()
    )
}

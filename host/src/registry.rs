//! Every tool the server can assign, by name: the builtins shipped inside the binary and the
//! custom tools stored in the database (declarative HTTP tools and uploaded components).
//!
//! Custom tools are read from the store on each resolve, so a tool uploaded through one server
//! instance is usable on every instance sharing the database. What is expensive is cached in
//! memory: a loaded component per content hash (compiled once, then from the disk cache), and
//! the prepared catalog entry per tool version.

use crate::boundary::catalog::{Catalog, CatalogError, CatalogTool, Implementation};
use crate::boundary::http_tool::HttpEndpoint;
use crate::sandbox::{LoadedComponent, Sandbox, SandboxError};
use crate::store::tools::{StoredTool, ToolFields, ToolKind};
use crate::store::{Store, StoreError};
use crate::tool::{Confirmation, ToolDescriptor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why the registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A component did not load.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A tool's schema is unusable.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The name is taken (by a builtin or another custom tool).
    #[error("a tool named `{0}` already exists")]
    Duplicate(String),
    /// A stored tool refers to a component that is not stored.
    #[error("the component {0} of a stored tool is missing from the database")]
    MissingComponent(String),
    /// A stored HTTP tool's settings no longer parse.
    #[error("stored HTTP tool `{tool}` has invalid settings: {reason}")]
    InvalidHttpTool {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
}

/// Where a resolved tool comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolSource {
    /// Shipped inside the server.
    Builtin,
    /// Stored in the database.
    Custom(Box<StoredTool>),
}

/// A tool ready for an assignment.
#[derive(Debug, Clone)]
pub struct ResolvedTool {
    /// The catalog entry the boundary runs.
    pub tool: Arc<CatalogTool>,
    /// Where it comes from.
    pub source: ToolSource,
}

/// The server's tools.
pub struct ToolRegistry {
    sandbox: Arc<Sandbox>,
    store: Store,
    builtins: Catalog,
    builtin_capabilities: Mutex<HashMap<String, Vec<String>>>,
    components: Mutex<HashMap<String, LoadedComponent>>,
    prepared: Mutex<HashMap<String, (String, Arc<CatalogTool>)>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry").finish_non_exhaustive()
    }
}

impl ToolRegistry {
    /// A registry with no builtins yet.
    pub fn new(sandbox: Arc<Sandbox>, store: Store) -> Self {
        Self {
            sandbox,
            store,
            builtins: Catalog::new(),
            builtin_capabilities: Mutex::new(HashMap::new()),
            components: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
        }
    }

    /// The sandbox tools run in.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Loads the builtin components (compiled on first start, from the disk cache after).
    pub async fn load_builtins(&self, components: &[(&str, &[u8])]) -> Result<(), RegistryError> {
        for (name, bytes) in components {
            let label = name.to_string();
            let (component, _) = self
                .sandbox
                .load(bytes, move || {
                    tracing::info!(component = %label, "compiling builtin tools (first start only)");
                })
                .await?;
            let names = self.builtins.add_component(&component)?;
            let capabilities: Vec<String> =
                crate::sandbox::imports::capabilities(component.imports())
                    .into_iter()
                    .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(String::from))
                    .collect();
            let mut map = self
                .builtin_capabilities
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for name in names {
                map.insert(name, capabilities.clone());
            }
        }
        Ok(())
    }

    /// The capabilities a builtin's component imports.
    pub fn builtin_capabilities(&self, name: &str) -> Vec<String> {
        self.builtin_capabilities
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// The builtin tools.
    pub fn builtins(&self) -> Vec<Arc<CatalogTool>> {
        self.builtins.list()
    }

    /// Whether `name` is a builtin.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtins.get(name).is_some()
    }

    /// The tool named `name`, builtin or custom.
    pub async fn resolve(&self, name: &str) -> Result<Option<ResolvedTool>, RegistryError> {
        if let Some(tool) = self.builtins.get(name) {
            return Ok(Some(ResolvedTool {
                tool,
                source: ToolSource::Builtin,
            }));
        }
        let Some(stored) = self.store.get_tool_by_name(name).await? else {
            return Ok(None);
        };
        let tool = self.prepare(&stored).await?;
        Ok(Some(ResolvedTool {
            tool,
            source: ToolSource::Custom(Box::new(stored)),
        }))
    }

    /// The catalog entry for a stored tool, cached per (id, updated_at).
    pub async fn prepare(&self, stored: &StoredTool) -> Result<Arc<CatalogTool>, RegistryError> {
        if let Some((version, tool)) = self.lock_prepared().get(&stored.id)
            && version == &stored.updated_at
        {
            return Ok(tool.clone());
        }
        let tool = match stored.kind {
            ToolKind::Http => {
                let invalid = |reason: String| RegistryError::InvalidHttpTool {
                    tool: stored.name.clone(),
                    reason,
                };
                let mut endpoint: HttpEndpoint = serde_json::from_value(stored.config.clone())
                    .map_err(|e| invalid(e.to_string()))?;
                endpoint.validate().map_err(invalid)?;
                let descriptor = ToolDescriptor {
                    name: stored.name.clone(),
                    description: stored.description.clone(),
                    input_schema: stored.input_schema.clone(),
                    output_schema: None,
                    confirmation: Confirmation::Never,
                    tool_type: Some("http".into()),
                    confirm_if: None,
                };
                CatalogTool::new(descriptor, Implementation::Http(Arc::new(endpoint)))?
            }
            ToolKind::Wasm => {
                let sha = stored.component_sha256.clone().unwrap_or_default();
                let component = self.component(&sha).await?;
                let mut descriptor = component
                    .descriptor(&stored.name)
                    .cloned()
                    .or_else(|| stored.descriptor.clone())
                    .ok_or_else(|| RegistryError::MissingComponent(sha.clone()))?;
                // The operator may have edited the description the model reads.
                descriptor.description = stored.description.clone();
                CatalogTool::new(descriptor, Implementation::Wasm(component))?
            }
        };
        let tool = Arc::new(tool);
        self.lock_prepared()
            .insert(stored.id.clone(), (stored.updated_at.clone(), tool.clone()));
        Ok(tool)
    }

    /// Loads a stored component by hash, once per process.
    async fn component(&self, sha256: &str) -> Result<LoadedComponent, RegistryError> {
        if let Some(component) = self.lock_components().get(sha256) {
            return Ok(component.clone());
        }
        let stored = self
            .store
            .get_component(sha256)
            .await?
            .ok_or_else(|| RegistryError::MissingComponent(sha256.to_string()))?;
        let (component, _) = self.sandbox.load(&stored.bytes, || {}).await?;
        self.lock_components()
            .insert(sha256.to_string(), component.clone());
        Ok(component)
    }

    /// Checks and stores an uploaded component: it must be a Corral tool component (its
    /// `describe()` runs in the sandbox), every tool name must be free, and then the bytes
    /// (content-addressed) and one tool row per exported tool are saved together.
    pub async fn upload(
        &self,
        bytes: &[u8],
    ) -> Result<(LoadedComponent, Vec<StoredTool>), RegistryError> {
        let (component, _) = self.sandbox.load(bytes, || {}).await?;
        for descriptor in component.descriptors() {
            // Schemas must compile before anything is stored.
            CatalogTool::new(descriptor.clone(), Implementation::Wasm(component.clone()))?;
            if self.is_builtin(&descriptor.name)
                || self
                    .store
                    .get_tool_by_name(&descriptor.name)
                    .await?
                    .is_some()
            {
                return Err(RegistryError::Duplicate(descriptor.name.clone()));
            }
        }
        let imports = serde_json::to_value(component.imports()).unwrap_or_default();
        self.store
            .put_component(component.content_hash(), bytes, &imports)
            .await?;
        let fields = component
            .descriptors()
            .iter()
            .map(|d| ToolFields {
                name: d.name.clone(),
                description: d.description.clone(),
                kind: ToolKind::Wasm,
                input_schema: d.input_schema.clone(),
                config: serde_json::json!({}),
                component_sha256: Some(component.content_hash().to_string()),
                descriptor: Some(d.clone()),
            })
            .collect();
        let tools = self.store.create_tools(fields).await.map_err(|e| match e {
            StoreError::Conflict => RegistryError::Duplicate(
                "one of the component's tools (created concurrently)".into(),
            ),
            other => other.into(),
        })?;
        self.lock_components()
            .insert(component.content_hash().to_string(), component.clone());
        Ok((component, tools))
    }

    /// The capabilities a stored component imports, as listed at upload.
    pub async fn component_imports(
        &self,
        sha256: &str,
    ) -> Result<serde_json::Value, RegistryError> {
        Ok(self
            .store
            .get_component_imports(sha256)
            .await?
            .unwrap_or_default())
    }

    fn lock_components(&self) -> std::sync::MutexGuard<'_, HashMap<String, LoadedComponent>> {
        self.components.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_prepared(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (String, Arc<CatalogTool>)>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

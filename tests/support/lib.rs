//! Shared fixtures for the integration tests: a sandbox with a compile cache shared by every
//! test process (so the 18 MB Python component compiles once per machine, not once per test),
//! toolsets built from the example components, and a loopback HTTP server.

pub mod api;
pub mod http_server;

use corral::boundary::assignment::{Assignment, AssignmentSpec, Toolset};
use corral::boundary::catalog::Catalog;
use corral::boundary::gate::MemoryPendingStore;
use corral::boundary::record::MemoryRecorder;
use corral::boundary::{Boundary, CallOutcome, FinishedCall, ToolCall};
use corral::capabilities::database::DataDatabase;
use corral::sandbox::{LoadedComponent, Sandbox, SandboxConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The compile cache every test shares, under the workspace's `target/`.
pub fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/corral-test-cache")
}

/// Python and JS example components, built by `scripts/build-polyglot.sh`.
pub fn polyglot_component(file: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/polyglot")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-polyglot.sh` (the README's test command does) to build the Python and JS examples",
        path.display()
    );
    path
}

/// A test host: sandbox + boundary + in-memory pending store and recorder, with its own
/// buckets directory and the shared compile cache.
pub struct Host {
    /// The sandbox.
    pub sandbox: Arc<Sandbox>,
    /// The boundary over it.
    pub boundary: Boundary,
    /// What the boundary recorded.
    pub recorder: Arc<MemoryRecorder>,
    /// Tools known to this host.
    pub catalog: Catalog,
    /// Where buckets live; dropped with the host.
    pub data: tempfile::TempDir,
}

impl Host {
    /// A fresh host (its data database: SQLite, `data.db` in its temp dir).
    pub fn new() -> Self {
        Self::with_data_database(None)
    }

    /// A fresh host whose database tools run on `data_database` (default: SQLite in its dir).
    pub fn with_data_database(data_database: Option<DataDatabase>) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = SandboxConfig::in_data_dir(data.path());
        if let Some(database) = data_database {
            config.data_database = database;
        }
        config.cache_dir = shared_cache_dir();
        let sandbox = Arc::new(Sandbox::new(config).expect("sandbox"));
        let recorder = Arc::new(MemoryRecorder::default());
        let boundary = Boundary::new(
            sandbox.clone(),
            Arc::new(MemoryPendingStore::default()),
            recorder.clone(),
        );
        Self {
            sandbox,
            boundary,
            recorder,
            catalog: Catalog::new(),
            data,
        }
    }

    /// Loads a component file and adds its tools to the catalog.
    pub async fn load(&self, path: impl AsRef<Path>) -> LoadedComponent {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (component, _) = self
            .sandbox
            .load(&bytes, || {})
            .await
            .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
        self.catalog
            .add_component(&component)
            .expect("adding tools");
        component
    }

    /// A toolset with one assignment per spec.
    pub fn toolset(&self, specs: impl IntoIterator<Item = AssignmentSpec>) -> Toolset {
        let mut toolset = Toolset::new();
        for spec in specs {
            let assignment =
                Assignment::prepare(spec, &self.catalog, &self.sandbox.config().ceilings)
                    .expect("valid assignment");
            toolset.insert(assignment);
        }
        toolset
    }

    /// Calls `tool` and expects it to finish (not wait for approval).
    pub async fn call(
        &self,
        toolset: &Toolset,
        tool: &str,
        arguments: serde_json::Value,
    ) -> FinishedCall {
        match self
            .boundary
            .call(toolset, call(tool, arguments), false)
            .await
        {
            CallOutcome::Finished(done) => *done,
            CallOutcome::Pending(action) => panic!(
                "`{tool}` unexpectedly needs approval: {}",
                action.description
            ),
        }
    }
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

/// An assignment of `tool` with default settings.
pub fn assign(tool: &str) -> AssignmentSpec {
    AssignmentSpec {
        id: format!("asg-{tool}"),
        tool_name: tool.into(),
        config_override: serde_json::json!({}),
        ..Default::default()
    }
}

/// A model-style call of `tool`.
pub fn call(tool: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall {
        call_id: format!("call-{}", uuid_like()),
        tool_name: tool.into(),
        arguments,
        run_id: Some("run-test".into()),
    }
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

//! The sandbox: compiles, caches and runs tool components under wasmtime.
//!
//! One [`Sandbox`] per process owns the engine (pooling allocator, epoch interruption), the
//! linker with every capability, and the compile cache. Each call gets **a fresh store and
//! instance** from the component's `InstancePre`, so no state leaks between calls, and a guest
//! that traps only ever poisons its own, discarded, instance.

pub mod cache;
pub mod engine;
mod host_state;
pub mod imports;
pub mod limiter;
pub mod limits;
pub mod stdio;

use crate::bindings::corral::tool::log::Level;
use crate::bindings::exports::corral::tool::tool as wit;
use crate::bindings::{ToolPlugin, ToolPluginPre};
use crate::capabilities::{self, CompiledGrants};
use crate::tool::{Confirmation, FailureKind, ToolDescriptor, ToolFailure};
use cache::{CacheError, CacheOutcome, CompileCache};
use host_state::HostState;
use imports::Import;
use limits::{Ceilings, Limits};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};

pub use host_state::HostState as CallState;

/// Where the sandbox keeps things and how big it may get.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Compiled components.
    pub cache_dir: PathBuf,
    /// Storage buckets, one directory each.
    pub buckets_dir: PathBuf,
    /// The operator's data database, for tools granted tables of it.
    pub data_database: capabilities::database::DataDatabase,
    /// Upper bounds for per-assignment limits.
    pub ceilings: Ceilings,
    /// Pool sizing.
    pub pool: engine::PoolSizes,
}

impl SandboxConfig {
    /// The standard layout under a data directory: `cache/`, `buckets/` and the SQLite data
    /// database `data.db`.
    pub fn in_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            cache_dir: data_dir.join("cache"),
            buckets_dir: data_dir.join("buckets"),
            data_database: capabilities::database::DataDatabase::Sqlite(
                data_dir.join(capabilities::database::DEFAULT_SQLITE_FILE),
            ),
            ceilings: Ceilings::default(),
            pool: engine::PoolSizes::default(),
        }
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The engine could not be created.
    #[error("could not start the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
    /// Compiling or caching failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The component needs something the host does not provide.
    #[error("the component cannot be linked: {0:#}")]
    Link(wasmtime::Error),
    /// The component does not export `corral:tool/tool@0.1.x`.
    #[error("not a Corral tool: the component must export `corral:tool/tool@0.1.0` ({0:#})")]
    NotATool(wasmtime::Error),
    /// `describe()` failed.
    #[error("describe() failed: {0}")]
    Describe(ToolFailure),
    /// `describe()` returned something unusable.
    #[error("tool `{tool}` is described incorrectly: {reason}")]
    InvalidDescriptor {
        /// The tool name as given.
        tool: String,
        /// What is wrong.
        reason: String,
    },
    /// A compile task was lost (the runtime is shutting down).
    #[error("the compile task did not finish: {0}")]
    Join(String),
}

/// A component ready to be called: compiled, linked, and described.
#[derive(Clone)]
pub struct LoadedComponent {
    pre: ToolPluginPre<HostState>,
    descriptors: Arc<Vec<ToolDescriptor>>,
    imports: Arc<Vec<Import>>,
    content_hash: String,
    size: usize,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("content_hash", &self.content_hash)
            .field(
                "tools",
                &self.descriptors.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LoadedComponent {
    /// The tools the component provides, as its `describe()` said at load time.
    pub fn descriptors(&self) -> &[ToolDescriptor] {
        &self.descriptors
    }

    /// The descriptor of `tool`, if the component provides it.
    pub fn descriptor(&self, tool: &str) -> Option<&ToolDescriptor> {
        self.descriptors.iter().find(|d| d.name == tool)
    }

    /// Everything the component imports.
    pub fn imports(&self) -> &[Import] {
        &self.imports
    }

    /// SHA-256 of the component bytes, hex.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// One call to run.
#[derive(Debug, Clone)]
pub struct Invoke<'a> {
    /// The tool within the component.
    pub tool: &'a str,
    /// The final arguments (after injection and validation), as JSON text.
    pub arguments: &'a str,
    /// Call id, for logs and the guest's context.
    pub call_id: &'a str,
    /// The run the call belongs to, if any.
    pub run_id: Option<&'a str>,
    /// The assignment the call is made through, if any.
    pub assignment_id: Option<&'a str>,
    /// What the call may touch.
    pub grants: &'a CompiledGrants,
    /// How much it may use.
    pub limits: Limits,
}

/// What a call used, for the call record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallStats {
    /// Wall time including instantiation.
    pub duration: Duration,
    /// Most linear memory held at once.
    pub peak_memory_bytes: usize,
    /// Outgoing HTTP requests attempted.
    pub http_requests: u32,
    /// Why any of them were refused.
    pub http_refusals: Vec<String>,
}

/// The result of a call: the tool's JSON, or a typed failure; and what it used.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The result.
    pub result: Result<serde_json::Value, ToolFailure>,
    /// Resource use.
    pub stats: CallStats,
}

/// The process-wide sandbox.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
    config: SandboxConfig,
    /// One permit per pool slot: calls beyond the pool wait instead of failing.
    slots: Semaphore,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .finish()
    }
}

impl Sandbox {
    /// Creates the engine, starts its epoch ticker and links every capability.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let engine =
            engine::build_engine(&config.ceilings, &config.pool).map_err(SandboxError::Engine)?;
        engine::spawn_epoch_ticker(engine.weak()).map_err(|e| SandboxError::Engine(e.into()))?;
        let linker = build_linker(&engine).map_err(SandboxError::Link)?;
        let cache = CompileCache::new(&config.cache_dir, &engine);
        let slots = Semaphore::new(config.pool.concurrent_instances as usize);
        Ok(Self {
            engine,
            linker,
            cache,
            config,
            slots,
        })
    }

    /// The engine, e.g. for benchmarks that compare against bare wasmtime.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compile cache.
    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// The sandbox's configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Loads a component: compiles it (or takes it from the cache), links it, and calls
    /// `describe()` once in a sandbox with no grants. `on_compile` runs only when a real
    /// compile starts, so a CLI can show progress for multi-second compiles.
    pub async fn load(
        &self,
        bytes: &[u8],
        on_compile: impl FnOnce() + Send + 'static,
    ) -> Result<(LoadedComponent, CacheOutcome), SandboxError> {
        let (engine, cache, owned) = (self.engine.clone(), self.cache.clone(), bytes.to_vec());
        // Compiling is CPU-bound for seconds: keep it off the async workers.
        let (component, outcome) =
            tokio::task::spawn_blocking(move || cache.load(&engine, &owned, on_compile))
                .await
                .map_err(|e| SandboxError::Join(e.to_string()))??;
        let loaded = self.prepare(&component, bytes).await?;
        Ok((loaded, outcome))
    }

    async fn prepare(
        &self,
        component: &Component,
        bytes: &[u8],
    ) -> Result<LoadedComponent, SandboxError> {
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(SandboxError::Link)?;
        let pre = ToolPluginPre::new(instance_pre).map_err(SandboxError::NotATool)?;
        let imports = imports::list_imports(&self.engine, component);
        let mut loaded = LoadedComponent {
            pre,
            descriptors: Arc::new(Vec::new()),
            imports: Arc::new(imports),
            content_hash: CompileCache::content_hash(bytes),
            size: bytes.len(),
        };
        let described = self
            .describe(&loaded)
            .await
            .map_err(SandboxError::Describe)?;
        loaded.descriptors = Arc::new(parse_descriptors(described)?);
        Ok(loaded)
    }

    async fn describe(
        &self,
        component: &LoadedComponent,
    ) -> Result<Vec<wit::ToolDescriptor>, ToolFailure> {
        let grants = CompiledGrants::default();
        let limits = Limits::default();
        let (result, _) = self
            .run(
                component,
                "describe",
                "describe",
                &grants,
                limits,
                async |store, tool| tool.corral_tool_tool().call_describe(store).await.map(Ok),
            )
            .await;
        result
    }

    /// Runs one call in a fresh instance and turns every way it can end into an [`Invocation`].
    pub async fn invoke(&self, component: &LoadedComponent, call: Invoke<'_>) -> Invocation {
        let context = wit::CallContext {
            call_id: call.call_id.to_string(),
            run_id: call.run_id.map(str::to_string),
            assignment_id: call.assignment_id.map(str::to_string),
        };
        let (result, stats) = self
            .run(
                component,
                call.tool,
                call.call_id,
                call.grants,
                call.limits,
                async |store, tool| {
                    tool.corral_tool_tool()
                        .call_invoke(store, call.tool, call.arguments, &context)
                        .await
                        .map(|r| r.map_err(guest_failure))
                },
            )
            .await;
        let result = result.and_then(|json| {
            if json.len() as u64 > call.limits.output_bytes {
                return Err(ToolFailure::new(
                    FailureKind::OutputLimit,
                    format!(
                        "the tool returned {} bytes, more than its output limit of {} bytes",
                        json.len(),
                        call.limits.output_bytes
                    ),
                ));
            }
            serde_json::from_str(&json).map_err(|e| {
                ToolFailure::new(
                    FailureKind::Failed,
                    format!("the tool returned invalid JSON: {e}"),
                )
            })
        });
        Invocation { result, stats }
    }

    /// The common part of every call: a fresh store with limits and grants, instantiate,
    /// run `body`, classify traps, flush captured output to the log.
    async fn run<R>(
        &self,
        component: &LoadedComponent,
        tool: &str,
        call_id: &str,
        grants: &CompiledGrants,
        limits: Limits,
        body: impl AsyncFnOnce(
            &mut Store<HostState>,
            &ToolPlugin,
        ) -> wasmtime::Result<Result<R, ToolFailure>>,
    ) -> (Result<R, ToolFailure>, CallStats) {
        let started = Instant::now();
        let Ok(_slot) = self.slots.acquire().await else {
            return (
                Err(ToolFailure::new(
                    FailureKind::Unavailable,
                    "the sandbox is shutting down",
                )),
                CallStats::default(),
            );
        };
        let state = HostState::new(
            tool,
            call_id,
            grants,
            &self.config.buckets_dir,
            &self.config.data_database,
            limits,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Guest code yields to the async runtime at every epoch tick (10 ms), so a spinning
        // guest never holds a runtime worker: other requests keep being served, and dropping
        // the call (the time limit below, or a cancelled run) stops it at its next tick.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);

        let outcome = {
            let run = async {
                let instance = component
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(RunError::Instantiate)?;
                body(&mut store, &instance).await.map_err(RunError::Trapped)
            };
            // The wall-time limit, for guest code (which yields at every epoch tick) and for a
            // guest blocked in a host call (e.g. waiting on HTTP) alike.
            tokio::time::timeout(limits.timeout, run).await
        };

        let state = store.data_mut();
        let result = match outcome {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(failure))) => Err(annotate_guest_failure(failure, state, limits)),
            Ok(Err(RunError::Instantiate(error))) => Err(instantiate_failure(error, state, limits)),
            Ok(Err(RunError::Trapped(error))) => Err(trap_failure(error, state, limits)),
            Err(_elapsed) => Err(timeout_failure(limits)),
        };
        flush_output(state);
        let stats = CallStats {
            duration: started.elapsed(),
            peak_memory_bytes: state.limiter.peak(),
            http_requests: state.http.requests(),
            http_refusals: state
                .http
                .refusals()
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        (result, stats)
    }
}

/// How a call's instance failed, before classification into a [`ToolFailure`].
enum RunError {
    Instantiate(wasmtime::Error),
    Trapped(wasmtime::Error),
}

fn build_linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    // Every WASI p2 interface is linked (guests from other toolchains import them all) but the
    // per-call WasiCtx gives them nothing to reach. Unknown imports are never stubbed as traps:
    // that hides the semver-compatible definitions older WASI versions resolve to.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    capabilities::log::add_to_linker(&mut linker, HostState::log_view)?;
    capabilities::config::add_to_linker(&mut linker, HostState::config_view)?;
    capabilities::storage::add_to_linker(&mut linker, HostState::storage_view)?;
    capabilities::database::add_to_linker(&mut linker, HostState::database_view)?;
    Ok(linker)
}

fn parse_descriptors(
    described: Vec<wit::ToolDescriptor>,
) -> Result<Vec<ToolDescriptor>, SandboxError> {
    let mut seen = std::collections::HashSet::new();
    described
        .into_iter()
        .map(|d| {
            let invalid = |reason: String| SandboxError::InvalidDescriptor { tool: d.name.clone(), reason };
            if !is_snake_case(&d.name) {
                return Err(invalid("the name must be snake_case: lowercase letters, digits and '_', starting with a letter, at most 64 characters".into()));
            }
            if !seen.insert(d.name.clone()) {
                return Err(invalid("the name is used twice".into()));
            }
            let mut input_schema = parse_schema(&d.input_schema).map_err(|e| invalid(format!("input schema: {e}")))?;
            let confirm_if = input_schema
                .as_object_mut()
                .and_then(|schema| schema.remove(crate::tool::CONFIRM_IF_KEY));
            if let Some(condition) = &confirm_if {
                jsonschema::meta::validate(condition)
                    .map_err(|e| invalid(format!("{}: not a valid JSON Schema: {e}", crate::tool::CONFIRM_IF_KEY)))?;
            }
            if input_schema.get("type").and_then(|t| t.as_str()) != Some("object") {
                return Err(invalid("the input schema must describe an object (\"type\": \"object\")".into()));
            }
            let output_schema = d
                .output_schema
                .as_deref()
                .map(parse_schema)
                .transpose()
                .map_err(|e| invalid(format!("output schema: {e}")))?;
            Ok(ToolDescriptor {
                name: d.name.clone(),
                description: d.description,
                input_schema,
                output_schema,
                confirmation: match d.confirmation {
                    crate::bindings::corral::tool::types::Confirmation::Never => Confirmation::Never,
                    crate::bindings::corral::tool::types::Confirmation::Always => Confirmation::Always,
                },
                tool_type: d.tool_type,
                confirm_if,
            })
        })
        .collect()
}

fn parse_schema(text: &str) -> Result<serde_json::Value, String> {
    let schema: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    jsonschema::meta::validate(&schema).map_err(|e| format!("not a valid JSON Schema: {e}"))?;
    Ok(schema)
}

fn is_snake_case(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

fn guest_failure(error: wit::ToolError) -> ToolFailure {
    match error {
        wit::ToolError::InvalidArguments(m) => ToolFailure::new(FailureKind::InvalidArguments, m),
        wit::ToolError::Denied(m) => ToolFailure::new(FailureKind::Denied, m),
        wit::ToolError::NotFound(m) => ToolFailure::new(FailureKind::NotFound, m),
        wit::ToolError::Failed(m) => ToolFailure::new(FailureKind::Failed, m),
    }
}

fn memory_message(limits: Limits) -> String {
    format!(
        "the tool exceeded its memory limit of {} MiB",
        limits.memory_bytes / (1024 * 1024)
    )
}

/// A guest that reported an error itself may have been pushed into it by a host refusal; say so.
fn annotate_guest_failure(
    mut failure: ToolFailure,
    state: &HostState,
    limits: Limits,
) -> ToolFailure {
    if state.limiter.refused() {
        failure.message = format!("{} ({})", failure.message, memory_message(limits));
    }
    if let Some(refusal) = state.http.refusals().last() {
        failure.message = format!("{} ({refusal})", failure.message);
    }
    failure
}

fn instantiate_failure(error: wasmtime::Error, state: &HostState, limits: Limits) -> ToolFailure {
    if state.limiter.refused() {
        return ToolFailure::new(FailureKind::MemoryLimit, memory_message(limits));
    }
    tracing::warn!(
        error = format!("{error:#}"),
        "instantiating a tool component failed"
    );
    ToolFailure::new(
        FailureKind::Unavailable,
        format!("the tool could not be started: {error:#}"),
    )
}

fn timeout_failure(limits: Limits) -> ToolFailure {
    ToolFailure::new(
        FailureKind::Timeout,
        format!(
            "the tool did not finish within its time limit of {} ms and was stopped",
            limits.timeout.as_millis()
        ),
    )
}

fn trap_failure(error: wasmtime::Error, state: &HostState, limits: Limits) -> ToolFailure {
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return timeout_failure(limits);
    }
    if state.limiter.refused() {
        return ToolFailure::new(FailureKind::MemoryLimit, memory_message(limits));
    }
    if trap == Some(Trap::StackOverflow) {
        return ToolFailure::new(
            FailureKind::Crashed,
            "the tool crashed: stack overflow (recursion too deep)",
        );
    }
    if trap == Some(Trap::MemoryOutOfBounds) {
        // Languages compiled to wasm keep their own stack in linear memory; when deep
        // recursion overruns it, the symptom is an out-of-bounds access, not a wasm stack trap.
        return ToolFailure::new(
            FailureKind::Crashed,
            "the tool crashed: out-of-bounds memory access (usually a stack overflow from recursion that is too deep, or a memory bug in the tool)",
        );
    }
    if let Some(panic) = panic_message(&state.stderr.contents()) {
        return ToolFailure::new(FailureKind::Crashed, format!("the tool panicked: {panic}"));
    }
    let detail = trap.map_or_else(|| format!("{error:#}"), |t| t.to_string());
    ToolFailure::new(FailureKind::Crashed, format!("the tool crashed: {detail}"))
}

/// The message of a Rust panic as printed by the guest's std (`panicked at src:line:col:\nmsg`).
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let after = &stderr[start..];
    let message = after.lines().nth(1).unwrap_or(after).trim();
    Some(message.to_string())
}

fn flush_output(state: &mut HostState) {
    for (stream, level) in [(&state.stdout, Level::Info), (&state.stderr, Level::Warn)] {
        let (text, dropped) = stream.take();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            state.log.emit(level, line);
        }
        if dropped > 0 {
            state.log.emit(
                Level::Warn,
                &format!("({dropped} more bytes of output were dropped)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert!(is_snake_case("fetch_page"));
        assert!(is_snake_case("a1"));
        for bad in ["", "Fetch", "1a", "fetch-page", "a b", &"a".repeat(65)] {
            assert!(!is_snake_case(bad), "{bad:?}");
        }
    }

    #[test]
    fn panic_messages_are_extracted() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nhostile guest panicked on purpose\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("hostile guest panicked on purpose")
        );
        assert_eq!(panic_message("nothing"), None);
    }
}

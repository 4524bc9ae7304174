//! The run engine: a REST client's message becomes a run that calls the model, takes every
//! tool call through the host boundary, pauses for a human where a call is gated, and records
//! every event.
//!
//! A run's whole state lives in the database (messages, step, pending actions, events), and a
//! paused run holds no task: approving resumes it on whichever instance took the approval,
//! after a restart too.
//!
//! # Layout
//! [`run_loop`] (the tool loop), [`approvals`] (ALLOW/DENY, expiry, cancel), [`events`]
//! (persisted, broadcast run events), [`toolset`] (an agent's tools for a run), [`hooks`]
//! (hooks at run time), [`request`] (what a run is asked and its context).

pub mod approvals;
pub mod events;
pub mod hooks;
pub mod request;
pub mod run_loop;
pub mod toolset;

use crate::boundary::Boundary;
use crate::boundary::gate::ExternalPendingStore;
use crate::boundary::record::NoRecorder;
use crate::llm::providers::Providers;
use crate::registry::ToolRegistry;
use crate::store::{Store, StoreError};
use events::EventBus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Default time a gated call waits for a human before it counts as DENY.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(24 * 3600);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a pending approval lives.
    pub approval_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            approval_ttl: DEFAULT_APPROVAL_TTL,
        }
    }
}

/// Why the engine could not do what was asked (the API maps each to a status).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// Unknown or not the caller's (404).
    #[error("{0}")]
    NotFound(String),
    /// Not in a state that allows it (409).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine, shared by every request.
pub struct Engine {
    store: Store,
    registry: Arc<ToolRegistry>,
    providers: Providers,
    boundary: Boundary,
    bus: EventBus,
    cancels: Mutex<HashMap<String, CancellationToken>>,
    hook_client: reqwest::Client,
    config: EngineConfig,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over the store, tools and providers.
    pub fn new(
        store: Store,
        registry: Arc<ToolRegistry>,
        providers: Providers,
        config: EngineConfig,
    ) -> Self {
        let boundary = Boundary::new(
            registry.sandbox().clone(),
            Arc::new(ExternalPendingStore),
            Arc::new(NoRecorder),
        );
        Self {
            store,
            registry,
            providers,
            boundary,
            bus: EventBus::default(),
            cancels: Mutex::new(HashMap::new()),
            hook_client: reqwest::Client::new(),
            config,
        }
    }

    /// The event bus, for followers.
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn cancel_token(&self, run_id: &str) -> CancellationToken {
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(run_id.to_string())
            .or_default()
            .clone()
    }

    fn forget_token(&self, run_id: &str) {
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(run_id);
    }

    /// Start-up recovery on a single-instance (SQLite) server: runs that were mid-step when
    /// the process stopped cannot be continued mid-stream, so they are marked failed. Paused
    /// runs are untouched: their approvals still work.
    pub async fn recover_interrupted(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for status in ["queued", "running"] {
            for run_id in self.store.runs_in_status(status).await? {
                if self.store.transition_run(&run_id, status, "failed").await? {
                    let message = "the server stopped while this run was in progress";
                    if let Some(mut run) = self.store.get_run(&run_id).await? {
                        run.error = Some(message.into());
                        run.completed_at = Some(crate::store::now());
                        self.store.save_run(&run).await?;
                    }
                    let _ = self
                        .bus
                        .emit(
                            &self.store,
                            &run_id,
                            "error",
                            serde_json::json!({"error": message, "message": message}),
                        )
                        .await;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Expires pending approvals every `every` until the process ends.
    pub fn spawn_expiry_sweeper(self: &Arc<Self>, every: Duration) {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if let Err(error) = engine.expire_pending(&crate::store::now()).await {
                    tracing::warn!(%error, "expiring pending approvals failed");
                }
            }
        });
    }
}

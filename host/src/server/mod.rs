//! `corral serve`: opens the database, loads the builtin tools, makes sure an admin key
//! exists, and serves the API until Ctrl-C or SIGTERM, letting requests in flight finish.

pub mod config;

use crate::api::{ApiConfig, AppState, app};
use crate::capabilities::database::DataDatabase;
use crate::engine::{Engine, EngineConfig};
use crate::llm::providers::Providers;
use crate::registry::{RegistryError, ToolRegistry};
use crate::sandbox::{Sandbox, SandboxConfig, SandboxError};
use crate::store::keys::{NewKey, Scope, generate_secret};
use crate::store::{Store, StoreError, redact_url};
use axum::serve::ListenerExt;
use config::ServerConfig;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database {url}: {source}")]
    Store {
        /// The URL, without password.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// The sandbox did not start.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A builtin tool did not load.
    #[error("loading the builtin tools: {0}")]
    Builtins(#[from] RegistryError),
    /// The address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another server running? use --listen to pick another address)"
    )]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The provider settings are wrong.
    #[error("LLM providers: {0}")]
    Providers(String),
    /// The data database URL is unusable.
    #[error("{0}")]
    DataDatabase(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Everything a running server holds, built before it listens (tests use it directly).
pub async fn build_state(config: &ServerConfig) -> Result<AppState, ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|source| ServerError::Store {
            url: redact_url(&config.database_url),
            source,
        })?;
    let mut sandbox_config = SandboxConfig::in_data_dir(&config.data_dir);
    sandbox_config.data_database = DataDatabase::from_url(&config.data_database_url)
        .map_err(|e| ServerError::DataDatabase(e.to_string()))?;
    if let Some(cache_dir) = &config.cache_dir {
        sandbox_config.cache_dir = cache_dir.clone();
    }
    let sandbox = Arc::new(Sandbox::new(sandbox_config)?);
    let registry = Arc::new(ToolRegistry::new(sandbox, store.clone()));
    registry.load_builtins(crate::artifacts::BUILTINS).await?;
    let providers = Providers::from_config(&config.providers, config.default_provider.as_deref())
        .map_err(ServerError::Providers)?;
    let engine = Arc::new(Engine::new(
        store.clone(),
        registry.clone(),
        providers,
        EngineConfig {
            approval_ttl: config.approval_ttl,
        },
    ));
    Ok(AppState {
        engine,
        store,
        registry,
        config: Arc::new(ApiConfig {
            max_upload_bytes: config.max_upload_bytes,
            cors_origins: config.cors_origins.clone(),
        }),
    })
}

/// What [`ensure_admin_key`] did, so the caller can tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminKey {
    /// Keys already existed; nothing was made.
    Existing,
    /// The key from `CORRAL_ADMIN_KEY` was stored.
    FromEnv,
    /// A key was generated; this is the only time it can be shown.
    Generated(String),
}

/// On first start (no keys at all) makes an admin key, or stores `CORRAL_ADMIN_KEY`; a
/// `CORRAL_ADMIN_KEY` that is not stored yet is added on any start.
pub async fn ensure_admin_key(
    store: &Store,
    from_env: Option<&str>,
) -> Result<AdminKey, StoreError> {
    let admin = |name: &str| NewKey {
        name: name.into(),
        scopes: vec![Scope::Admin],
        user_ref: None,
    };
    if let Some(key) = from_env {
        if store.authenticate(key).await?.is_none() {
            store
                .create_key(admin("admin (CORRAL_ADMIN_KEY)"), key)
                .await?;
        }
        return Ok(AdminKey::FromEnv);
    }
    if store.count_keys().await? > 0 {
        return Ok(AdminKey::Existing);
    }
    let secret = generate_secret();
    store
        .create_key(admin("admin (first start)"), &secret)
        .await?;
    Ok(AdminKey::Generated(secret))
}

/// Serves `state` on `listener` until `shutdown` completes, then lets requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = state.store.clone();
    // Streamed events are many small writes: without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACK hold each one back by up to ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)?;
    store.close().await;
    Ok(())
}

/// Runs `corral serve` with resolved settings.
pub async fn run(config: ServerConfig) -> Result<(), ServerError> {
    let state = build_state(&config).await?;
    match ensure_admin_key(&state.store, config.admin_key.as_deref())
        .await
        .map_err(|source| ServerError::Store {
            url: redact_url(&config.database_url),
            source,
        })? {
        AdminKey::Generated(secret) => {
            println!(
                "Created an admin API key. It is shown only this once; keep it:\n\n    {secret}\n"
            );
        }
        AdminKey::FromEnv => println!("Admin API key: the one in CORRAL_ADMIN_KEY."),
        AdminKey::Existing => {}
    }
    if state.store.backend() == crate::store::Backend::Sqlite {
        // One process owns an SQLite database, so a run left `running` was cut off by a stop.
        let interrupted =
            state
                .engine
                .recover_interrupted()
                .await
                .map_err(|source| ServerError::Store {
                    url: redact_url(&config.database_url),
                    source,
                })?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "runs cut off by the last stop were marked failed"
            );
        }
    }
    state
        .engine
        .spawn_expiry_sweeper(std::time::Duration::from_secs(30));
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    println!(
        "Corral listening on http://{addr} (database: {}, data: {})",
        redact_url(&config.database_url),
        config.data_dir.display()
    );
    tracing::info!(%addr, "listening");
    serve(listener, state, shutdown_signal()).await
}

/// Ctrl-C, or SIGTERM on Unix (what service managers and containers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    println!("Shutting down: finishing requests in flight.");
}

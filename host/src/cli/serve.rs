//! `corral serve`: run the agent server.

use super::CliError;
use crate::server::config::{FileConfig, Overrides, ServerConfig};
use clap::Args;
use std::path::PathBuf;

/// `corral serve` flags (documented on the `Serve` command).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CORRAL_LISTEN")]
    pub listen: Option<String>,
    /// Database: postgres://user@host/db for several instances sharing one database
    /// [default: sqlite in the data directory].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The operator's data database, where database_query/database_write run on the tables an
    /// assignment grants: postgres://user@host/db or sqlite://PATH [default: sqlite in the data
    /// directory, data.db]. Never the server's own database.
    #[arg(long, env = "CORRAL_DATA_DATABASE_URL")]
    pub data_database_url: Option<String>,
    /// TOML file with settings; flags and environment variables win over it.
    #[arg(long, env = "CORRAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// An origin allowed to call the API from a browser (repeatable; `*` for any)
    /// [default: none, no CORS headers].
    #[arg(
        long = "cors-origin",
        env = "CORRAL_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Largest WASM component upload, in MiB [default: 64].
    #[arg(long, env = "CORRAL_MAX_UPLOAD_MIB")]
    pub max_upload_mib: Option<usize>,
    /// LLM provider for model names without a `provider/` prefix [default: openai]. Built-in
    /// providers: openai, anthropic, ollama, openrouter, vllm, lmstudio (NAME_API_KEY and
    /// NAME_BASE_URL environment variables); more in the config file's [providers.NAME].
    #[arg(long, env = "CORRAL_DEFAULT_PROVIDER")]
    pub default_provider: Option<String>,
    /// Seconds a gated tool call waits for ALLOW/DENY before it counts as DENY [default: 86400].
    #[arg(long, env = "CORRAL_APPROVAL_TTL_SECONDS")]
    pub approval_ttl_seconds: Option<u64>,
}

/// Resolves the settings and runs the server until Ctrl-C or SIGTERM.
pub(super) async fn run(
    args: ServeArgs,
    data_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
) -> Result<(), CliError> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path).map_err(CliError::Usage)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        listen: args.listen,
        data_dir,
        database_url: args.database_url,
        data_database_url: args.data_database_url,
        cors_origins: args.cors_origins,
        max_upload_mib: args.max_upload_mib,
        cache_dir,
        default_provider: args.default_provider,
        approval_ttl_seconds: args.approval_ttl_seconds,
        admin_key: std::env::var("CORRAL_ADMIN_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty()),
    };
    let config = ServerConfig::resolve(overrides, file).map_err(CliError::Usage)?;
    crate::server::run(config)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))
}

//! The `corral` command line: `corral serve` runs the agent server; `corral tool
//! new|build|inspect|call` make writing, checking and trying a tool need no server.

mod build;
mod call;
mod demo;
mod inspect;
mod new;
mod progress;
mod serve;

use crate::sandbox::SandboxConfig;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Corral: an agent server whose tools all run as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about)]
pub struct Cli {
    /// More log output (repeat for more); guest log lines appear at -v.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Data directory: SQLite database, compiled-component cache and storage buckets
    /// [default: corral-data].
    #[arg(long, global = true, env = "CORRAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where compiled components are cached (default: <data-dir>/cache).
    #[arg(long, global = true, env = "CORRAL_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent server (REST API) on the embedded SQLite database or on Postgres.
    ///
    /// Settings come from flags, then environment variables, then the TOML file given with
    /// --config (keys: listen, data_dir, database_url, cors_origins, max_upload_mib), then
    /// defaults. On first start with no API keys, an admin key is created and printed once;
    /// set CORRAL_ADMIN_KEY (at least 20 characters) to choose it instead.
    Serve(serve::ServeArgs),
    /// Run the whole main job offline: a server, an agent on the scripted model using the
    /// `notes` example tool, a gated call approved over the API, every streamed event printed.
    Demo(demo::DemoArgs),
    /// Write, build, inspect and try tool components.
    #[command(subcommand)]
    Tool(ToolCommand),
}

/// `corral tool ...`
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Create a new tool project that builds as it is.
    New(new::NewArgs),
    /// Build the tool project in a directory into a component.
    Build(build::BuildArgs),
    /// Show a component's tools, their schemas, and the capabilities it imports.
    Inspect(inspect::InspectArgs),
    /// Call one tool of a component through the host boundary, as an agent would.
    Call(call::CallArgs),
}

/// The languages a tool can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust with corral-plugin-sdk.
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with componentize-js.
    Js,
}

/// A CLI failure; the message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or an input is wrong.
    #[error("{0}")]
    Usage(String),
    /// Something outside our control failed (I/O, a toolchain).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

/// Sets up logging to stderr; `RUST_LOG` overrides the verbosity flags.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,corral=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // CORRAL_LOG_FORMAT=json gives one JSON object per line (request id, method, path, status,
    // latency), for log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("CORRAL_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    if let Command::Serve(args) = cli.command {
        return serve::run(args, cli.data_dir, cli.cache_dir)
            .await
            .map(|()| ExitCode::SUCCESS);
    }
    if let Command::Demo(args) = cli.command {
        return demo::run(args, cli.cache_dir)
            .await
            .map(|()| ExitCode::SUCCESS);
    }
    let data_dir = cli.data_dir.unwrap_or_else(|| PathBuf::from("corral-data"));
    let mut sandbox = SandboxConfig::in_data_dir(&data_dir);
    if let Some(cache_dir) = cli.cache_dir {
        sandbox.cache_dir = cache_dir;
    }
    match cli.command {
        Command::Serve(_) | Command::Demo(_) => unreachable!("handled above"),
        Command::Tool(ToolCommand::New(args)) => new::run(args).map(|()| ExitCode::SUCCESS),
        Command::Tool(ToolCommand::Build(args)) => {
            build::run(args, sandbox).await.map(|()| ExitCode::SUCCESS)
        }
        Command::Tool(ToolCommand::Inspect(args)) => inspect::run(args, sandbox)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Tool(ToolCommand::Call(args)) => call::run(args, sandbox).await,
    }
}

/// A sandbox and a component loaded into it.
type Loaded = (
    std::sync::Arc<crate::sandbox::Sandbox>,
    crate::sandbox::LoadedComponent,
);

/// Loads `bytes`, showing a spinner named `label` if it must compile.
async fn load_with_progress(
    sandbox: &crate::sandbox::Sandbox,
    label: &str,
    bytes: &[u8],
) -> Result<crate::sandbox::LoadedComponent, crate::sandbox::SandboxError> {
    let spinner = progress::CompileSpinner::new(label, bytes.len());
    let loaded = sandbox.load(bytes, spinner.starter()).await;
    spinner.finish();
    loaded.map(|(component, _)| component)
}

/// Loads the builtin component that provides `tool` (they are embedded in the binary). The
/// component named like the tool's prefix (`database` for `database_query`) is tried first,
/// so a call does not compile unrelated builtins (code_execute's interpreter takes ~20 s).
async fn load_builtin(tool: &str, config: SandboxConfig) -> Result<Loaded, CliError> {
    let sandbox =
        crate::sandbox::Sandbox::new(config).map_err(|e| CliError::Failed(e.to_string()))?;
    let mut builtins: Vec<&(&str, &[u8])> = crate::artifacts::BUILTINS.iter().collect();
    builtins.sort_by_key(|(crate_name, _)| !tool.starts_with(&crate_name.replace('-', "_")));
    let mut names = Vec::new();
    for (crate_name, bytes) in builtins {
        let component = load_with_progress(&sandbox, crate_name, bytes)
            .await
            .map_err(|e| CliError::Failed(format!("builtin {crate_name}: {e}")))?;
        if component.descriptor(tool).is_some() {
            return Ok((std::sync::Arc::new(sandbox), component));
        }
        names.extend(component.descriptors().iter().map(|d| d.name.clone()));
    }
    names.sort();
    Err(CliError::Usage(format!(
        "no builtin tool `{tool}`; the builtins are: {}",
        names.join(", ")
    )))
}

/// Loads a component file into a fresh sandbox, with progress shown if it must compile.
async fn load_component(path: &std::path::Path, config: SandboxConfig) -> Result<Loaded, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let sandbox =
        crate::sandbox::Sandbox::new(config).map_err(|e| CliError::Failed(e.to_string()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let component = load_with_progress(&sandbox, &file_name, &bytes)
        .await
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    Ok((std::sync::Arc::new(sandbox), component))
}

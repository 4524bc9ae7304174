//! `corral tool call <file> <tool> --args JSON`: one call through the real host boundary:
//! injection, validation, the confirmation gate (asked on the terminal), limits and grants.

use super::{CliError, load_builtin, load_component};
use crate::boundary::assignment::{Assignment, AssignmentSpec, Toolset};
use crate::boundary::catalog::Catalog;
use crate::boundary::gate::{Approval, ConfirmationSetting, MemoryPendingStore};
use crate::boundary::record::MemoryRecorder;
use crate::boundary::{Boundary, CallOutcome, ToolCall};
use crate::capabilities::Grants;
use crate::capabilities::http::HttpGrant;
use crate::capabilities::storage::StorageGrant;
use crate::sandbox::limits::LimitOverrides;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The FILE argument that names the builtin tools instead of a component file.
const BUILTIN: &str = "builtin";

/// Arguments of `corral tool call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The component (.wasm), or `builtin` for the tools shipped inside the server
    /// (`corral tool call builtin database_query ...`).
    pub file: PathBuf,
    /// The tool to call.
    pub tool: String,
    /// The arguments, a JSON object (what the model would send).
    #[arg(long, default_value = "{}")]
    pub args: String,
    /// Operator-fixed arguments forced into the call, a JSON object.
    #[arg(long)]
    pub config_override: Option<String>,
    /// Grant a capability: `http=HOST[:PORT]` (public addresses only), `http-private=HOST[:PORT]`
    /// (may resolve to a private/loopback address), `storage=BUCKET`. Repeatable.
    #[arg(long = "grant", value_name = "KIND=VALUE")]
    pub grants: Vec<String>,
    /// A configuration value the tool can read, `KEY=VALUE`. Repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A secret the tool can read, `KEY=VALUE`; redacted from the call record. Repeatable.
    #[arg(long = "secret", value_name = "KEY=VALUE")]
    pub secrets: Vec<String>,
    /// Override the tool's confirmation default.
    #[arg(long, value_enum, default_value = "default")]
    pub confirmation: ConfirmationArg,
    /// Allow a call that needs confirmation without asking.
    #[arg(long)]
    pub yes: bool,
    /// Wall-time limit in milliseconds (default 10000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Memory limit in MiB (default 64).
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Output limit in KiB (default 1024).
    #[arg(long)]
    pub output_kib: Option<u64>,
    /// The data database for database tools: sqlite://PATH or postgres://...
    /// [default: sqlite, DATA_DIR/data.db]. Tables are granted with
    /// `--config-override '{"schemas": {"main": ["notes"]}}'`.
    #[arg(long, env = "CORRAL_DATA_DATABASE_URL")]
    pub data_database_url: Option<String>,
    /// Also print the audit record of the call (to stderr).
    #[arg(long)]
    pub show_record: bool,
}

/// `--confirmation` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConfirmationArg {
    /// The tool's own default.
    Default,
    /// Always ask.
    Always,
    /// Never ask.
    Never,
}

pub(crate) async fn run(
    args: CallArgs,
    mut sandbox_config: crate::sandbox::SandboxConfig,
) -> Result<ExitCode, CliError> {
    if let Some(url) = &args.data_database_url {
        sandbox_config.data_database =
            crate::capabilities::database::DataDatabase::from_url(url)
                .map_err(|e| CliError::Usage(format!("--data-database-url: {e}")))?;
    }
    let arguments: serde_json::Value = serde_json::from_str(&args.args)
        .map_err(|e| CliError::Usage(format!("--args is not valid JSON: {e}")))?;
    let config_override = match &args.config_override {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| CliError::Usage(format!("--config-override is not valid JSON: {e}")))?,
        None => serde_json::json!({}),
    };
    let grants = parse_grants(&args.grants)?;
    let config = parse_pairs("--config", &args.config)?;
    let secrets = parse_pairs("--secret", &args.secrets)?;

    let (sandbox, component) = if args.file.as_os_str() == BUILTIN && !args.file.exists() {
        load_builtin(&args.tool, sandbox_config).await?
    } else {
        load_component(&args.file, sandbox_config).await?
    };
    if component.descriptor(&args.tool).is_none() {
        let names: Vec<_> = component
            .descriptors()
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        return Err(CliError::Usage(format!(
            "the component has no tool `{}`; it provides: {}",
            args.tool,
            names.join(", ")
        )));
    }
    let catalog = Catalog::new();
    catalog
        .add_component(&component)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let spec = AssignmentSpec {
        id: "cli".into(),
        tool_name: args.tool.clone(),
        config_override,
        confirmation: match args.confirmation {
            ConfirmationArg::Default => ConfirmationSetting::Default,
            ConfirmationArg::Always => ConfirmationSetting::Always,
            ConfirmationArg::Never => ConfirmationSetting::Never,
        },
        grants,
        limits: LimitOverrides {
            memory_mib: args.memory_mib,
            timeout_ms: args.timeout_ms,
            output_kib: args.output_kib,
        },
        config,
        secrets,
    };
    let assignment = Assignment::prepare(spec, &catalog, &sandbox.config().ceilings)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    if !assignment.override_report.ignored_keys.is_empty() {
        eprintln!(
            "note: --config-override keys not in the tool's input schema are ignored: {}",
            assignment.override_report.ignored_keys.join(", ")
        );
    }
    let mut toolset = Toolset::new();
    toolset.insert(assignment);
    let recorder = Arc::new(MemoryRecorder::default());
    let boundary = Boundary::new(
        sandbox,
        Arc::new(MemoryPendingStore::default()),
        recorder.clone(),
    );
    let call = ToolCall {
        call_id: uuid::Uuid::new_v4().to_string(),
        tool_name: args.tool.clone(),
        arguments,
        run_id: None,
    };

    let finished = match boundary.call(&toolset, call, false).await {
        CallOutcome::Finished(done) => *done,
        CallOutcome::Pending(action) => {
            eprintln!("{}", action.description);
            let approval = if args.yes {
                Approval::Allow
            } else if std::io::stdin().is_terminal() {
                ask_yes_no()?
            } else {
                eprintln!(
                    "This call needs confirmation and no terminal is attached: pass --yes to allow it."
                );
                Approval::Deny {
                    reason: Some("not confirmed (no terminal; --yes not given)".into()),
                }
            };
            boundary
                .decide(&toolset, &action.action_id, approval, "cli-user")
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?
        }
    };
    if args.show_record {
        for record in recorder.records() {
            eprintln!(
                "{}",
                serde_json::to_string_pretty(&record).unwrap_or_default()
            );
        }
    }
    match finished.result {
        Ok(value) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            let kind = serde_json::to_value(failure.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!("tool error ({kind}): {}", failure.message);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn ask_yes_no() -> Result<Approval, CliError> {
    eprint!("Allow this call? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("reading the answer: {e}")))?;
    Ok(match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Approval::Allow,
        _ => Approval::Deny {
            reason: Some("declined at the prompt".into()),
        },
    })
}

fn parse_pairs(flag: &str, pairs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CliError::Usage(format!(
                "{flag} expects KEY=VALUE, got {pair:?}"
            ))),
        })
        .collect()
}

/// Parses `--grant KIND=VALUE` flags into [`Grants`].
pub(crate) fn parse_grants(flags: &[String]) -> Result<Grants, CliError> {
    let mut grants = Grants::default();
    for flag in flags {
        let (kind, value) = flag
            .split_once('=')
            .filter(|(_, v)| !v.is_empty())
            .ok_or_else(|| CliError::Usage(format!("--grant expects KIND=VALUE (http=HOST, http-private=HOST, storage=BUCKET), got {flag:?}")))?;
        match kind {
            "http" | "http-private" => {
                let http = grants
                    .http
                    .get_or_insert_with(|| HttpGrant::to_hosts(Vec::<String>::new()));
                if kind == "http" {
                    &mut http.hosts
                } else {
                    &mut http.private_hosts
                }
                .push(value.to_string());
            }
            "storage" => {
                if grants.storage.is_some() {
                    return Err(CliError::Usage(
                        "only one storage bucket can be granted".into(),
                    ));
                }
                grants.storage =
                    Some(StorageGrant::new(value).map_err(|e| CliError::Usage(e.to_string()))?);
            }
            other => {
                return Err(CliError::Usage(format!(
                    "unknown grant kind {other:?}: use http, http-private or storage"
                )));
            }
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse() {
        let g = parse_grants(&[
            "http=api.example.com".into(),
            "http-private=127.0.0.1:8080".into(),
            "storage=docs".into(),
        ])
        .unwrap();
        let http = g.http.unwrap();
        assert_eq!(http.hosts, ["api.example.com"]);
        assert_eq!(http.private_hosts, ["127.0.0.1:8080"]);
        assert_eq!(g.storage.unwrap().bucket, "docs");
    }

    #[test]
    fn bad_grants_name_the_fix() {
        for bad in ["http", "http=", "files=/etc", "storage=../x"] {
            let err = parse_grants(&[bad.to_string()]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        assert!(parse_grants(&["storage=a".into(), "storage=b".into()]).is_err());
    }

    #[test]
    fn pairs_need_an_equals_sign() {
        assert!(parse_pairs("--config", &["a".into()]).is_err());
        assert_eq!(
            parse_pairs("--config", &["a=b=c".into()]).unwrap()["a"],
            "b=c"
        );
    }
}

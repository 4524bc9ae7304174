//! `corral tool inspect <file>`: what a component provides and what it can touch.

use super::{CliError, load_component};
use crate::sandbox::imports::capabilities;
use std::path::PathBuf;

/// Arguments of `corral tool inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(crate) async fn run(
    args: InspectArgs,
    sandbox_config: crate::sandbox::SandboxConfig,
) -> Result<(), CliError> {
    let (_, component) = load_component(&args.file, sandbox_config).await?;
    let caps = capabilities(component.imports());
    if args.json {
        let report = serde_json::json!({
            "file": args.file,
            "size": component.size(),
            "sha256": component.content_hash(),
            "tools": component.descriptors(),
            "capabilities": caps,
            "imports": component.imports(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{}  ({} bytes, sha256 {})",
        args.file.display(),
        component.size(),
        component.content_hash()
    );
    println!("\nTools:");
    for tool in component.descriptors() {
        let kind = tool
            .tool_type
            .as_deref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        let confirm = if tool.confirmation == crate::tool::Confirmation::Always {
            " (asks for confirmation)"
        } else {
            ""
        };
        println!("  {}{kind}{confirm}\n    {}", tool.name, tool.description);
        println!(
            "    input schema: {}",
            serde_json::to_string_pretty(&tool.input_schema)
                .unwrap_or_default()
                .replace('\n', "\n    ")
        );
    }
    println!("\nCapabilities it imports:");
    for cap in &caps {
        let grant = if cap.needs_grant() {
            "needs a grant"
        } else {
            "always on"
        };
        println!(
            "  {:<16} {grant:<14} {}",
            format!("{cap:?}").to_lowercase(),
            cap.explanation()
        );
    }
    println!("\nImports:");
    for import in component.imports() {
        println!("  {}", import.name);
    }
    Ok(())
}

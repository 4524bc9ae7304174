//! `corral tool build [DIR]`: builds a tool project with its language's toolchain, then loads
//! the result in the sandbox to check it is a valid Corral tool (and to warm the compile cache).

use super::{CliError, Lang, load_component};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Arguments of `corral tool build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the component (Python/JS; Rust uses cargo's target dir).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub(crate) async fn run(
    args: BuildArgs,
    sandbox_config: crate::sandbox::SandboxConfig,
) -> Result<(), CliError> {
    let dir = &args.dir;
    let lang = detect(dir)?;
    let output = match lang {
        Lang::Rust => build_rust(dir)?,
        Lang::Python | Lang::Js => {
            let output = args
                .output
                .clone()
                .unwrap_or_else(|| dir.join(format!("{}.wasm", project_name(dir))));
            build_with(lang, dir, &output)?;
            output
        }
    };
    let (_, component) = load_component(&output, sandbox_config).await?;
    let tools: Vec<_> = component
        .descriptors()
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    println!(
        "Built {} ({} bytes): {}",
        output.display(),
        component.size(),
        tools.join(", ")
    );
    Ok(())
}

fn detect(dir: &Path) -> Result<Lang, CliError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Lang::Rust)
    } else if dir.join("app.py").is_file() {
        Ok(Lang::Python)
    } else if dir.join("app.js").is_file() {
        Ok(Lang::Js)
    } else {
        Err(CliError::Usage(format!(
            "{} is not a tool project: expected Cargo.toml, app.py or app.js (create one with `corral tool new`)",
            dir.display()
        )))
    }
}

fn project_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().replace('-', "_")))
        .unwrap_or_else(|| "tool".into())
}

fn run_command(mut cmd: Command, what: &str, fix: &str) -> Result<(), CliError> {
    let status = cmd.status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::Failed(format!("{what} is not installed: {fix}"))
        } else {
            CliError::Failed(format!("running {what}: {e}"))
        }
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{what} failed ({status}); see its output above"
        )))
    }
}

fn build_rust(dir: &Path) -> Result<PathBuf, CliError> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    run_command(
        cmd,
        "cargo",
        "install Rust with rustup, then `rustup target add wasm32-wasip2`",
    )?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let wasm = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", project_name(dir)));
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(CliError::Failed(format!(
            "cargo succeeded but {} was not produced; is the crate a cdylib named after its folder?",
            wasm.display()
        )))
    }
}

/// Finds a toolchain binary on PATH or in the repository's `.tools/` install.
fn find_tool(name: &str, local: &[&str]) -> PathBuf {
    let repo_tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools");
    local
        .iter()
        .map(|rel| repo_tools.join(rel))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn build_with(lang: Lang, dir: &Path, output: &Path) -> Result<(), CliError> {
    let wit = dir.join("wit");
    if !wit.join("world.wit").is_file() {
        crate::wit_files::write_to(&wit)
            .map_err(|e| CliError::Failed(format!("writing {}: {e}", wit.display())))?;
    }
    let output = std::path::absolute(output).map_err(|e| CliError::Failed(e.to_string()))?;
    let wit = std::path::absolute(&wit).map_err(|e| CliError::Failed(e.to_string()))?;
    let world = crate::wit_files::WORLD;
    match lang {
        Lang::Python => {
            let mut cmd = Command::new(find_tool("componentize-py", &["venv/bin/componentize-py"]));
            cmd.current_dir(dir)
                .arg("-d")
                .arg(&wit)
                .args(["-w", world, "componentize", "app", "-o"])
                .arg(&output);
            run_command(
                cmd,
                "componentize-py",
                "pip install componentize-py==0.25.1",
            )
        }
        Lang::Js => {
            let mut cmd = Command::new(find_tool(
                "componentize-js",
                &["node/node_modules/.bin/componentize-js"],
            ));
            cmd.current_dir(dir)
                .arg("app.js")
                .arg("--wit")
                .arg(&wit)
                .args(["-n", world, "-o"])
                .arg(&output);
            run_command(
                cmd,
                "componentize-js",
                "npm install -g @bytecodealliance/componentize-js@0.23.0",
            )
        }
        Lang::Rust => unreachable!("Rust projects build with cargo"),
    }
}

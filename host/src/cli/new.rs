//! `corral tool new <name> --lang rust|python|js`: a project that builds as it is.

use super::{CliError, Lang};
use std::path::{Path, PathBuf};

/// Arguments of `corral tool new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Project name, kebab-case (e.g. `weather-lookup`); the tool is its snake_case form.
    pub name: String,
    /// Language of the tool.
    #[arg(long, value_enum, default_value = "rust")]
    pub lang: Lang,
    /// Where to create the project (default: ./<name>).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Path to a local corral-plugin-sdk checkout for Rust projects (default: the SDK next to
    /// this binary's sources when present, else the crates.io release).
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

struct Template {
    path: &'static str,
    contents: &'static str,
}

const RUST: &[Template] = &[
    Template {
        path: "Cargo.toml",
        contents: include_str!("../../templates/rust/Cargo.toml.tmpl"),
    },
    Template {
        path: ".cargo/config.toml",
        contents: include_str!("../../templates/rust/.cargo/config.toml"),
    },
    Template {
        path: "src/lib.rs",
        contents: include_str!("../../templates/rust/src/lib.rs.tmpl"),
    },
    Template {
        path: "README.md",
        contents: include_str!("../../templates/rust/README.md.tmpl"),
    },
    Template {
        path: ".gitignore",
        contents: include_str!("../../templates/rust/gitignore.tmpl"),
    },
];

const PYTHON: &[Template] = &[
    Template {
        path: "app.py",
        contents: include_str!("../../templates/python/app.py"),
    },
    Template {
        path: "README.md",
        contents: include_str!("../../templates/python/README.md"),
    },
];

const JS: &[Template] = &[
    Template {
        path: "app.js",
        contents: include_str!("../../templates/js/app.js"),
    },
    Template {
        path: "package.json",
        contents: include_str!("../../templates/js/package.json"),
    },
    Template {
        path: "README.md",
        contents: include_str!("../../templates/js/README.md"),
    },
];

pub(crate) fn run(args: NewArgs) -> Result<(), CliError> {
    validate_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::Usage(format!(
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        )));
    }
    let tool_name = args.name.replace('-', "_");
    let sdk_dependency = sdk_dependency(args.sdk_path.as_deref());
    let vars = [
        ("{{name}}", args.name.as_str()),
        ("{{tool_name}}", tool_name.as_str()),
        ("{{crate_name}}", tool_name.as_str()),
        ("{{sdk_dependency}}", sdk_dependency.as_str()),
    ];
    let templates = match args.lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    let io = |path: &Path, e: std::io::Error| {
        CliError::Failed(format!("writing {}: {e}", path.display()))
    };
    for template in templates {
        let target = dir.join(template.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let contents = vars
            .iter()
            .fold(template.contents.to_string(), |text, (key, value)| {
                text.replace(key, value)
            });
        std::fs::write(&target, contents).map_err(|e| io(&target, e))?;
    }
    if args.lang != Lang::Rust {
        // Python and JS toolchains read the WIT directly; ship it with the project.
        let wit = dir.join("wit");
        crate::wit_files::write_to(&wit).map_err(|e| io(&wit, e))?;
    }
    println!(
        "Created {} tool `{tool_name}` in {}",
        lang_name(args.lang),
        dir.display()
    );
    println!("Next: cd {} && corral tool build", dir.display());
    Ok(())
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "a Rust",
        Lang::Python => "a Python",
        Lang::Js => "a JavaScript",
    }
}

fn validate_name(name: &str) -> Result<(), CliError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && !name.contains("--")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid tool name {name:?}: use lowercase letters, digits and single '-', starting with a letter (e.g. weather-lookup)"
        )))
    }
}

fn sdk_dependency(explicit: Option<&Path>) -> String {
    let local = explicit.map(Path::to_path_buf).or_else(|| {
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
        bundled.join("Cargo.toml").is_file().then_some(bundled)
    });
    match local.and_then(|p| std::fs::canonicalize(p).ok()) {
        Some(path) => format!(
            "corral-plugin-sdk = {{ path = {:?} }}",
            path.display().to_string()
        ),
        None => format!("corral-plugin-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case() {
        assert!(validate_name("weather-lookup").is_ok());
        assert!(validate_name("a1").is_ok());
        for bad in ["", "Weather", "1a", "a_b", "a--b", "a-", "a b", "../x"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scaffolds_refuse_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
        let args = NewArgs {
            name: "t".into(),
            lang: Lang::Rust,
            dir: Some(tmp.path().to_path_buf()),
            sdk_path: None,
        };
        assert_eq!(run(args).unwrap_err().exit_code(), 2);
    }
}

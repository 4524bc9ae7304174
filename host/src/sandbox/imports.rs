//! What a component imports, in terms an operator can act on.

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A capability a component can ask for, derived from its imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// `corral:tool/log`: always available.
    Log,
    /// `corral:tool/config`: granted by setting values or secrets.
    Config,
    /// `corral:tool/storage`: needs a storage grant.
    Storage,
    /// `corral:tool/database`: needs a database grant.
    Database,
    /// `wasi:http/outgoing-handler`: needs an HTTP grant.
    Http,
    /// `wasi:filesystem`: linked, but no directory is ever preopened.
    Filesystem,
    /// `wasi:sockets`: linked, but every socket and name lookup is refused.
    Sockets,
    /// `wasi:cli` environment/arguments/stdio: empty environment, no arguments, captured output.
    Cli,
    /// Clocks and randomness: harmless, always available.
    ClocksAndRandom,
    /// `wasi:http/types` without the handler: types only, nothing reachable.
    HttpTypes,
}

impl Capability {
    /// Whether this import needs an operator grant to do anything.
    pub fn needs_grant(self) -> bool {
        matches!(
            self,
            Self::Config | Self::Storage | Self::Database | Self::Http
        )
    }

    /// What it means for an operator.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Log => "writes to the server log (always allowed)",
            Self::Config => {
                "reads the operator's values and secrets for the assignment (granted by setting them)"
            }
            Self::Storage => "reads and writes objects in the granted storage bucket",
            Self::Database => "runs SQL in the granted schemas and tables",
            Self::Http => "makes outgoing HTTP requests to the granted hosts",
            Self::Filesystem => "WASI filesystem: linked, but no directory is available",
            Self::Sockets => "WASI sockets: linked, but every socket is refused",
            Self::Cli => {
                "WASI environment, arguments and stdio: empty, with output captured to the log"
            }
            Self::ClocksAndRandom => "clocks and random numbers",
            Self::HttpTypes => "WASI HTTP types only (no requests without the outgoing handler)",
        }
    }
}

/// One import of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// The full interface name, e.g. `wasi:http/outgoing-handler@0.2.6`.
    pub name: String,
    /// What it gives access to, when Corral knows the interface.
    pub capability: Option<Capability>,
}

/// Lists the imports of `component`, with the capability each one maps to.
pub fn list_imports(engine: &Engine, component: &Component) -> Vec<Import> {
    let mut imports: Vec<Import> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| Import {
            name: name.to_string(),
            capability: capability_of(name),
        })
        .collect();
    imports.sort_by(|a, b| a.name.cmp(&b.name));
    imports
}

/// The distinct capabilities among `imports`, most significant first.
pub fn capabilities(imports: &[Import]) -> Vec<Capability> {
    let mut caps: Vec<Capability> = imports.iter().filter_map(|i| i.capability).collect();
    caps.sort();
    caps.dedup();
    caps
}

fn capability_of(name: &str) -> Option<Capability> {
    let unversioned = name.split('@').next().unwrap_or(name);
    let (package, _) = unversioned.split_once('/').unwrap_or((unversioned, ""));
    Some(match (package, unversioned) {
        (_, "corral:tool/log") => Capability::Log,
        (_, "corral:tool/config") => Capability::Config,
        (_, "corral:tool/storage") => Capability::Storage,
        (_, "corral:tool/database") => Capability::Database,
        (_, "corral:tool/types") => return None,
        (_, "wasi:http/outgoing-handler") => Capability::Http,
        ("wasi:http", _) => Capability::HttpTypes,
        ("wasi:filesystem", _) => Capability::Filesystem,
        ("wasi:sockets", _) => Capability::Sockets,
        ("wasi:cli", _) => Capability::Cli,
        ("wasi:clocks" | "wasi:random" | "wasi:io", _) => Capability::ClocksAndRandom,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_map_to_capabilities() {
        assert_eq!(
            capability_of("wasi:http/outgoing-handler@0.2.6"),
            Some(Capability::Http)
        );
        assert_eq!(
            capability_of("wasi:http/types@0.2.12"),
            Some(Capability::HttpTypes)
        );
        assert_eq!(
            capability_of("corral:tool/storage@0.1.0"),
            Some(Capability::Storage)
        );
        assert_eq!(
            capability_of("wasi:filesystem/preopens@0.2.9"),
            Some(Capability::Filesystem)
        );
        assert_eq!(
            capability_of("wasi:cli/environment@0.2.0"),
            Some(Capability::Cli)
        );
        assert_eq!(capability_of("example:other/thing"), None);
    }
}

//! The server's settings, from (highest first) command-line flags, environment variables, an
//! optional TOML file, and defaults.

use crate::llm::providers::ProviderEntry;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default address: loopback only, so a fresh install is not reachable from the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default component upload limit in MiB (a componentize-py component is ~18 MB).
pub const DEFAULT_MAX_UPLOAD_MIB: usize = 64;

/// The settings a TOML file may hold; every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: Option<String>,
    /// The data database of the database tools: `sqlite://...` or `postgres://...`.
    pub data_database_url: Option<String>,
    /// CORS origins.
    pub cors_origins: Option<Vec<String>>,
    /// Upload limit in MiB.
    pub max_upload_mib: Option<usize>,
    /// Provider serving bare model names (default `openai`).
    pub default_provider: Option<String>,
    /// Seconds a gated call waits for a human before it counts as DENY (default 24 h).
    pub approval_ttl_seconds: Option<u64>,
    /// LLM providers: `[providers.NAME]` with kind, base_url, api_key_env, timeout_seconds,
    /// max_retries.
    pub providers: Option<BTreeMap<String, ProviderEntry>>,
}

impl FileConfig {
    /// Reads a TOML file; the message names the file and the problem.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }
}

/// What flags and environment gave (clap reads both); `None` where neither did.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen` / `CORRAL_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `CORRAL_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url` / `DATABASE_URL`.
    pub database_url: Option<String>,
    /// `--data-database-url` / `CORRAL_DATA_DATABASE_URL`.
    pub data_database_url: Option<String>,
    /// `--cors-origin` / `CORRAL_CORS_ORIGINS`.
    pub cors_origins: Option<Vec<String>>,
    /// `--max-upload-mib` / `CORRAL_MAX_UPLOAD_MIB`.
    pub max_upload_mib: Option<usize>,
    /// `--cache-dir` / `CORRAL_CACHE_DIR`.
    pub cache_dir: Option<PathBuf>,
    /// `CORRAL_ADMIN_KEY`.
    pub admin_key: Option<String>,
    /// `--default-provider` / `CORRAL_DEFAULT_PROVIDER`.
    pub default_provider: Option<String>,
    /// `--approval-ttl-seconds` / `CORRAL_APPROVAL_TTL_SECONDS`.
    pub approval_ttl_seconds: Option<u64>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory (SQLite database, compile cache, buckets).
    pub data_dir: PathBuf,
    /// Compile cache (default `<data_dir>/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Database URL (default: SQLite in the data directory).
    pub database_url: String,
    /// The database tools' data database (default: `<data_dir>/data.db`).
    pub data_database_url: String,
    /// CORS origins (empty: no CORS).
    pub cors_origins: Vec<String>,
    /// Upload limit in bytes.
    pub max_upload_bytes: usize,
    /// An admin key to make sure exists (instead of generating one on first start).
    pub admin_key: Option<String>,
    /// Providers declared in the file (on top of the built-in ones).
    pub providers: BTreeMap<String, ProviderEntry>,
    /// Provider for bare model names.
    pub default_provider: Option<String>,
    /// How long approvals wait.
    pub approval_ttl: Duration,
}

impl ServerConfig {
    /// Merges flags/env over the file over the defaults, and checks the result.
    pub fn resolve(overrides: Overrides, file: FileConfig) -> Result<Self, String> {
        let listen_text = overrides
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().map_err(|_| {
            format!("listen address `{listen_text}` is not HOST:PORT with an IP, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
        })?;
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("corral-data"));
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| crate::store::Store::sqlite_url(&data_dir));
        let data_database_url = overrides
            .data_database_url
            .or(file.data_database_url)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}",
                    data_dir
                        .join(crate::capabilities::database::DEFAULT_SQLITE_FILE)
                        .display()
                )
            });
        if data_database_url.trim() == database_url.trim() {
            return Err(
                "the data database (CORRAL_DATA_DATABASE_URL) must not be the server's own \
                 database (DATABASE_URL): tools would be able to reach Corral's tables"
                    .into(),
            );
        }
        crate::capabilities::database::DataDatabase::check_url(&data_database_url)
            .map_err(|e| e.to_string())?;
        let max_upload_mib = overrides
            .max_upload_mib
            .or(file.max_upload_mib)
            .unwrap_or(DEFAULT_MAX_UPLOAD_MIB);
        if !(1..=1024).contains(&max_upload_mib) {
            return Err("max upload size must be between 1 and 1024 MiB".into());
        }
        let cors_origins: Vec<String> = overrides
            .cors_origins
            .or(file.cors_origins)
            .unwrap_or_default()
            .into_iter()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(format!(
                    "CORS origin `{origin}` must be `*` or start with http:// or https://"
                ));
            }
        }
        if let Some(key) = &overrides.admin_key
            && key.trim().len() < 20
        {
            return Err("CORRAL_ADMIN_KEY must be at least 20 characters".into());
        }
        let approval_ttl_seconds = overrides
            .approval_ttl_seconds
            .or(file.approval_ttl_seconds)
            .unwrap_or(24 * 3600);
        if approval_ttl_seconds == 0 {
            return Err("the approval time-to-live must be at least 1 second".into());
        }
        Ok(Self {
            listen,
            data_dir,
            cache_dir: overrides.cache_dir,
            database_url,
            data_database_url,
            cors_origins,
            max_upload_bytes: max_upload_mib * 1024 * 1024,
            admin_key: overrides.admin_key.map(|k| k.trim().to_string()),
            providers: file.providers.unwrap_or_default(),
            default_provider: overrides.default_provider.or(file.default_provider),
            approval_ttl: Duration::from_secs(approval_ttl_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let file: FileConfig =
            toml::from_str("listen = \"0.0.0.0:9000\"\nmax_upload_mib = 8\n").unwrap();
        let config = ServerConfig::resolve(
            Overrides {
                max_upload_mib: Some(16),
                ..Overrides::default()
            },
            file,
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.max_upload_bytes, 16 * 1024 * 1024);
        assert!(config.database_url.starts_with("sqlite://"));
        assert!(config.data_database_url.ends_with("data.db"));
    }

    #[test]
    fn bad_settings_are_explained() {
        let bad = |o: Overrides| ServerConfig::resolve(o, FileConfig::default()).unwrap_err();
        assert!(
            bad(Overrides {
                listen: Some("localhost".into()),
                ..Default::default()
            })
            .contains("listen")
        );
        assert!(
            bad(Overrides {
                max_upload_mib: Some(0),
                ..Default::default()
            })
            .contains("upload")
        );
        assert!(
            bad(Overrides {
                cors_origins: Some(vec!["example.com".into()]),
                ..Default::default()
            })
            .contains("CORS")
        );
        assert!(
            bad(Overrides {
                admin_key: Some("short".into()),
                ..Default::default()
            })
            .contains("CORRAL_ADMIN_KEY")
        );
        assert!(
            bad(Overrides {
                data_database_url: Some("mysql://localhost/db".into()),
                ..Default::default()
            })
            .contains("data database")
        );
        assert!(
            bad(Overrides {
                database_url: Some("postgres://u@h/db".into()),
                data_database_url: Some("postgres://u@h/db".into()),
                ..Default::default()
            })
            .contains("must not be the server's own database")
        );
        assert!(
            toml::from_str::<FileConfig>("lisen = \"x\"")
                .unwrap_err()
                .to_string()
                .contains("lisen")
        );
    }
}

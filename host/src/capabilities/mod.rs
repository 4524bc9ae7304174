//! Host capabilities a tool component may import, each denied unless granted.
//!
//! Each capability has the same four parts (STYLE.md): a per-call `XCtx`, a borrowed `XView`
//! the generated `Host` trait is implemented for, a `HasData` marker, and `add_to_linker`.
//! Access is decided at the call, from the grants of the tool assignment making it.

pub mod address;
pub mod config;
pub mod database;
pub mod http;
pub mod log;
pub mod storage;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an operator grants one tool assignment, as the API and CLI accept it.
/// Everything absent is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Outgoing HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<http::HttpGrant>,
    /// A storage bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<storage::StorageGrant>,
}

/// Why a set of grants is malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    /// An HTTP host pattern does not parse.
    #[error(transparent)]
    HostPattern(#[from] http::InvalidHostPattern),
    /// A bucket name is not allowed.
    #[error(transparent)]
    Bucket(#[from] storage::InvalidBucketName),
}

impl Grants {
    /// Validates and pre-compiles the grants together with the assignment's configuration, so
    /// each call only matches. Config is granted when the operator set any values or secrets:
    /// the tool can then read exactly those, and nothing else.
    pub fn compile(
        &self,
        config: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CompiledGrants, GrantError> {
        if let Some(storage) = &self.storage {
            storage.validate()?;
        }
        let config = if config.is_empty() && secrets.is_empty() {
            None
        } else {
            let mut merged = config.clone();
            merged.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(Arc::new(merged))
        };
        Ok(CompiledGrants {
            http: self
                .http
                .as_ref()
                .map(|h| h.compile().map(Arc::new))
                .transpose()?,
            storage: self.storage.clone(),
            config,
            database: None,
        })
    }
}

/// Grants ready for calls; cheap to clone into each call's state.
#[derive(Debug, Clone, Default)]
pub struct CompiledGrants {
    /// Compiled HTTP policy.
    pub http: Option<Arc<http::HttpPolicy>>,
    /// Storage bucket.
    pub storage: Option<storage::StorageGrant>,
    /// Configuration values and secrets visible through `config`.
    pub config: Option<Arc<BTreeMap<String, String>>>,
    /// Tables of the data database (from `config_override.schemas` of a database tool).
    pub database: Option<Arc<database::scope::DatabaseScope>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_deny_everything_by_default() {
        let compiled = Grants::default()
            .compile(&BTreeMap::new(), &BTreeMap::new())
            .unwrap();
        assert!(compiled.http.is_none() && compiled.storage.is_none() && compiled.config.is_none());
    }

    #[test]
    fn secrets_win_over_values_with_the_same_key() {
        let values = BTreeMap::from([("k".to_string(), "plain".to_string())]);
        let secrets = BTreeMap::from([("k".to_string(), "secret".to_string())]);
        let compiled = Grants::default().compile(&values, &secrets).unwrap();
        assert_eq!(compiled.config.unwrap()["k"], "secret");
    }

    #[test]
    fn malformed_grants_are_refused() {
        let bad_http = Grants {
            http: Some(http::HttpGrant::to_hosts(["not a host"])),
            storage: None,
        };
        assert!(matches!(
            bad_http.compile(&BTreeMap::new(), &BTreeMap::new()),
            Err(GrantError::HostPattern(_))
        ));
        let bad_bucket = Grants {
            http: None,
            storage: Some(storage::StorageGrant {
                bucket: "../up".into(),
                max_object_bytes: 1,
                max_bucket_bytes: 1,
            }),
        };
        assert!(matches!(
            bad_bucket.compile(&BTreeMap::new(), &BTreeMap::new()),
            Err(GrantError::Bucket(_))
        ));
    }

    #[test]
    fn grants_parse_from_json_and_refuse_unknown_keys() {
        let g: Grants = serde_json::from_value(serde_json::json!({
            "http": {"hosts": ["api.example.com"]}, "storage": {"bucket": "docs"}
        }))
        .unwrap();
        assert_eq!(g.http.unwrap().max_requests, http::DEFAULT_MAX_REQUESTS);
        assert!(serde_json::from_value::<Grants>(serde_json::json!({"filesystem": true})).is_err());
    }
}

//! Which provider serves an agent's `model`: `scripted`, `NAME/model` for a configured
//! provider (`openai/gpt-4o`, `anthropic/claude-sonnet-4-5`, `ollama/llama3.1`), or a bare
//! model name for the default provider.

use super::anthropic::AnthropicProvider;
use super::openai::OpenAiProvider;
use super::scripted::ScriptedProvider;
use super::{LlmError, Provider};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI-compatible Chat Completions.
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// How to reach one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    /// The name used in `model` (`openai` in `openai/gpt-4o`).
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`, ...).
    pub base_url: String,
    /// API key, if the provider needs one.
    pub api_key: Option<String>,
    /// Time allowed for the whole call.
    pub timeout: Duration,
    /// Retries on 429 and 5xx (with backoff).
    pub max_retries: u32,
}

/// A provider as a TOML file or the environment declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// `openai` (compatible) or `anthropic`.
    pub kind: ProviderKind,
    /// Base URL.
    pub base_url: String,
    /// The API key itself (prefer `api_key_env`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// The environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Seconds allowed per call (default 120).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Retries on 429/5xx (default 3).
    #[serde(default)]
    pub max_retries: Option<u32>,
}

impl ProviderEntry {
    fn settings(&self, name: &str) -> ProviderSettings {
        let api_key = self.api_key.clone().or_else(|| {
            self.api_key_env
                .as_ref()
                .and_then(|var| std::env::var(var).ok())
        });
        ProviderSettings {
            name: name.to_string(),
            kind: self.kind,
            base_url: self.base_url.trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(self.timeout_seconds.unwrap_or(120)),
            max_retries: self.max_retries.unwrap_or(3),
        }
    }
}

/// The built-in provider names and where they live; each can be overridden by
/// `NAME_BASE_URL` / `NAME_API_KEY` environment variables or a `[providers.NAME]` table.
pub fn builtin_entries() -> BTreeMap<String, ProviderEntry> {
    let entry = |kind, url: &str, key_env: &str| ProviderEntry {
        kind,
        base_url: url.into(),
        api_key: None,
        api_key_env: Some(key_env.into()),
        timeout_seconds: None,
        max_retries: None,
    };
    BTreeMap::from([
        (
            "openai".into(),
            entry(
                ProviderKind::Openai,
                "https://api.openai.com/v1",
                "OPENAI_API_KEY",
            ),
        ),
        (
            "anthropic".into(),
            entry(
                ProviderKind::Anthropic,
                "https://api.anthropic.com",
                "ANTHROPIC_API_KEY",
            ),
        ),
        (
            "ollama".into(),
            entry(
                ProviderKind::Openai,
                "http://127.0.0.1:11434/v1",
                "OLLAMA_API_KEY",
            ),
        ),
        (
            "openrouter".into(),
            entry(
                ProviderKind::Openai,
                "https://openrouter.ai/api/v1",
                "OPENROUTER_API_KEY",
            ),
        ),
        (
            "vllm".into(),
            entry(
                ProviderKind::Openai,
                "http://127.0.0.1:8000/v1",
                "VLLM_API_KEY",
            ),
        ),
        (
            "lmstudio".into(),
            entry(
                ProviderKind::Openai,
                "http://127.0.0.1:1234/v1",
                "LMSTUDIO_API_KEY",
            ),
        ),
    ])
}

/// Built-in providers that are hosted services: calling them without a key can only fail.
const KEY_REQUIRED: [&str; 3] = ["openai", "anthropic", "openrouter"];

/// The configured providers.
#[derive(Clone)]
pub struct Providers {
    by_name: BTreeMap<String, Arc<dyn Provider>>,
    /// Hosted providers without a key, with the variable that would hold it.
    missing_keys: BTreeMap<String, String>,
    default: String,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .field("default", &self.default)
            .finish()
    }
}

impl Providers {
    /// The built-in providers, with `NAME_BASE_URL` overrides from the environment, then the
    /// file's entries on top. `default` serves bare model names.
    pub fn from_config(
        entries: &BTreeMap<String, ProviderEntry>,
        default: Option<&str>,
    ) -> Result<Self, String> {
        let mut all = builtin_entries();
        for (name, entry) in all.iter_mut() {
            if let Ok(url) = std::env::var(format!("{}_BASE_URL", name.to_ascii_uppercase()))
                && !url.trim().is_empty()
            {
                entry.base_url = url;
            }
        }
        all.extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut by_name: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        let mut missing_keys = BTreeMap::new();
        for (name, entry) in &all {
            if name == "scripted" || name.contains('/') {
                return Err(format!("`{name}` cannot be a provider name"));
            }
            if !(entry.base_url.starts_with("http://") || entry.base_url.starts_with("https://")) {
                return Err(format!(
                    "provider `{name}`: base_url `{}` must start with http:// or https://",
                    entry.base_url
                ));
            }
            let settings = entry.settings(name);
            if settings.api_key.is_none()
                && KEY_REQUIRED.contains(&name.as_str())
                && !entries.contains_key(name)
            {
                let var = entry
                    .api_key_env
                    .clone()
                    .unwrap_or_else(|| format!("{}_API_KEY", name.to_ascii_uppercase()));
                missing_keys.insert(name.clone(), var);
            }
            let provider: Arc<dyn Provider> = match entry.kind {
                ProviderKind::Openai => Arc::new(OpenAiProvider::new(settings)),
                ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(settings)),
            };
            by_name.insert(name.clone(), provider);
        }
        by_name.insert("scripted".into(), Arc::new(ScriptedProvider));
        let default = default.unwrap_or("openai").to_string();
        if !by_name.contains_key(&default) {
            return Err(format!(
                "the default provider `{default}` is not configured"
            ));
        }
        Ok(Self {
            by_name,
            missing_keys,
            default,
        })
    }

    /// The provider and the provider-side model name for an agent's `model`.
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn Provider>, String), LlmError> {
        if model == "scripted" {
            return Ok((self.by_name["scripted"].clone(), "scripted".into()));
        }
        let (name, model_name) = match model.split_once('/') {
            Some((prefix, rest)) if self.by_name.contains_key(prefix) => (prefix, rest),
            _ => (self.default.as_str(), model),
        };
        let provider = self.by_name.get(name).cloned().ok_or_else(|| {
            LlmError::Config(format!(
                "no provider `{name}` is configured for model `{model}`"
            ))
        })?;
        if let Some(var) = self.missing_keys.get(name) {
            return Err(LlmError::Config(format!(
                "model `{model}` needs the {name} provider, which has no API key: set {var} (or use model `scripted` to try Corral without one)"
            )));
        }
        Ok((provider, model_name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_pick_their_provider() {
        let mut entries = BTreeMap::new();
        entries.insert(
            "local".to_string(),
            ProviderEntry {
                kind: ProviderKind::Openai,
                base_url: "http://127.0.0.1:8000/v1".into(),
                api_key: None,
                api_key_env: None,
                timeout_seconds: None,
                max_retries: None,
            },
        );
        let providers = Providers::from_config(&entries, Some("local")).unwrap();
        assert_eq!(providers.resolve("scripted").unwrap().1, "scripted");
        assert_eq!(providers.resolve("local/llama3").unwrap().1, "llama3");
        // A bare name, or an unknown prefix, goes to the default provider whole.
        assert_eq!(providers.resolve("gpt-4o").unwrap().1, "gpt-4o");
        assert_eq!(providers.resolve("meta/llama3").unwrap().1, "meta/llama3");
    }

    #[test]
    fn a_hosted_provider_without_a_key_says_which_variable_to_set() {
        if std::env::var("OPENAI_API_KEY").is_ok() {
            return; // a developer's real key: nothing to check
        }
        let providers = Providers::from_config(&BTreeMap::new(), None).unwrap();
        let error = providers
            .resolve("openai/gpt-4o")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("OPENAI_API_KEY"), "{error}");
    }

    #[test]
    fn bad_provider_settings_are_refused() {
        let mut entries = BTreeMap::new();
        entries.insert(
            "x".to_string(),
            ProviderEntry {
                kind: ProviderKind::Anthropic,
                base_url: "ftp://nope".into(),
                api_key: None,
                api_key_env: None,
                timeout_seconds: None,
                max_retries: None,
            },
        );
        assert!(
            Providers::from_config(&entries, None)
                .unwrap_err()
                .contains("base_url")
        );
        assert!(
            Providers::from_config(&BTreeMap::new(), Some("nope"))
                .unwrap_err()
                .contains("nope")
        );
    }
}

//! Being written: this provider answers with a configuration error until its wire format lands.

use super::providers::ProviderSettings;
use super::{ChatRequest, LlmError, LlmStream, Provider};
use futures::future::BoxFuture;

/// Provider speaking this wire format.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    settings: ProviderSettings,
}

impl AnthropicProvider {
    /// A provider with these settings.
    pub fn new(settings: ProviderSettings) -> Self {
        Self { settings }
    }
}

impl Provider for AnthropicProvider {
    fn stream(&self, _request: ChatRequest) -> BoxFuture<'_, Result<LlmStream, LlmError>> {
        let name = self.settings.name.clone();
        Box::pin(async move { Err(LlmError::Config(format!("provider {name}: not built yet"))) })
    }
}

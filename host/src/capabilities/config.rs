//! `corral:tool/config`: the operator's values and secrets for one tool assignment.
//!
//! Denied unless the assignment grants configuration. Values never reach the model: they are
//! not arguments, so they are neither shown in a pending approval nor written to call records
//! (secret values are additionally scrubbed from anything the boundary records).

use crate::bindings::corral::tool::config::{self as wit, ConfigError};
use std::collections::BTreeMap;
use wasmtime::component::{HasData, Linker};

/// The configuration granted to one call: operator values and secrets merged, secrets winning.
#[derive(Debug, Clone, Default)]
pub struct ConfigCtx {
    granted: Option<BTreeMap<String, String>>,
}

impl ConfigCtx {
    /// No configuration granted: every read is `denied`.
    pub fn denied() -> Self {
        Self { granted: None }
    }

    /// Grants exactly `values` (which may be empty).
    pub fn granted(values: BTreeMap<String, String>) -> Self {
        Self {
            granted: Some(values),
        }
    }

    fn values(&self) -> Result<&BTreeMap<String, String>, ConfigError> {
        self.granted.as_ref().ok_or_else(|| {
            ConfigError::Denied("no configuration is granted to this tool assignment".into())
        })
    }
}

/// Borrowed view the generated `Host` trait is implemented for.
pub struct ConfigView<'a> {
    ctx: &'a ConfigCtx,
}

impl<'a> ConfigView<'a> {
    /// A view over `ctx`.
    pub fn new(ctx: &'a ConfigCtx) -> Self {
        Self { ctx }
    }
}

impl wit::Host for ConfigView<'_> {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, ConfigError>> {
        Ok(self.ctx.values().map(|values| values.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, ConfigError>> {
        Ok(self
            .ctx
            .values()
            .map(|values| values.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigView<'a>;
}

/// Adds `corral:tool/config` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> ConfigView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasConfig>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wit::Host;

    #[test]
    fn denied_by_default() {
        let ctx = ConfigCtx::denied();
        let mut view = ConfigView::new(&ctx);
        assert!(matches!(
            view.get("k".into()).unwrap(),
            Err(ConfigError::Denied(_))
        ));
        assert!(matches!(
            view.get_all().unwrap(),
            Err(ConfigError::Denied(_))
        ));
    }

    #[test]
    fn granted_values_are_readable_and_missing_keys_are_none() {
        let ctx = ConfigCtx::granted(BTreeMap::from([("k".to_string(), "v".to_string())]));
        let mut view = ConfigView::new(&ctx);
        assert_eq!(view.get("k".into()).unwrap().unwrap(), Some("v".into()));
        assert_eq!(view.get("other".into()).unwrap().unwrap(), None);
        assert_eq!(
            view.get_all().unwrap().unwrap(),
            vec![("k".into(), "v".into())]
        );
    }
}

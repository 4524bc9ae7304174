//! Per-call resource limits: the defaults every call gets and the overrides an operator may set
//! per tool assignment.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Default linear-memory budget for one call, all of the component's memories together.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// Default wall-clock budget for one call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on the JSON a call may return.
pub const DEFAULT_OUTPUT_BYTES: u64 = 1024 * 1024;

/// The limits one call runs under. Build it with [`Limits::default`] and
/// [`Limits::with_overrides`]; the sandbox clamps it to its own ceilings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the call may use, summed over all memories of the component.
    pub memory_bytes: u64,
    /// Wall-clock time from instantiation to the returned result.
    pub timeout: Duration,
    /// Size of the returned JSON text.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout: DEFAULT_TIMEOUT,
            output_bytes: DEFAULT_OUTPUT_BYTES,
        }
    }
}

/// An operator's per-assignment changes to the defaults; absent fields keep the default.
/// This is the shape the API and the CLI accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Memory budget in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock budget in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Output cap in KiB.
    pub output_kib: Option<u64>,
}

/// Hard ceilings no override can exceed: they size the sandbox's memory pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceilings {
    /// Largest memory budget an assignment may ask for.
    pub memory_bytes: u64,
    /// Longest wall-clock budget an assignment may ask for.
    pub timeout: Duration,
    /// Largest output cap an assignment may ask for.
    pub output_bytes: u64,
}

impl Default for Ceilings {
    fn default() -> Self {
        Self {
            memory_bytes: 1024 * 1024 * 1024,
            timeout: Duration::from_secs(300),
            output_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why a set of overrides was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    /// A value is zero, which would make every call fail.
    #[error("limit `{0}` must be greater than zero")]
    Zero(&'static str),
    /// A value is above the server's ceiling.
    #[error("limit `{name}` = {value} is above the server's ceiling of {ceiling}")]
    AboveCeiling {
        /// Which limit.
        name: &'static str,
        /// The requested value, in the override's unit.
        value: u64,
        /// The ceiling, in the same unit.
        ceiling: u64,
    },
}

impl LimitOverrides {
    /// Checks the overrides against the ceilings so a bad value is refused when it is saved,
    /// not discovered on the first call.
    pub fn validate(&self, ceilings: &Ceilings) -> Result<(), LimitError> {
        let checks = [
            (
                "memory_mib",
                self.memory_mib,
                ceilings.memory_bytes / (1024 * 1024),
            ),
            (
                "timeout_ms",
                self.timeout_ms,
                ceilings.timeout.as_millis() as u64,
            ),
            ("output_kib", self.output_kib, ceilings.output_bytes / 1024),
        ];
        for (name, value, ceiling) in checks {
            match value {
                Some(0) => return Err(LimitError::Zero(name)),
                Some(value) if value > ceiling => {
                    return Err(LimitError::AboveCeiling {
                        name,
                        value,
                        ceiling,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Limits {
    /// The defaults with `overrides` applied, each clamped to `ceilings`.
    pub fn with_overrides(overrides: &LimitOverrides, ceilings: &Ceilings) -> Self {
        let base = Self::default();
        Self {
            memory_bytes: overrides
                .memory_mib
                .map_or(base.memory_bytes, |m| m.saturating_mul(1024 * 1024))
                .min(ceilings.memory_bytes),
            timeout: overrides
                .timeout_ms
                .map_or(base.timeout, Duration::from_millis)
                .min(ceilings.timeout),
            output_bytes: overrides
                .output_kib
                .map_or(base.output_bytes, |k| k.saturating_mul(1024))
                .min(ceilings.output_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let limits = Limits::default();
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.timeout, Duration::from_secs(10));
        assert_eq!(limits.output_bytes, 1 << 20);
    }

    #[test]
    fn overrides_apply_and_are_clamped() {
        let ceilings = Ceilings::default();
        let limits = Limits::with_overrides(
            &LimitOverrides {
                memory_mib: Some(128),
                timeout_ms: Some(500),
                output_kib: None,
            },
            &ceilings,
        );
        assert_eq!(limits.memory_bytes, 128 << 20);
        assert_eq!(limits.timeout, Duration::from_millis(500));
        assert_eq!(limits.output_bytes, 1 << 20);

        let huge = LimitOverrides {
            memory_mib: Some(1 << 40),
            ..Default::default()
        };
        assert_eq!(
            Limits::with_overrides(&huge, &ceilings).memory_bytes,
            ceilings.memory_bytes
        );
    }

    #[test]
    fn validation_refuses_zero_and_values_above_the_ceiling() {
        let ceilings = Ceilings::default();
        let zero = LimitOverrides {
            timeout_ms: Some(0),
            ..Default::default()
        };
        assert_eq!(
            zero.validate(&ceilings),
            Err(LimitError::Zero("timeout_ms"))
        );
        let big = LimitOverrides {
            memory_mib: Some(4096),
            ..Default::default()
        };
        assert!(matches!(
            big.validate(&ceilings),
            Err(LimitError::AboveCeiling {
                name: "memory_mib",
                ..
            })
        ));
        assert_eq!(LimitOverrides::default().validate(&ceilings), Ok(()));
    }
}

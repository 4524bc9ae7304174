//! The per-call resource limiter: one memory budget across all of a component's memories.
//!
//! `StoreLimits` caps each memory separately; componentize-py components have several, so a
//! per-memory cap would let a call use a multiple of its budget. This limiter sums them, and
//! remembers that it refused a growth so a resulting trap can be reported as "memory limit".

use wasmtime::ResourceLimiter;

/// Tracks and caps linear memory and table growth for one call.
#[derive(Debug)]
pub struct CallLimiter {
    budget: usize,
    used: usize,
    peak: usize,
    refused: bool,
}

/// Instances one call may create: a component's core instances, with room to spare.
const MAX_INSTANCES: usize = 64;
/// Tables one call may create.
const MAX_TABLES: usize = 64;
/// Memories one call may create.
const MAX_MEMORIES: usize = 8;
/// Elements one table may grow to.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl CallLimiter {
    /// A limiter allowing `budget` bytes of linear memory in total.
    pub fn new(budget: u64) -> Self {
        Self {
            budget: usize::try_from(budget).unwrap_or(usize::MAX),
            used: 0,
            peak: 0,
            refused: false,
        }
    }

    /// True once a growth was refused for lack of budget.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// The most linear memory the call held at once.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let extra = desired.saturating_sub(current);
        if self.used.saturating_add(extra) > self.budget {
            self.refused = true;
            return Ok(false);
        }
        self.used += extra;
        self.peak = self.peak.max(self.used);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_by_all_memories() {
        let mut limiter = CallLimiter::new(100);
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(
            !limiter.memory_growing(0, 50, None).unwrap(),
            "a second memory shares the budget"
        );
        assert!(limiter.refused());
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        assert_eq!(limiter.peak(), 100);
    }
}

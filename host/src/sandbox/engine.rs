//! The one `wasmtime::Engine` of the process and the epoch ticker at which guest code yields
//! to the async runtime (so the call's time limit and cancellation can stop it).

use super::limits::Ceilings;
use std::time::Duration;
use wasmtime::{Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the ticker advances the engine's epoch. Guest code yields at each tick, so a
/// runaway guest overshoots its time limit, or a cancel, by at most about one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How many calls may hold an instance at once. The pooling allocator reserves slots for
/// exactly this many, and the sandbox queues calls beyond it instead of failing them.
pub const DEFAULT_CONCURRENT_INSTANCES: u32 = 64;

/// Sizes of the instance pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizes {
    /// Calls that may run at the same time.
    pub concurrent_instances: u32,
    /// Linear memory kept mapped in a pool slot between calls. Avoids page faults on the next
    /// call at the cost of resident memory; it never lets one call see another's data, because
    /// the kept pages are zeroed.
    pub keep_resident_bytes: usize,
    /// The same for tables.
    pub table_keep_resident_bytes: usize,
}

impl Default for PoolSizes {
    fn default() -> Self {
        Self {
            concurrent_instances: DEFAULT_CONCURRENT_INSTANCES,
            // Sized to the default memory budget: a Python or JS guest's whole heap image
            // stays mapped between calls (see BENCHMARKS.md for the effect and the cost).
            keep_resident_bytes: 64 << 20,
            table_keep_resident_bytes: 8 << 20,
        }
    }
}

/// Builds the engine: pooling allocator, epoch interruption, copy-on-write memory images.
///
/// Componentize-py and componentize-js components carry several core instances, memories and
/// many tables, so the per-component counts are generous; the totals bound the whole pool.
pub fn build_engine(ceilings: &Ceilings, pool: &PoolSizes) -> wasmtime::Result<Engine> {
    let mut pooling = PoolingAllocationConfig::new();
    let instances = pool.concurrent_instances;
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances * 16)
        .total_memories(instances * 4)
        .total_tables(instances * 16)
        .total_stacks(instances)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(32)
        .max_memories_per_module(2)
        .max_tables_per_module(8)
        .table_elements(100_000)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        .max_memory_size(ceilings.memory_bytes as usize)
        .linear_memory_keep_resident(pool.keep_resident_bytes)
        .table_keep_resident(pool.table_keep_resident_bytes)
        // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), reset only the pages a call touched,
        // by memset, instead of assuming the whole kept region is dirty.
        .pagemap_scan(wasmtime::Enabled::Auto)
        // Keep the fiber stack's pages too: every call runs on one, and re-faulting them
        // costs more than zeroing what was used.
        .async_stack_keep_resident(256 << 10);

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .memory_init_cow(true)
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
        // Guests are plain WASI p2 components; the p3 concurrency machinery only costs time.
        .concurrency_support(false)
        // Enough stack for real recursive guests; deep recursion beyond it traps cleanly.
        .max_wasm_stack(1 << 20);
    Engine::new(&config)
}

/// Advances the epoch of `engine` every [`EPOCH_TICK`] until the engine is dropped.
///
/// A plain thread, not a tokio task, so a busy async runtime cannot delay deadlines. It holds
/// only a weak reference: dropping the sandbox ends the thread.
pub fn spawn_epoch_ticker(engine: EngineWeak) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("corral-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}

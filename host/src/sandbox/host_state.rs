//! The one `T` of every `Store<T>`: per-call WASI, HTTP and capability state.
//!
//! Built fresh for each call and dropped with it, so nothing a guest leaves behind (files in
//! the resource table, counters, captured output) can reach another call.

use super::limiter::CallLimiter;
use super::limits::Limits;
use super::stdio::CapturedOutput;
use crate::capabilities::database::limits::DatabaseLimits;
use crate::capabilities::{
    CompiledGrants, config::ConfigCtx, config::ConfigView, database::DataDatabase,
    database::DatabaseCtx, database::DatabaseView, http::HttpCtx, log::LogCtx, log::LogView,
    storage::StorageCtx, storage::StorageView,
};
use std::path::Path;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Everything one call's store holds.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http_ctx: WasiHttpCtx,
    pub(crate) http: HttpCtx,
    pub(crate) log: LogCtx,
    config: ConfigCtx,
    storage: StorageCtx,
    database: DatabaseCtx,
    pub(crate) limiter: CallLimiter,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
}

impl HostState {
    /// State for one call of `tool` under `grants` and `limits`.
    pub(crate) fn new(
        tool: &str,
        call_id: &str,
        grants: &CompiledGrants,
        buckets_dir: &Path,
        data_database: &DataDatabase,
        limits: Limits,
    ) -> Self {
        let stdout = CapturedOutput::new();
        let stderr = CapturedOutput::new();
        Self {
            wasi: locked_down_wasi(&stdout, &stderr),
            table: ResourceTable::new(),
            http_ctx: WasiHttpCtx::new(),
            http: grants
                .http
                .clone()
                .map_or_else(HttpCtx::denied, HttpCtx::granted),
            log: LogCtx::new(tool, call_id),
            config: grants
                .config
                .as_ref()
                .map_or_else(ConfigCtx::denied, |values| {
                    ConfigCtx::granted((**values).clone())
                }),
            storage: grants
                .storage
                .clone()
                .map_or_else(StorageCtx::denied, |grant| {
                    StorageCtx::granted(buckets_dir, grant)
                }),
            database: grants
                .database
                .clone()
                .map_or_else(DatabaseCtx::denied, |scope| {
                    DatabaseCtx::granted(
                        data_database.clone(),
                        scope,
                        DatabaseLimits::within_call(limits.timeout),
                    )
                }),
            limiter: CallLimiter::new(limits.memory_bytes),
            stdout,
            stderr,
        }
    }

    pub(crate) fn log_view(&mut self) -> LogView<'_> {
        LogView::new(&mut self.log)
    }

    pub(crate) fn config_view(&mut self) -> ConfigView<'_> {
        ConfigView::new(&self.config)
    }

    pub(crate) fn storage_view(&mut self) -> StorageView<'_> {
        StorageView::new(&mut self.storage)
    }

    pub(crate) fn database_view(&mut self) -> DatabaseView<'_> {
        DatabaseView::new(&self.database)
    }
}

/// WASI with nothing to reach: no environment, no arguments, no preopened directories, no
/// sockets or name lookups, stdin closed, stdout/stderr captured. Clocks and randomness are
/// the only ambient things a guest gets, as every language runtime needs them.
fn locked_down_wasi(stdout: &CapturedOutput, stderr: &CapturedOutput) -> WasiCtx {
    WasiCtx::builder()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http,
        }
    }
}

//! The data of one component instance's store: WASI, wasi:http with this host's outbound
//! rules, and the context of the Spin interfaces.

use std::sync::Arc;

use verge_spin_manifest::Component;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::SpinView;
use crate::kv::KvAccess;
use crate::outbound::Outbound;
use crate::redis::RedisPool;

/// What the Spin interfaces of one component instance use.
pub struct SpinCtx {
    pub component: Arc<Component>,
    pub kv: KvAccess,
    pub redis: Arc<RedisPool>,
}

/// A store's data.
pub struct Host {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub outbound: Outbound,
    pub spin: SpinCtx,
    pub limits: Limits,
}

/// The store's limits (`--max-memory-mib`), remembering the largest linear memory the instance
/// grew to, for `--instance-memory-log`.
pub struct Limits {
    pub inner: StoreLimits,
    pub peak_memory_bytes: usize,
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.peak_memory_bytes = self.peak_memory_bytes.max(if allowed { desired } else { current });
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl Host {
    pub fn spin(&mut self) -> SpinView<'_> {
        SpinView { table: &mut self.table, ctx: &mut self.spin }
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

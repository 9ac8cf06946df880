//! The data of one component instance's store: WASI, wasi:http with this host's outbound
//! rules, and the context of the Spin interfaces.

use std::sync::Arc;

use verge_spin_manifest::Component;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
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
    pub limits: StoreLimits,
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

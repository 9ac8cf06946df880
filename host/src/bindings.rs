//! Host bindings for the Spin interfaces this host implements, generated from the WIT that
//! `spin-sdk` 7 ships (copied into `host/wit/deps`).
//!
//! Every function of these interfaces is `async` in WIT (WASI 0.3 style), so the generated
//! traits take an [`wasmtime::component::Accessor`]: the host borrows the store only briefly
//! (to look a resource up) and never while waiting for SQLite or Redis.

wasmtime::component::bindgen!({
    path: "wit",
    world: "verge:spin-host/spin-imports",
    imports: { default: trappable },
    with: {
        "spin:key-value/key-value.store": crate::kv::OpenStore,
        "spin:redis/redis.connection": crate::redis::OpenConnection,
    },
});

pub use spin::key_value::key_value as kv;
pub use spin::redis::redis;
pub use spin::variables::variables;

use wasmtime::component::{HasData, ResourceTable};

use crate::state::SpinCtx;

/// The `HasData` marker for the Spin interfaces: their host state is a [`SpinView`].
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = SpinView<'a>;
}

/// What the Spin interfaces may touch of a store: its resource table and the component's context.
pub struct SpinView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a mut SpinCtx,
}

/// Adds the three Spin interfaces to `linker`.
///
/// # Errors
/// When the linker already defines them.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<crate::state::Host>) -> wasmtime::Result<()> {
    kv::add_to_linker::<_, Spin>(linker, crate::state::Host::spin)?;
    redis::add_to_linker::<_, Spin>(linker, crate::state::Host::spin)?;
    variables::add_to_linker::<_, Spin>(linker, crate::state::Host::spin)?;
    Ok(())
}

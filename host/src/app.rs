//! The running app: one compiled component and one [`ProxyHandler`] (instance pool) per
//! manifest component, the shared key-value backends, Redis connections and HTTP client.
//!
//! Instances are reused the way `wasmtime serve` and Spin reuse WASI 0.3 components: up to
//! `max_instance_reuse_count` requests per instance, `max_instance_concurrent_reuse_count` at
//! once, dropped after `idle_instance_timeout` without work. A trap (or running out of memory)
//! fails the requests of that instance with 500 and the instance is thrown away; the host keeps
//! serving with fresh ones.

#![allow(clippy::disallowed_types, reason = "the host is native; wasmtime's WorkerExpiration hands it a std::time::Instant")]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use verge_spin_manifest::{App, Component};
use wasmtime::component::{Component as Wasm, GuestTaskId, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreContextMut, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::kv::{KvAccess, KvBackend, DEFAULT_LABEL};
use crate::logs::LogSink;
use crate::outbound::{HttpClient, Outbound};
use crate::redis::RedisPool;
use crate::state::{Host, Limits, SpinCtx};

/// Host settings that are not in the manifest (command-line flags).
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_instance_reuse_count: usize,
    pub max_instance_concurrent_reuse_count: usize,
    pub idle_instance_timeout: Duration,
    /// A request whose response head takes longer fails with 500 (`None`: no limit, as Spin).
    pub request_timeout: Option<Duration>,
    /// Linear memory per instance; growing past it fails like an out-of-memory.
    pub max_memory_bytes: usize,
    /// Request bodies larger than this are refused with 413.
    pub max_request_body_bytes: u64,
    pub log_dir: Option<PathBuf>,
    /// Where each dropped instance's peak linear memory is appended, one JSON line per instance.
    pub instance_memory_log: Option<PathBuf>,
    /// Where the `default` key-value store's SQLite file lives (Spin: `.spin` beside the manifest).
    pub state_dir: PathBuf,
}

/// Everything shared by the components of one app.
pub struct AppRuntime {
    pub manifest: App,
    pub settings: Settings,
    pub client: HttpClient,
    handlers: OnceLock<HashMap<String, ProxyHandler<ComponentHandler>>>,
    next_request: AtomicU64,
}

impl AppRuntime {
    /// Compiles every component and links it against the interfaces this host provides. A
    /// component importing anything else (another Spin interface, a WASI proposal) is refused
    /// here, naming the component and the import.
    ///
    /// # Errors
    /// A source that cannot be read or compiled, an unsupported import, a log file or
    /// key-value store that cannot be opened.
    pub fn start(manifest: App, settings: Settings) -> anyhow::Result<Arc<AppRuntime>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.wasm_component_model_async(true);
        let engine = wt(Engine::new(&config), || "configuring wasmtime".into())?;
        let mut linker: Linker<Host> = Linker::new(&engine);
        wt(wasmtime_wasi::p2::add_to_linker_async(&mut linker), || "linking WASI 0.2".into())?;
        wt(wasmtime_wasi::p3::add_to_linker(&mut linker), || "linking WASI 0.3".into())?;
        wt(wasmtime_wasi_http::p3::add_to_linker(&mut linker), || "linking wasi:http 0.3".into())?;
        wt(crate::bindings::add_to_linker(&mut linker), || "linking the Spin interfaces".into())?;

        std::fs::create_dir_all(&settings.state_dir)
            .with_context(|| format!("creating state directory {}", settings.state_dir.display()))?;
        let kv_backends =
            Arc::new(vec![(DEFAULT_LABEL.to_owned(), Arc::new(KvBackend::new(settings.state_dir.join("sqlite_key_value.db"))))]);
        for c in &manifest.components {
            for label in &c.key_value_stores {
                if !kv_backends.iter().any(|(l, _)| l == label) {
                    anyhow::bail!(
                        "component '{}' uses key-value store '{label}': this host provides only the 'default' store (Spin needs a runtime config file for other labels, which this host does not read)",
                        c.id
                    );
                }
            }
        }
        let redis = Arc::new(RedisPool::default());

        let mut prepared = Vec::new();
        for c in &manifest.components {
            let bytes = std::fs::read(&c.source).with_context(|| format!("component '{}': reading {}", c.id, c.source.display()))?;
            let wasm = wt(Wasm::new(&engine, &bytes), || format!("component '{}': compiling {}", c.id, c.source.display()))?;
            let pre =
                wt(linker.instantiate_pre(&wasm), || format!("component '{}' imports an interface this host does not provide", c.id))?;
            let pre = wt(wasmtime_wasi_http::p3::bindings::ServicePre::new(pre), || {
                format!("component '{}' does not export wasi:http/handler@0.3.0 (this host runs WASI 0.3 HTTP components, as spin-sdk 7 builds)", c.id)
            })?;
            prepared.push((Arc::new(c.clone()), ProxyPre::P3(pre)));
        }

        let runtime = Arc::new(AppRuntime {
            manifest,
            settings,
            client: crate::outbound::client(),
            handlers: OnceLock::new(),
            next_request: AtomicU64::new(0),
        });
        let mut handlers = HashMap::new();
        for (component, pre) in prepared {
            let (stdout, stderr) = LogSink::pair(&component.id, runtime.settings.log_dir.as_deref())?;
            let kv = KvAccess { allowed: Arc::new(component.key_value_stores.clone()), backends: Arc::clone(&kv_backends) };
            let handler = ComponentHandler {
                engine: engine.clone(),
                app: Arc::downgrade(&runtime),
                component: Arc::clone(&component),
                pre,
                stdout,
                stderr,
                kv,
                redis: Arc::clone(&redis),
                next_instance: AtomicU64::new(0),
            };
            handlers.insert(component.id.clone(), ProxyHandler::new(handler));
        }
        if runtime.handlers.set(handlers).is_err() {
            anyhow::bail!("handlers set twice");
        }
        Ok(runtime)
    }

    pub fn next_request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands `req` to component `id`'s instances.
    ///
    /// # Errors
    /// No such component, or the instance failed (trap, out of memory, timeout).
    pub async fn dispatch(
        &self,
        id: &str,
        req: wasmtime_wasi_http::handler::Request,
    ) -> anyhow::Result<wasmtime_wasi_http::handler::Response> {
        let handlers = self.handlers.get().context("app not started")?;
        let handler = handlers.get(id).with_context(|| format!("no component '{id}'"))?;
        let n = self.next_request_id();
        handler.handle(n, req).await.map_err(|e| anyhow::anyhow!("{e:?}"))
    }

    /// Service chaining: a request to `http://NAME.spin.internal`, handled in-process.
    pub(crate) async fn chain(
        &self,
        name: &str,
        req: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error> {
        let Some(req) = crate::server::chained_request(req, &self.manifest.router, name) else {
            return Err(wasmtime_wasi_http::Error::DestinationNotFound);
        };
        self.dispatch(name, req)
            .await
            .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(format!("component '{name}' failed: {e}"))))
    }
}

/// The instance factory of one component.
pub struct ComponentHandler {
    engine: Engine,
    app: Weak<AppRuntime>,
    component: Arc<Component>,
    pre: ProxyPre<Host>,
    stdout: LogSink,
    stderr: LogSink,
    kv: KvAccess,
    redis: Arc<RedisPool>,
    next_instance: AtomicU64,
}

impl ComponentHandler {
    fn new_store(&self, settings: &Settings) -> Store<Host> {
        let mut wasi = WasiCtxBuilder::new();
        for (k, v) in &self.component.environment {
            wasi.env(k, v);
        }
        wasi.stdout(self.stdout.clone()).stderr(self.stderr.clone());
        let host = Host {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: Outbound { component: Arc::clone(&self.component), app: self.app.clone() },
            spin: SpinCtx { component: Arc::clone(&self.component), kv: self.kv.clone(), redis: Arc::clone(&self.redis) },
            limits: Limits { inner: StoreLimitsBuilder::new().memory_size(settings.max_memory_bytes).build(), peak_memory_bytes: 0 },
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limits);
        store
    }
}

impl HandlerState for ComponentHandler {
    type StoreData = Host;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Host, Expiration, Worker>> {
        let app = self.app.upgrade().ok_or_else(|| wasmtime::format_err!("host shutting down"))?;
        let settings = &app.settings;
        let mut store = self.new_store(settings);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let request_timeout = settings.request_timeout.unwrap_or(Duration::MAX);
        Ok(Instance {
            store,
            proxy,
            view: wasmtime_wasi_http::WasiHttpView::http,
            expiration: Expiration {
                idle: settings.idle_instance_timeout,
                request: request_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::from_secs(86_400 * 365))),
            },
            state: Worker {
                id: self.next_instance.fetch_add(1, Ordering::Relaxed),
                component: self.component.id.clone(),
                max_reuse: settings.max_instance_reuse_count,
                max_concurrent: settings.max_instance_concurrent_reuse_count,
                request_timeout,
                memory_log: settings.instance_memory_log.clone(),
            },
        })
    }
}

/// When an instance is dropped: idle too long, or a request overran its time.
pub struct Expiration {
    idle: Duration,
    request: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => self.idle,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request,
        };
        let Some(deadline) = start.checked_add(limit) else { return Poll::Pending };
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

/// How many requests one instance takes.
pub struct Worker {
    id: u64,
    component: String,
    max_reuse: usize,
    max_concurrent: usize,
    request_timeout: Duration,
    memory_log: Option<PathBuf>,
}

impl WorkerState for Worker {
    type StoreData = Host;
    type RequestData = u64;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.max_reuse {
            ShouldAccept::Never
        } else if concurrent >= self.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, Host>,
        _request: u64,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(self.request_timeout.min(Duration::from_secs(86_400 * 365))))
    }

    fn drop(&self, store: Store<Host>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            eprintln!("component '{}' instance {} failed and was dropped: {e:#}", self.component, self.id);
        }
        if let Some(path) = &self.memory_log {
            // Component ids are letters, digits and '-' (the manifest checks), so Debug quoting is JSON.
            let line = format!(
                "{{\"component\":{:?},\"instance\":{},\"peak_linear_memory_bytes\":{}}}",
                self.component,
                self.id,
                store.data().limits.peak_memory_bytes
            );
            let appended = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| {
                use std::io::Write;
                writeln!(f, "{line}")
            });
            if let Err(e) = appended {
                eprintln!("instance memory log {}: {e}", path.display());
            }
        }
        drop(store);
    }
}

/// A wasmtime error (its own type, not `std::error::Error`) as an `anyhow` error with context.
fn wt<T>(r: wasmtime::Result<T>, context: impl FnOnce() -> String) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{}: {e:?}", context()))
}

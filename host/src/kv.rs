//! `spin:key-value@3.0.0` backed by SQLite, Spin's own default backend.
//!
//! Like Spin, the store labelled `default` lives in `<state dir>/sqlite_key_value.db`, in one
//! table `spin_key_value (store, key, value)`, so a file written by `spin up` reads here and the
//! other way round. One connection per process, shared by every instance and every request:
//! what one instance writes, the next reads, whether or not instances are reused. The database
//! runs in WAL mode with a short busy timeout, so a locked or missing file becomes the
//! interface's `error::other`, never a hang.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use crate::bindings::kv::{self, Error};
use crate::bindings::{Spin, SpinView};

/// How long an operation waits for a lock held by another writer before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The label Spin provides without any runtime configuration.
pub const DEFAULT_LABEL: &str = "default";

/// One SQLite database file holding every store label.
pub struct KvBackend {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl KvBackend {
    pub fn new(path: PathBuf) -> Self {
        KvBackend { path, conn: Mutex::new(None) }
    }

    /// Runs `f` on the connection (opened on first use) on the blocking pool.
    async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, Error> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut guard = me.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if guard.is_none() {
                *guard = Some(open(&me.path).map_err(|e| Error::Other(format!("opening {}: {e}", me.path.display())))?);
            }
            let conn = guard.as_ref().expect("opened above");
            f(conn).map_err(|e| {
                // A broken connection is reopened on the next call.
                if matches!(e, rusqlite::Error::SqliteFailure(..)) {
                    *guard = None;
                }
                Error::Other(format!("key-value store: {e}"))
            })
        })
        .await
        .unwrap_or_else(|e| Err(Error::Other(format!("key-value task failed: {e}"))))
    }
}

fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
        [],
    )?;
    Ok(conn)
}

/// An open store: what a guest's `store` resource stands for.
pub struct OpenStore {
    label: String,
    backend: Arc<KvBackend>,
}

/// The stores a component may open, and where they live.
#[derive(Clone)]
pub struct KvAccess {
    /// Labels the component lists in `key_value_stores`.
    pub allowed: Arc<Vec<String>>,
    /// Labels this host has a backend for.
    pub backends: Arc<Vec<(String, Arc<KvBackend>)>>,
}

fn store<T>(accessor: &Accessor<T, Spin>, this: &Resource<OpenStore>) -> wasmtime::Result<(String, Arc<KvBackend>)> {
    accessor.with(|mut access| {
        let view: SpinView<'_> = access.get();
        let s = view.table.get(this)?;
        Ok((s.label.clone(), Arc::clone(&s.backend)))
    })
}

impl<T> kv::HostStoreWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, label: String) -> wasmtime::Result<Result<Resource<OpenStore>, Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            let access_rules = &view.ctx.kv;
            if !access_rules.allowed.contains(&label) {
                return Ok(Err(Error::AccessDenied));
            }
            let Some((_, backend)) = access_rules.backends.iter().find(|(l, _)| *l == label) else {
                return Ok(Err(Error::NoSuchStore));
            };
            let open = OpenStore { label, backend: Arc::clone(backend) };
            match view.table.push(open) {
                Ok(r) => Ok(Ok(r)),
                Err(_) => Ok(Err(Error::StoreTableFull)),
            }
        })
    }

    async fn get(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let (label, backend) = store(accessor, &this)?;
        Ok(backend
            .run(move |c| {
                c.query_row("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2", (&label, &key), |r| r.get(0)).optional()
            })
            .await)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = store(accessor, &this)?;
        Ok(backend
            .run(move |c| {
                c.execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                    (&label, &key, &value),
                )
                .map(|_| ())
            })
            .await)
    }

    async fn delete(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = store(accessor, &this)?;
        Ok(backend.run(move |c| c.execute("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2", (&label, &key)).map(|_| ())).await)
    }

    async fn exists(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = store(accessor, &this)?;
        Ok(backend
            .run(move |c| {
                c.query_row("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2", (&label, &key), |_| Ok(()))
                    .optional()
                    .map(|o| o.is_some())
            })
            .await)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let (label, backend) = store(accessor, &this)?;
        let keys = backend
            .run(move |c| {
                let mut stmt = c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
                let rows = stmt.query_map([&label], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
            })
            .await;
        accessor.with(|mut access| {
            let (keys, result) = match keys {
                Ok(k) => (k, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            };
            let stream = StreamReader::new(&mut access, keys)?;
            let done = FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((stream, done))
        })
    }
}

impl kv::HostStore for SpinView<'_> {
    fn drop(&mut self, this: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
impl kv::Host for SpinView<'_> {}

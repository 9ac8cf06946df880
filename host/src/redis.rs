//! `spin:redis@3.0.0`: outbound Redis for guests, over the `redis` crate.
//!
//! `connection.open(address)` is checked against the component's `allowed_outbound_hosts`
//! (`redis://host:port`), as Spin does, and refused with `invalid-address` otherwise. One
//! multiplexed connection per address is shared by every instance of the process (pooled, like
//! Spin's), opened on first use with a connect timeout; every command has a response timeout.
//! So a Redis that is down or stalled gives the guest the interface's `error::other` within
//! seconds, never a hang.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use wasmtime::component::{Accessor, Resource};

use crate::bindings::redis::{self as wit, Error, RedisParameter, RedisResult};
use crate::bindings::{Spin, SpinView};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections by address, shared by every instance.
#[derive(Default)]
pub struct RedisPool {
    conns: tokio::sync::Mutex<HashMap<String, MultiplexedConnection>>,
}

impl RedisPool {
    async fn connect(&self, address: &str) -> Result<MultiplexedConnection, Error> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(address) {
            return Ok(c.clone());
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        let config = AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT).set_response_timeout(RESPONSE_TIMEOUT);
        let conn = client.get_multiplexed_async_connection_with_config(&config).await.map_err(other)?;
        conns.insert(address.to_owned(), conn.clone());
        Ok(conn)
    }

    /// Forgets a connection after an I/O failure, so the next `open` reconnects.
    async fn forget(&self, address: &str) {
        self.conns.lock().await.remove(address);
    }
}

/// A guest's `connection` resource.
pub struct OpenConnection {
    address: String,
    conn: MultiplexedConnection,
    pool: Arc<RedisPool>,
}

fn other(e: redis::RedisError) -> Error {
    if e.kind() == redis::ErrorKind::TypeError {
        Error::TypeError
    } else {
        Error::Other(e.to_string())
    }
}

fn conn<T>(
    accessor: &Accessor<T, Spin>,
    this: &Resource<OpenConnection>,
) -> wasmtime::Result<(MultiplexedConnection, String, Arc<RedisPool>)> {
    accessor.with(|mut access| {
        let view: SpinView<'_> = access.get();
        let c = view.table.get(this)?;
        Ok((c.conn.clone(), c.address.clone(), Arc::clone(&c.pool)))
    })
}

/// Runs one command; an I/O failure drops the pooled connection.
async fn run<T, R: redis::FromRedisValue>(
    accessor: &Accessor<T, Spin>,
    this: &Resource<OpenConnection>,
    cmd: redis::Cmd,
) -> wasmtime::Result<Result<R, Error>> {
    let (mut c, address, pool) = conn(accessor, this)?;
    let out = cmd.query_async::<R>(&mut c).await;
    if let Err(e) = &out {
        if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
            pool.forget(&address).await;
        }
    }
    Ok(out.map_err(other))
}

impl<T> wit::HostConnectionWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, address: String) -> wasmtime::Result<Result<Resource<OpenConnection>, Error>> {
        let (allowed, pool) = accessor.with(|mut access| {
            let view = access.get();
            (crate::outbound::redis_allowed(&view.ctx.component, &address), Arc::clone(&view.ctx.redis))
        });
        if !allowed {
            eprintln!(
                "A component tried to open a Redis connection to '{address}', which is not in its allowed_outbound_hosts; add \"{}\" to allow it.",
                crate::outbound::redacted_origin(&address)
            );
            return Ok(Err(Error::InvalidAddress));
        }
        let conn = match pool.connect(&address).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let open = OpenConnection { address, conn, pool };
            match access.get().table.push(open) {
                Ok(r) => Ok(Ok(r)),
                Err(_) => Ok(Err(Error::TooManyConnections)),
            }
        })
    }

    async fn publish(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        run::<T, ()>(accessor, &this, redis::cmd("PUBLISH").arg(channel).arg(payload).clone()).await
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        run(accessor, &this, redis::cmd("GET").arg(key).clone()).await
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        run::<T, ()>(accessor, &this, redis::cmd("SET").arg(key).arg(value).clone()).await
    }

    async fn incr(accessor: &Accessor<T, Self>, this: Resource<OpenConnection>, key: String) -> wasmtime::Result<Result<i64, Error>> {
        run(accessor, &this, redis::cmd("INCR").arg(key).clone()).await
    }

    async fn del(accessor: &Accessor<T, Self>, this: Resource<OpenConnection>, keys: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        run(accessor, &this, redis::cmd("DEL").arg(keys).clone()).await
    }

    async fn sadd(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        run(accessor, &this, redis::cmd("SADD").arg(key).arg(values).clone()).await
    }

    async fn smembers(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        run(accessor, &this, redis::cmd("SMEMBERS").arg(key).clone()).await
    }

    async fn srem(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        run(accessor, &this, redis::cmd("SREM").arg(key).arg(values).clone()).await
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                RedisParameter::Int64(i) => cmd.arg(i),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: Result<Value, Error> = run(accessor, &this, cmd).await?;
        Ok(value.map(|v| {
            let mut out = Vec::new();
            flatten(v, &mut out);
            out
        }))
    }
}

/// Spin returns `execute`'s answer as a flat list: an array's elements in order.
fn flatten(v: Value, out: &mut Vec<RedisResult>) {
    match v {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(i) => out.push(RedisResult::Int64(i)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".to_owned())),
        Value::Array(items) | Value::Set(items) => items.into_iter().for_each(|i| flatten(i, out)),
        Value::Map(pairs) => pairs.into_iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        Value::Double(d) => out.push(RedisResult::Status(d.to_string())),
        Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        Value::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        Value::Attribute { data, .. } => flatten(*data, out),
        other => out.push(RedisResult::Status(format!("{other:?}"))),
    }
}

impl wit::HostConnection for SpinView<'_> {
    fn drop(&mut self, this: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
impl wit::Host for SpinView<'_> {}

#[cfg(test)]
mod tests {
    use super::{flatten, RedisResult, Value};

    fn flat(v: Value) -> Vec<RedisResult> {
        let mut out = Vec::new();
        flatten(v, &mut out);
        out
    }

    #[test]
    fn execute_results_are_flattened_like_spin() {
        // (the generated variant type has no PartialEq: compare its Debug form)
        let v = Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Nil, Value::Array(vec![Value::Int(3), Value::Okay])]);
        let want = vec![RedisResult::Binary(b"a".to_vec()), RedisResult::Nil, RedisResult::Int64(3), RedisResult::Status("OK".into())];
        assert_eq!(format!("{:?}", flat(v)), format!("{want:?}"));
        assert_eq!(format!("{:?}", flat(Value::SimpleString("PONG".into()))), format!("{:?}", vec![RedisResult::Status("PONG".into())]));
    }
}

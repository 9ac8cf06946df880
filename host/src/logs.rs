//! Where a component's stdout and stderr go: the host's own stdout/stderr, and with
//! `--log-dir DIR` also `DIR/<component>_stdout.txt` and `DIR/<component>_stderr.txt`, the
//! files `spin up --log-dir` writes. Every instance of a component appends to the same files.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Clone, Copy)]
enum Console {
    Stdout,
    Stderr,
}

/// One output of one component.
#[derive(Clone)]
pub struct LogSink {
    console: Console,
    file: Option<Arc<Mutex<File>>>,
}

impl LogSink {
    /// The pair of sinks for component `id`.
    ///
    /// # Errors
    /// When a log file cannot be opened for appending.
    pub fn pair(id: &str, log_dir: Option<&Path>) -> io::Result<(LogSink, LogSink)> {
        let open = |suffix: &str| -> io::Result<Option<Arc<Mutex<File>>>> {
            let Some(dir) = log_dir else { return Ok(None) };
            std::fs::create_dir_all(dir)?;
            let f = OpenOptions::new().create(true).append(true).open(dir.join(format!("{id}_{suffix}.txt")))?;
            Ok(Some(Arc::new(Mutex::new(f))))
        };
        Ok((LogSink { console: Console::Stdout, file: open("stdout")? }, LogSink { console: Console::Stderr, file: open("stderr")? }))
    }

    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        if let Some(f) = &self.file {
            f.lock().unwrap_or_else(std::sync::PoisonError::into_inner).write_all(buf)?;
        }
        match self.console {
            Console::Stdout => io::stdout().lock().write_all(buf),
            Console::Stderr => io::stderr().lock().write_all(buf),
        }
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for LogSink {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Lines are small and files are local: writing at once keeps their order.
        Poll::Ready(self.write_all(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

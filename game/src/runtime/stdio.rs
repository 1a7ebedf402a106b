//! A mod's stdout and stderr, line by line into `tracing` under its name.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;

/// One of a mod's output streams.
#[derive(Clone)]
pub(crate) struct LogPipe {
    mod_name: Arc<str>,
    stderr: bool,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl LogPipe {
    pub(crate) fn new(mod_name: Arc<str>, stderr: bool) -> Self {
        Self {
            mod_name,
            stderr,
            pending: Arc::default(),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        for &b in bytes {
            if b == b'\n' {
                self.emit(&pending);
                pending.clear();
            } else if pending.len() < MAX_LINE {
                pending.push(b);
            }
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        if self.stderr {
            tracing::warn!(target: "mod", mod_name = &*self.mod_name, stream = "stderr", "{text}");
        } else {
            tracing::info!(target: "mod", mod_name = &*self.mod_name, stream = "stdout", "{text}");
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

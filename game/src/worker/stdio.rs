//! A mod's stdout and stderr, line by line into `tracing` under its name,
//! sharing one per-tick line budget with the `log` interface.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;

/// Log lines a mod may still write this tick; the worker refills it before
/// each tick. The first line over the budget is replaced by one warning,
/// the rest are dropped, so a mod cannot flood the game's log. It also
/// keeps the last lines the mod wrote to stderr during the current call,
/// logged or not: a panic message or an uncaught exception's traceback
/// that explains a trap (see [`LineBudget::last_words`]).
#[derive(Clone, Default)]
pub(crate) struct LineBudget {
    left: Arc<AtomicUsize>,
    cap: Arc<AtomicUsize>,
    tail: Arc<Mutex<std::collections::VecDeque<String>>>,
}

/// Stderr lines kept for a fault's message, and how long each may be.
const TAIL_LINES: usize = 24;
const TAIL_LINE: usize = 512;

impl LineBudget {
    /// Forgets the stderr lines of earlier calls.
    pub(crate) fn clear_tail(&self) {
        if let Ok(mut tail) = self.tail.lock() {
            tail.clear();
        }
    }

    fn keep(&self, line: &str) {
        // Rust's panic handler suggests an environment variable a mod
        // cannot set; its backtrace is in the fault anyway.
        if line.starts_with("note: run with `RUST_BACKTRACE=1`") {
            return;
        }
        let Ok(mut tail) = self.tail.lock() else {
            return;
        };
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        let mut line = line.to_string();
        crate::text::cut(&mut line, TAIL_LINE);
        tail.push_back(line);
    }

    /// What the mod last wrote to stderr in this call, a line each (cut,
    /// not yet escaped), or `None` when it wrote nothing.
    pub(crate) fn last_words(&self) -> Option<String> {
        let tail = self.tail.lock().ok()?;
        let words = tail
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n");
        let words = words.trim_matches('\n');
        (!words.is_empty()).then(|| words.to_string())
    }

    pub(crate) fn refill(&self, lines: usize) {
        self.cap.store(lines, Ordering::Relaxed);
        self.left.store(lines + 1, Ordering::Relaxed);
    }

    /// Whether one more line may be written; warns once when the budget runs
    /// out.
    pub(crate) fn take(&self, mod_id: &str) -> bool {
        let before = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .unwrap_or(0);
        if before == 1 {
            tracing::warn!(
                target: "mod",
                mod_id,
                "more than {} log lines this tick; the rest are dropped",
                self.cap.load(Ordering::Relaxed)
            );
        }
        before > 1
    }
}

/// One of a mod's output streams.
#[derive(Clone)]
pub(crate) struct LogPipe {
    mod_id: Arc<str>,
    stderr: bool,
    pending: Arc<Mutex<Vec<u8>>>,
    budget: LineBudget,
}

impl LogPipe {
    pub(crate) fn new(mod_id: Arc<str>, stderr: bool, budget: LineBudget) -> Self {
        Self {
            mod_id,
            stderr,
            pending: Arc::default(),
            budget,
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
            self.budget.keep(&text);
        }
        let text = crate::text::escape(&text);
        if !self.budget.take(&self.mod_id) {
            return;
        }
        if self.stderr {
            tracing::warn!(target: "mod", mod_id = &*self.mod_id, stream = "stderr", "{text}");
        } else {
            tracing::info!(target: "mod", mod_id = &*self.mod_id, stream = "stdout", "{text}");
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

//! A mod's stdout and stderr, line by line into `tracing` under its name,
//! sharing one per-tick line budget with the `log` interface.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;

/// What a mod may still write to the game's log: lines this tick, and
/// bytes over time. The worker refills the lines before each tick; the
/// bytes refill with the clock (a burst, then a steady rate), so a mod
/// writing its every line each tick for minutes cannot fill the disk or
/// slow the frames with formatting. What is dropped is counted and told in
/// one line at most every [`REPORT_EVERY`] per mod. It also keeps the last
/// lines the mod wrote to stderr during the current call, logged or not: a
/// panic message or an uncaught exception's traceback that explains a trap
/// (see [`LineBudget::last_words`]).
#[derive(Clone)]
pub(crate) struct LineBudget {
    left: Arc<AtomicUsize>,
    cap: Arc<AtomicUsize>,
    bytes: Arc<Mutex<ByteBudget>>,
    tail: Arc<Mutex<std::collections::VecDeque<String>>>,
}

/// Bytes of output a mod may write: a bucket of `burst` bytes that refills
/// at `per_second`; and what was dropped since it was last told.
struct ByteBudget {
    burst: f64,
    per_second: f64,
    left: f64,
    refilled: Instant,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// Why lines were dropped since the last report.
    over_lines: bool,
    over_bytes: bool,
    reported: Option<Instant>,
}

/// The shortest time between two reports of dropped output, per mod.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Stderr lines kept for a fault's message, and how long each may be.
const TAIL_LINES: usize = 24;
const TAIL_LINE: usize = 512;

impl LineBudget {
    /// A budget of `burst` bytes refilling at `per_minute` bytes a minute
    /// (see [`ModLimits::output_bytes_per_minute`](crate::ModLimits)).
    pub(crate) fn new(burst: u64, per_minute: u64) -> Self {
        Self {
            left: Arc::default(),
            cap: Arc::default(),
            bytes: Arc::new(Mutex::new(ByteBudget {
                burst: burst as f64,
                per_second: per_minute as f64 / 60.0,
                left: burst as f64,
                refilled: Instant::now(),
                dropped_lines: 0,
                dropped_bytes: 0,
                over_lines: false,
                over_bytes: false,
                reported: None,
            })),
            tail: Arc::default(),
        }
    }

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
        self.left.store(lines, Ordering::Relaxed);
    }

    /// Whether one more line of `bytes` bytes may be written: one of this
    /// tick's lines and that many bytes of the budget over time are left.
    /// A line refused is counted, and told in one line now and then.
    pub(crate) fn take(&self, mod_id: &str, bytes: usize) -> bool {
        let line_left = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let Ok(mut budget) = self.bytes.lock() else {
            return false;
        };
        let now = Instant::now();
        let since = now.saturating_duration_since(budget.refilled).as_secs_f64();
        budget.left = (budget.left + since * budget.per_second).min(budget.burst);
        budget.refilled = now;
        let bytes_left = budget.left >= bytes as f64;
        if line_left && bytes_left {
            budget.left -= bytes as f64;
            // Writing again after a drop: say what was lost meanwhile, as
            // often as any report (a mod that writes all it can resumes
            // each time its budget refills a line's worth).
            if budget.dropped_lines > 0 && due(&budget, now) {
                self.report(&mut budget, mod_id, now);
            }
            return true;
        }
        budget.dropped_lines += 1;
        budget.dropped_bytes += bytes as u64;
        budget.over_lines |= !line_left;
        budget.over_bytes |= !bytes_left;
        if due(&budget, now) {
            self.report(&mut budget, mod_id, now);
        }
        false
    }

    /// One line saying what was dropped since the last, and why.
    fn report(&self, budget: &mut ByteBudget, mod_id: &str, now: Instant) {
        let why = match (budget.over_lines, budget.over_bytes) {
            (true, false) => format!(
                "more than {} lines in a tick",
                self.cap.load(Ordering::Relaxed)
            ),
            _ => format!(
                "over its output budget of {:.0} KiB and {:.0} KiB a minute",
                budget.burst / 1024.0,
                budget.per_second * 60.0 / 1024.0
            ),
        };
        tracing::warn!(
            target: "mod",
            mod_id,
            dropped_lines = budget.dropped_lines,
            dropped_bytes = budget.dropped_bytes,
            "output dropped: {} lines ({} bytes), {why}",
            budget.dropped_lines,
            budget.dropped_bytes
        );
        budget.dropped_lines = 0;
        budget.dropped_bytes = 0;
        budget.over_lines = false;
        budget.over_bytes = false;
        budget.reported = Some(now);
    }
}

/// Whether a report of dropped output may be written now: the first, or
/// [`REPORT_EVERY`] after the last.
fn due(budget: &ByteBudget, now: Instant) -> bool {
    budget
        .reported
        .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY)
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
        if !self.budget.take(&self.mod_id, text.len()) {
            return;
        }
        let text = crate::text::escape(&text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_output_is_told_at_most_once_per_period_even_when_writing_resumes() {
        let budget = LineBudget::new(100, 60);
        budget.refill(1_000);
        assert!(budget.take("m", 100));
        // Over the byte budget: dropped, and told (the first report).
        assert!(!budget.take("m", 100));
        let first = budget.bytes.lock().unwrap().reported;
        assert!(first.is_some());
        assert!(!budget.take("m", 100));
        assert_eq!(budget.bytes.lock().unwrap().dropped_lines, 1);
        // The budget refills a line's worth and the mod writes again:
        // what was dropped waits for the next period's report.
        budget.bytes.lock().unwrap().left = 100.0;
        assert!(budget.take("m", 100));
        let after = budget.bytes.lock().unwrap();
        assert_eq!(after.reported, first);
        assert_eq!(after.dropped_lines, 1);
    }
}

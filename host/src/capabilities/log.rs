//! `corral:tool/log`: guest log lines into the server's tracing, tagged with tool and call ids.
//!
//! Always available: a log line cannot reach anything outside the host. Lines and their count
//! are capped per call so a chatty or hostile guest cannot flood the server's log.

use crate::bindings::corral::tool::log::{self as wit, Level};
use wasmtime::component::{HasData, Linker};

/// Longest line kept; the rest is cut with a marker.
pub const MAX_LINE_BYTES: usize = 4096;
/// Lines kept per call; later ones are counted and reported once.
pub const MAX_LINES_PER_CALL: usize = 1000;

/// Per-call logging state: who is logging, and how much they logged.
#[derive(Debug, Clone, Default)]
pub struct LogCtx {
    /// The tool making the call, for the log fields.
    pub tool: String,
    /// The call id, for the log fields.
    pub call_id: String,
    lines: usize,
    dropped: usize,
}

impl LogCtx {
    /// Logging for one call of `tool`.
    pub fn new(tool: impl Into<String>, call_id: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            call_id: call_id.into(),
            lines: 0,
            dropped: 0,
        }
    }

    /// Lines refused because the per-call cap was reached.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Emits one line at `level`, applying the caps. Also used for captured stdout/stderr.
    pub fn emit(&mut self, level: Level, message: &str) {
        if self.lines >= MAX_LINES_PER_CALL {
            self.dropped += 1;
            return;
        }
        self.lines += 1;
        let message = truncate_at_char_boundary(message, MAX_LINE_BYTES);
        let (tool, call) = (self.tool.as_str(), self.call_id.as_str());
        match level {
            Level::Trace => tracing::trace!(target: "corral::guest", tool, call, "{message}"),
            Level::Debug => tracing::debug!(target: "corral::guest", tool, call, "{message}"),
            Level::Info => tracing::info!(target: "corral::guest", tool, call, "{message}"),
            Level::Warn => tracing::warn!(target: "corral::guest", tool, call, "{message}"),
            Level::Error => tracing::error!(target: "corral::guest", tool, call, "{message}"),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub fn truncate_at_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Borrowed view the generated `Host` trait is implemented for.
pub struct LogView<'a> {
    ctx: &'a mut LogCtx,
}

impl<'a> LogView<'a> {
    /// A view over `ctx`.
    pub fn new(ctx: &'a mut LogCtx) -> Self {
        Self { ctx }
    }
}

impl wit::Host for LogView<'_> {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.ctx.emit(level, &message);
        Ok(())
    }
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = LogView<'a>;
}

/// Adds `corral:tool/log` to `linker`; `view` borrows the per-call state out of the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> LogView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasLog>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_beyond_the_cap_are_counted_not_logged() {
        let mut ctx = LogCtx::new("t", "c");
        for _ in 0..MAX_LINES_PER_CALL + 5 {
            ctx.emit(Level::Info, "x");
        }
        assert_eq!(ctx.dropped(), 5);
    }

    #[test]
    fn truncation_respects_utf8() {
        assert_eq!(truncate_at_char_boundary("héllo", 2), "h");
        assert_eq!(truncate_at_char_boundary("abc", 10), "abc");
    }
}

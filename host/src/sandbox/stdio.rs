//! Guest stdout/stderr, captured per call and then written to the server log.
//!
//! Writes always succeed from the guest's point of view (Rust's `println!` panics on a failed
//! write, which would turn chatty tools into crashing ones); bytes past the cap are counted
//! and dropped.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes of each stream kept per call.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// One captured stream; clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

impl CapturedOutput {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// The captured text so far (lossy UTF-8), left in place.
    pub fn contents(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&inner.bytes).into_owned()
    }

    /// The captured text (lossy UTF-8) and the number of bytes dropped past the cap; clears both.
    pub fn take(&self) -> (String, usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&inner.bytes).into_owned();
        inner.bytes.clear();
        (text, std::mem::take(&mut inner.dropped))
    }

    fn push(&self, buf: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = CAPTURE_BYTES.saturating_sub(inner.bytes.len());
        let kept = buf.len().min(room);
        inner.bytes.extend_from_slice(&buf[..kept]);
        inner.dropped += buf.len() - kept;
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_cap_and_counts_the_rest() {
        let out = CapturedOutput::new();
        out.push(&vec![b'a'; CAPTURE_BYTES + 10]);
        let (text, dropped) = out.take();
        assert_eq!(text.len(), CAPTURE_BYTES);
        assert_eq!(dropped, 10);
    }
}

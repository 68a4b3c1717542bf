//! A guest's stderr, kept as a bounded tail so a panic message can be shown
//! in the call's error without letting a chatty guest grow host memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The last [`TailBuffer::CAPACITY`] bytes written.
#[derive(Clone, Default)]
pub struct TailBuffer(Arc<Mutex<Vec<u8>>>);

impl TailBuffer {
    pub const CAPACITY: usize = 8 * 1024;

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap();
        buf.extend_from_slice(bytes);
        if buf.len() > Self::CAPACITY {
            let cut = buf.len() - Self::CAPACITY;
            buf.drain(..cut);
        }
    }

    /// What was written, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl IsTerminal for TailBuffer {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailBuffer {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for TailBuffer {
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
    fn keeps_only_the_tail() {
        let t = TailBuffer::default();
        t.push(&vec![b'a'; TailBuffer::CAPACITY]);
        t.push(b"panicked at the end");
        let text = t.text();
        assert_eq!(text.len(), TailBuffer::CAPACITY);
        assert!(text.ends_with("panicked at the end"));
    }
}

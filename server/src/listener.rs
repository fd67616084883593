//! The TCP listener with a connection limit and accept back-off.
//!
//! Like mini-redis: a connection needs a semaphore permit before it is
//! accepted, and holds it until it closes, so at most `max_connections`
//! are open and the rest wait in the kernel's listen backlog instead of
//! consuming memory and file descriptors. A failed `accept` (typically
//! EMFILE) is retried with exponential back-off rather than spinning or
//! exiting. Plugged into `axum::serve` through its [`Listener`] trait.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// First pause after a failed accept.
const BACKOFF_START: Duration = Duration::from_millis(50);
/// Longest pause between accept retries.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A TCP listener that admits at most a fixed number of open connections.
pub struct LimitedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    max_connections: usize,
}

impl LimitedListener {
    /// Wraps `listener`, admitting at most `max_connections` at a time.
    pub fn new(listener: TcpListener, max_connections: usize) -> LimitedListener {
        LimitedListener { listener, permits: Arc::new(Semaphore::new(max_connections)), max_connections }
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.max_connections.saturating_sub(self.permits.available_permits())
    }
}

/// The client address of a connection, as handlers see it through
/// `ConnectInfo<PeerAddr>` (the audit log and brute-force limiting use it),
/// and, for plain TCP, the connection's socket: a query running on the
/// request's own thread asks it whether the client hung up (see
/// [`crate::hangup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr, pub Option<std::os::fd::RawFd>);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, LimitedListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, LimitedListener>) -> PeerAddr {
        use std::os::fd::AsRawFd;
        PeerAddr(*stream.remote_addr(), Some(stream.io().stream.as_raw_fd()))
    }
}

impl Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        let mut backoff = BACKOFF_START;
        loop {
            // Wait for a free slot before accepting (cancel-safe).
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                // The semaphore is never closed; if it were, pausing keeps
                // the server alive rather than spinning.
                tokio::time::sleep(BACKOFF_MAX).await;
                continue;
            };
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%addr, error = %err, "could not set TCP_NODELAY");
                    }
                    tracing::trace!(%addr, open = self.open_connections(), "connection accepted");
                    return (LimitedStream { stream, _permit: permit }, addr);
                }
                Err(err) if is_transient(&err) => continue,
                Err(err) => {
                    tracing::error!(error = %err, retry_in = ?backoff, "accept failed");
                    drop(permit);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Errors about one connection that died in the backlog: retry at once.
fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// An accepted connection holding its slot until it is dropped.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn admits_at_most_max_connections() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let mut listener = LimitedListener::new(tcp, 1);

        let _c1 = TcpStream::connect(addr).await.expect("connect 1");
        let _c2 = TcpStream::connect(addr).await.expect("connect 2 (backlog)");
        let (first, _) = listener.accept().await;
        assert_eq!(listener.open_connections(), 1);

        // The second connection waits in the backlog while the first is open.
        let blocked = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(blocked.is_err(), "second connection admitted over the limit");

        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(second.is_ok(), "second connection not admitted after the first closed");
    }

    #[tokio::test]
    async fn limited_stream_passes_bytes_through() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let mut listener = LimitedListener::new(tcp, 4);
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await;
        client.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").await.expect("write back");
        client.read_exact(&mut buf).await.expect("read back");
        assert_eq!(&buf, b"pong");
    }
}

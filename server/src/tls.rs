//! TLS for the HTTP API (rustls), HTTP/1.1 and HTTP/2 negotiated by ALPN.
//!
//! Why handshakes run in their own tasks: a handshake waits on the client,
//! and doing it inside `accept` would let one slow (or malicious) client
//! stall every other connection. [`TlsListener`] keeps accepting on the
//! connection-limited TCP listener in a background task, completes each
//! handshake in a task of its own (bounded by [`HANDSHAKE_TIMEOUT`]), and
//! hands finished connections to `axum::serve` through a channel. A failed
//! handshake is logged and the connection closed; the server carries on.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::listener::{LimitedListener, LimitedStream, PeerAddr};

/// Longest a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for `axum::serve` to pick them up.
const QUEUE: usize = 64;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {message}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("invalid TLS certificate or key: {0}")]
    Config(#[from] rustls::Error),
}

/// The server configuration for a PEM certificate chain and private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem = |what, path: &Path, message: String| TlsError::Pem { what, path: path.to_path_buf(), message };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem("certificate", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem("certificate", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("certificate", cert, "no CERTIFICATE block".to_string()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem("private key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener yielding TLS connections (see the module docs).
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<LimitedStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting and handshaking on `inner`.
    pub fn new(inner: LimitedListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local_addr = inner.local_addr()?;
        let (tx, ready) = mpsc::channel(QUEUE);
        tokio::spawn(accept_loop(inner, TlsAcceptor::from(config), tx));
        Ok(TlsListener { local_addr, ready })
    }
}

async fn accept_loop(
    mut inner: LimitedListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<LimitedStream>, SocketAddr)>,
) {
    loop {
        let (stream, addr) = tokio::select! {
            accepted = inner.accept() => accepted,
            // The server stopped listening: stop accepting.
            () = tx.closed() => return,
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(err)) => tracing::debug!(%addr, error = %err, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<LimitedStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended, which it does only when this listener
            // is gone; never resolve rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> PeerAddr {
        PeerAddr(*stream.remote_addr(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_pem_files_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let err = server_config(&empty, &empty).expect_err("no certificate");
        assert!(err.to_string().contains("cannot read certificate from"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = server_config(&missing, &missing).expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}

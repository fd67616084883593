//! A real HTTP receiver for webhook tests: a small HTTP/1.1 server on
//! `127.0.0.1:0` that records every request and answers with a status the
//! test chooses.
//!
//! Written on `std::net` (one thread, `Connection: close` on every answer)
//! so the tests need no async runtime. [`Receiver::stop`] closes the
//! socket (the consumer is down: connections are refused) and
//! [`Receiver::resume`] listens again on the same port.
//! [`Receiver::start_tls`] serves HTTPS (rustls) with a certificate the
//! test made, for the `https://` delivery path.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method (`POST`).
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// A header value (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

struct Shared {
    status: AtomicU16,
    requests: Mutex<Vec<Received>>,
    stop: AtomicBool,
    /// `Some`: HTTPS with this configuration.
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// The receiver.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts listening on a free loopback port, answering 200.
    pub fn start() -> Receiver {
        Receiver::listen(None)
    }

    /// Starts an HTTPS receiver with this certificate chain and key (PEM
    /// files), answering 200.
    pub fn start_tls(cert: &Path, key: &Path) -> Receiver {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("read the receiver's certificate")
            .collect::<Result<_, _>>()
            .expect("parse the receiver's certificate");
        let key = PrivateKeyDer::from_pem_file(key).expect("read the receiver's key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the receiver's certificate and key");
        Receiver::listen(Some(Arc::new(config)))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let shared = Arc::new(Shared {
            status: AtomicU16::new(200),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            tls,
        });
        let thread = Some(spawn(listener, Arc::clone(&shared)));
        Receiver { addr, shared, thread }
    }

    /// `http://127.0.0.1:PORT/hook` (`https://` for a TLS receiver).
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/hook", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The status later requests are answered with.
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.requests.lock().expect("receiver lock").clone()
    }

    /// The requests answered with a 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.requests().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Stops listening: connections are refused until [`Receiver::resume`].
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the socket.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            thread.join().expect("receiver thread");
        }
    }

    /// Listens again on the same port.
    pub fn resume(&mut self) {
        assert!(self.thread.is_none(), "receiver already listening");
        let listener = TcpListener::bind(self.addr).expect("rebind the receiver's port");
        self.shared.stop.store(false, Ordering::SeqCst);
        self.thread = Some(spawn(listener, Arc::clone(&self.shared)));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

fn spawn(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            if let Ok(stream) = stream {
                // One request per connection; a broken one is just dropped.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = match &shared.tls {
                    None => serve(stream, &shared),
                    Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
                        Ok(connection) => serve(rustls::StreamOwned::new(connection, stream), &shared),
                        Err(e) => Err(std::io::Error::other(e)),
                    },
                };
            }
        }
    })
}

fn serve(stream: impl Read + Write, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let status = shared.status.load(Ordering::SeqCst);
    shared.requests.lock().expect("receiver lock").push(Received { method, path, headers, body, status });
    let stream = reader.get_mut();
    write!(stream, "HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    stream.flush()
}

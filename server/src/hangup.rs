//! Whether the client of an HTTP/1 connection has hung up, asked of the
//! connection's socket.
//!
//! Why: a query that runs on the request's own thread (see `http::query`)
//! blocks the connection's task, so hyper cannot notice a client that goes
//! away, as it does for a query on a blocking thread (it drops the handler
//! and the query's token is cancelled). The query's cancellation checks
//! ask the socket instead: `poll` with no wait for `POLLRDHUP` (the peer
//! closed its side), `POLLHUP` or `POLLERR`, which is what hyper treats as
//! a closed connection.
//!
//! Only for HTTP/1 over plain TCP: there the handler runs inside the
//! connection's own task, so the socket cannot be closed while the handler
//! runs. An HTTP/2 connection's task runs apart from its requests' tasks
//! and could close (and the number be reused) under a running query.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The events that mean the client is gone: `POLLRDHUP` (the peer closed
/// its side; Linux), `POLLHUP`, `POLLERR`.
const GONE: libc::c_short = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR;

/// A probe of one connection's socket, valid until [`Disarm`] is dropped.
///
/// Why disarmable: the probe is moved into a query's cancel token, and a
/// clone of the token can outlive the request (a forecast job on the fit
/// pool finishes on its own); after the handler returns, the connection
/// may close and its descriptor number be reused, so the probe must stop
/// looking at it first.
#[derive(Debug, Clone)]
pub struct SocketProbe {
    fd: RawFd,
    armed: Arc<AtomicBool>,
}

/// Disarms its probe when dropped (at the latest, when the handler ends).
#[derive(Debug)]
pub struct Disarm(Arc<AtomicBool>);

impl Drop for Disarm {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl SocketProbe {
    /// A probe of `fd` and the guard that disarms it.
    ///
    /// The caller promises that `fd` stays open, as the same socket, until
    /// the guard is dropped: for an HTTP/1 connection's descriptor, drop it
    /// before the handler returns.
    pub fn new(fd: RawFd) -> (SocketProbe, Disarm) {
        let armed = Arc::new(AtomicBool::new(true));
        (SocketProbe { fd, armed: Arc::clone(&armed) }, Disarm(armed))
    }

    /// True when the peer has closed or reset the connection; false when
    /// it has not, when the probe is disarmed, or when `poll` fails.
    pub fn client_gone(&self) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return false;
        }
        let mut fds = [libc::pollfd { fd: self.fd, events: libc::POLLRDHUP, revents: 0 }];
        // SAFETY: `fds` is a valid array of one `pollfd` for the duration
        // of the call, and its length is passed with it; a timeout of 0
        // returns at once. The descriptor is open and still this socket:
        // the probe is armed, so its `Disarm` guard is alive, and
        // `SocketProbe::new`'s caller keeps the socket open until then (the
        // connection's task is blocked in the handler that holds the
        // guard). Tested by `a_live_socket_is_not_gone_and_a_closed_peer_is`.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
        ready > 0 && fds[0].revents & GONE != 0
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_live_socket_is_not_gone_and_a_closed_peer_is() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let (probe, disarm) = SocketProbe::new(server.as_raw_fd());
        assert!(!probe.client_gone(), "a fresh connection");
        // Unread request bytes are not a hang-up.
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
        assert!(!probe.client_gone(), "pending data");
        drop(client);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !probe.client_gone() {
            assert!(std::time::Instant::now() < deadline, "the hang-up was never seen");
            std::thread::yield_now();
        }
        drop(disarm);
        assert!(!probe.client_gone(), "a disarmed probe looks at nothing");
        drop(server);
    }
}

//! The HAProxy driver: keeps a backend's servers equal to the pool's ready
//! units, over HAProxy's Runtime API socket.
//!
//! Each tick, for a pool with a `haproxy` target:
//! * a ready unit without a server gets one (`add server`, then
//!   `enable server`: dynamic servers start in maintenance);
//! * a draining unit's server is set to `drain` (no new requests, in-flight
//!   ones finish); once its current sessions reach 0 it is put in
//!   maintenance, deleted, and the unit is released;
//! * any other `augur_` server in the backend (a released or forgotten
//!   unit) is removed the same way.
//!
//! Servers Augur manages are named `augur_<unit id>`, so static servers in
//! the same backend are left alone. Why the Runtime API rather than
//! rewriting the configuration: no reload, so no dropped connections and
//! no lost health-check state; it needs HAProxy 2.4+ (dynamic servers)
//! and a socket at `level admin`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::exec;
use super::manager::{PoolManager, PoolRecord};
use super::spec::HaproxyTarget;
use super::units::UnitState;
use crate::clock::now_ns;

/// Prefix of the server names Augur manages.
pub const SERVER_PREFIX: &str = "augur_";
/// Most time one Runtime API command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes of one answer read.
const MAX_ANSWER: u64 = 4 << 20;

/// Why talking to HAProxy failed.
#[derive(Debug, thiserror::Error)]
pub enum HaproxyError {
    /// The socket could not be reached or read.
    #[error("HAProxy runtime API at {socket}: {reason}")]
    Io {
        /// The socket.
        socket: String,
        /// What happened.
        reason: String,
    },
    /// HAProxy refused a command.
    #[error("HAProxy refused `{command}`: {answer}")]
    Refused {
        /// The command.
        command: String,
        /// Its answer.
        answer: String,
    },
}

/// Sends one command and returns HAProxy's answer.
pub async fn command(socket: &str, line: &str) -> Result<String, HaproxyError> {
    let io = |e: std::io::Error| HaproxyError::Io { socket: socket.to_string(), reason: e.to_string() };
    let exchange = async {
        if socket.starts_with('/') {
            exchange(tokio::net::UnixStream::connect(socket).await.map_err(io)?, line).await.map_err(io)
        } else {
            exchange(tokio::net::TcpStream::connect(socket).await.map_err(io)?, line).await.map_err(io)
        }
    };
    tokio::time::timeout(COMMAND_TIMEOUT, exchange)
        .await
        .map_err(|_| HaproxyError::Io { socket: socket.to_string(), reason: "timed out".to_string() })?
}

/// Writes one command line and reads the answer until HAProxy closes.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, line: &str) -> std::io::Result<String> {
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut answer = String::new();
    stream.take(MAX_ANSWER).read_to_string(&mut answer).await?;
    Ok(answer)
}

/// Sends a command whose success answer is empty or a known phrase.
async fn change(socket: &str, line: &str) -> Result<(), HaproxyError> {
    let answer = command(socket, line).await?;
    let text = answer.trim();
    let ok = text.is_empty() || text.starts_with("New server registered") || text.starts_with("Server deleted");
    if ok {
        Ok(())
    } else {
        Err(HaproxyError::Refused { command: line.to_string(), answer: text.to_string() })
    }
}

/// One server of the backend as `show stat` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStat {
    /// `UP`, `DOWN`, `DRAIN`, `MAINT`, `no check`…
    pub status: String,
    /// Current sessions.
    pub sessions: u64,
}

/// Parses `show stat` CSV into the servers of `backend`.
pub fn parse_stat(csv: &str, backend: &str) -> BTreeMap<String, ServerStat> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else { return BTreeMap::new() };
    let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(scur), Some(status)) = (at("pxname"), at("svname"), at("scur"), at("status")) else {
        return BTreeMap::new();
    };
    lines
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let name = *cells.get(sv)?;
            if *cells.get(px)? != backend || name == "BACKEND" || name == "FRONTEND" {
                return None;
            }
            let sessions = cells.get(scur).and_then(|s| s.parse().ok()).unwrap_or(0);
            Some((name.to_string(), ServerStat { status: cells.get(status)?.to_string(), sessions }))
        })
        .collect()
}

/// Brings the backend in line with the pool; errors are logged (the next
/// tick tries again).
pub async fn sync(manager: &Arc<PoolManager>, record: &PoolRecord, target: &HaproxyTarget) {
    if let Err(err) = try_sync(manager, record, target).await {
        tracing::warn!(pool = %record.spec.name, backend = %target.backend, error = %err, "HAProxy sync failed");
    }
}

async fn try_sync(manager: &Arc<PoolManager>, record: &PoolRecord, target: &HaproxyTarget) -> Result<(), HaproxyError> {
    let socket = target.socket.as_str();
    let backend = target.backend.as_str();
    let servers = parse_stat(&command(socket, "show stat").await?, backend);
    let mut wanted = BTreeMap::new();
    for unit in &record.units {
        let server = format!("{SERVER_PREFIX}{}", unit.id);
        match (unit.state, unit.address.as_deref()) {
            (UnitState::Ready, Some(address)) => {
                wanted.insert(server.clone(), ());
                match servers.get(&server) {
                    None => {
                        change(socket, &format!("add server {backend}/{server} {address}")).await?;
                        change(socket, &format!("enable server {backend}/{server}")).await?;
                        tracing::info!(pool = %record.spec.name, %server, %address, "HAProxy: server added");
                    }
                    Some(stat) if stat.status.starts_with("MAINT") || stat.status.starts_with("DRAIN") => {
                        change(socket, &format!("set server {backend}/{server} state ready")).await?;
                    }
                    Some(_) => {}
                }
            }
            (UnitState::Draining, _) => {
                wanted.insert(server.clone(), ());
                match servers.get(&server) {
                    None => drained(manager, record, &unit.id),
                    Some(stat) if stat.sessions == 0 => {
                        remove(socket, backend, &server).await?;
                        drained(manager, record, &unit.id);
                    }
                    Some(stat) if !stat.status.starts_with("DRAIN") && !stat.status.starts_with("MAINT") => {
                        change(socket, &format!("set server {backend}/{server} state drain")).await?;
                        tracing::info!(pool = %record.spec.name, %server, "HAProxy: server draining");
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    for (server, stat) in &servers {
        if server.starts_with(SERVER_PREFIX) && !wanted.contains_key(server) {
            if stat.sessions == 0 {
                remove(socket, backend, server).await?;
            } else if !stat.status.starts_with("DRAIN") {
                change(socket, &format!("set server {backend}/{server} state drain")).await?;
            }
        }
    }
    Ok(())
}

/// Takes a server out of the backend.
async fn remove(socket: &str, backend: &str, server: &str) -> Result<(), HaproxyError> {
    change(socket, &format!("set server {backend}/{server} state maint")).await?;
    change(socket, &format!("del server {backend}/{server}")).await?;
    tracing::info!(%backend, %server, "HAProxy: server removed");
    Ok(())
}

/// Records that a draining unit has no traffic left.
fn drained(manager: &Arc<PoolManager>, record: &PoolRecord, id: &str) {
    match manager.unit_drained(&record.spec.tenant, &record.spec.name, id, now_ns()) {
        Ok(Some(job)) => {
            let timeout = Duration::from_nanos(record.spec.unit_timeout.unsigned_abs());
            tokio::spawn(exec::run(Arc::clone(manager), job, timeout));
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(pool = %record.spec.name, unit = id, error = %err, "cannot release a drained unit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stat_is_read_per_backend() {
        let csv =
            "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n\
                   fe,FRONTEND,,,0,1,,,,,,,,,,,,OPEN\n\
                   web,augur_u000001,0,0,2,3,,,,,,,,,,,,UP\n\
                   web,augur_u000002,0,0,0,1,,,,,,,,,,,,DRAIN\n\
                   web,static1,0,0,0,0,,,,,,,,,,,,no check\n\
                   web,BACKEND,0,0,2,3,,,,,,,,,,,,UP\n\
                   other,augur_u000009,0,0,0,0,,,,,,,,,,,,UP\n";
        let servers = parse_stat(csv, "web");
        assert_eq!(servers.len(), 3);
        assert_eq!(servers["augur_u000001"], ServerStat { status: "UP".into(), sessions: 2 });
        assert_eq!(servers["augur_u000002"].status, "DRAIN");
        assert!(parse_stat("", "web").is_empty());
        assert!(parse_stat("garbage\nmore", "web").is_empty());
    }
}

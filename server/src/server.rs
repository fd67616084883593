//! The server's lifecycle: open the store, bind, serve, shut down cleanly.
//!
//! [`Server::bind`] does everything that can fail at startup (open the
//! store, replay the WAL, bind the socket) so the binary can announce the
//! bound address only once the server is really ready. [`Server::run`]
//! serves until the shutdown future resolves, then stops accepting, lets
//! in-flight requests finish (bounded by `http.shutdown_timeout`), stops the
//! retention task, the continuous query scheduler and webhook delivery, and
//! flushes the store so the next start replays nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use augur_engine::storage::{StorageError, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{Accounts, AuditLog, Auth};
use crate::config::{Config, ENV_ADMIN_TOKEN};
use crate::http::{self, AppState};
use crate::listener::{LimitedListener, PeerAddr};
use crate::monitor::internal::InternalWriter;
use crate::monitor::{Metrics, Monitor, Sources};
use crate::pools::events::EventSink;
use crate::pools::manager::{PoolError, PoolManager};
use crate::tls::TlsListener;
use crate::webhooks::Webhooks;
use crate::{cq, retention};

/// The multi-threaded async runtime a server runs on, its threads (async
/// workers and the blocking pool, where queries run) with
/// [`augur_query::QUERY_STACK_BYTES`] of stack: a query nested as deep as
/// the parser allows must not overflow a thread and abort the server.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(augur_query::QUERY_STACK_BYTES).build()
}
/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened (or created) in the data directory.
    #[error("cannot open the store in {path}")]
    OpenStore {
        /// The data directory.
        path: PathBuf,
        /// Why.
        source: StorageError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be flushed at shutdown (the WAL still holds the
    /// data; the next start replays it).
    #[error("cannot flush the store at shutdown: {0}")]
    Flush(StorageError),
    /// The accounts could not be loaded or the first admin created.
    #[error("cannot set up accounts: {0}")]
    Accounts(#[from] crate::auth::AccountError),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The pools could not be loaded or a configured pool applied.
    #[error("cannot set up pools: {0}")]
    Pools(#[from] crate::pools::manager::PoolError),
    /// The webhook outbox could not be opened.
    #[error("cannot open the webhook outbox: {0}")]
    Webhooks(#[from] crate::webhooks::WebhookError),
    /// A background task panicked.
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// A server that has opened its store and bound its socket.
pub struct Server {
    config: Config,
    store: Store,
    listener: TcpListener,
    auth: Arc<Auth>,
    /// The TLS configuration when `--tls-cert`/`--tls-key` are given.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The webhook outbox and subscriptions.
    webhooks: Arc<Webhooks>,
}

impl Server {
    /// Opens the store (replaying the WAL), reports damage found while
    /// recovering, and binds the listen address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let path = config.data_dir.clone();
        let options = config.store_options();
        tracing::info!(data_dir = %path.display(), "opening store");
        let open_path = path.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&open_path, options))
            .await?
            .map_err(|source| ServerError::OpenStore { path, source })?;
        for damage in store.recovery_damage() {
            tracing::error!(
                kind = damage.kind,
                wal_record = damage.position,
                reason = %damage.reason,
                "WAL record damaged: skipped during recovery (its points are lost)"
            );
        }
        let tls = match &config.tls {
            Some(paths) => Some(crate::tls::server_config(&paths.cert, &paths.key)?),
            None => None,
        };
        let auth = open_accounts(&store, &config).await?;
        let webhooks = {
            let (store, config) = (store.clone(), config.webhooks.clone());
            Arc::new(tokio::task::spawn_blocking(move || Webhooks::new(store, config)).await??)
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        Ok(Server { config, store, listener, auth, tls, webhooks })
    }

    /// The address actually bound (with the real port when `:0` was asked).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { config, store, listener, auth, tls, webhooks } = self;
        let addr = listener.local_addr().ok();
        let (stop_tx, stop_rx) = watch::channel(false);

        let retention_task = retention::spawn(store.clone(), config.storage.retention_check_interval, stop_rx.clone());
        if !augur_engine::forecast::pool::configure_global(config.forecast.workers) {
            tracing::warn!("the forecast worker pool was already started; forecast.workers not applied");
        }
        if !augur_engine::forecast::cache::configure_global(config.forecast.cache_models) {
            tracing::warn!("the forecast model cache was already in use; forecast.cache_models not applied");
        }
        let metrics = Arc::new(Metrics::new());
        let mut continuous = config.forecast.continuous();
        continuous.policy.anomaly = config.anomaly.detector();
        let notices = Arc::new(cq::NoticeSink::new(Arc::clone(&webhooks), Some(Arc::clone(&auth.accounts))));
        let cq_task = cq::spawn(
            store.clone(),
            config.continuous_queries.clone(),
            continuous,
            Arc::clone(&metrics),
            Some(notices),
            stop_rx.clone(),
        );

        let webhooks_task = webhooks.start(stop_rx.clone());
        let pools = open_pools(&store, &config, Arc::clone(&webhooks)).await?;
        let sources = Sources {
            store: store.clone(),
            auth: Some(Arc::clone(&auth)),
            pools: Some(Arc::clone(&pools)),
            webhooks: Some(Arc::clone(&webhooks)),
        };
        let monitor = Monitor::new(Arc::clone(&metrics), sources);
        let internal = {
            let (monitor, settings) = (monitor.clone(), config.monitor.clone());
            Arc::new(
                tokio::task::spawn_blocking(move || InternalWriter::open(monitor, settings))
                    .await?
                    .map_err(|source| ServerError::OpenStore { path: config.data_dir.clone(), source })?,
            )
        };
        let monitor_task = Arc::clone(&internal).spawn(stop_rx.clone());
        let pool_task = crate::pools::runner::spawn(Arc::clone(&pools), Some(internal), stop_rx.clone());

        let state = Arc::new(
            AppState::new(store.clone(), &config.http)
                .with_query(&config.query)
                .with_auth(auth)
                .with_pools(Arc::clone(&pools))
                .with_webhooks(webhooks)
                .with_monitor(monitor),
        );
        let app = http::router(state);
        let listener = LimitedListener::new(listener, config.http.max_connections);
        let graceful_rx = stop_rx.clone();
        let mut serve_task = match &tls {
            Some(tls_config) => {
                let listener = TlsListener::new(listener, Arc::clone(tls_config))
                    .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
                tracing::info!(?addr, "serving HTTPS (HTTP/1.1 and HTTP/2)");
                spawn_serve(listener, app, graceful_rx)
            }
            None => {
                tracing::info!(?addr, "serving HTTP");
                spawn_serve(listener, app, graceful_rx)
            }
        };

        tokio::select! {
            result = &mut serve_task => {
                // axum's serve loop only ends after a shutdown signal.
                tracing::error!(?result, "HTTP server stopped unexpectedly");
            }
            () = shutdown => {
                tracing::info!("shutting down: no new connections, waiting for in-flight requests");
                let _ = stop_tx.send(true);
                match tokio::time::timeout(config.http.shutdown_timeout, &mut serve_task).await {
                    Ok(_) => tracing::info!("in-flight requests finished"),
                    Err(_) => {
                        tracing::warn!(
                            timeout = ?config.http.shutdown_timeout,
                            "in-flight requests did not finish in time: closing their connections"
                        );
                        serve_task.abort();
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        retention_task.await?;
        // A continuous query run in progress finishes (and stores its watermark) first.
        cq_task.await?;
        // A pool cycle in progress finishes (and is stored) first.
        pool_task.await?;
        // So do the `exec` commands running (bounded): none is killed half way.
        if !pools.exec_in_flight().drained(config.http.shutdown_timeout).await {
            tracing::warn!(
                timeout = ?config.http.shutdown_timeout,
                "exec commands still running at shutdown: stops run again, starts are undone, after the restart"
            );
        }
        // Deliveries in flight are abandoned (sent again after the restart).
        webhooks_task.await?;
        monitor_task.await?;

        tracing::info!("flushing the store");
        tokio::task::spawn_blocking(move || store.flush()).await?.map_err(ServerError::Flush)?;
        tracing::info!("store flushed; shutdown complete");
        Ok(())
    }
}

/// Loads the pools and applies the ones defined in the configuration file
/// (created when missing, replaced when their definition changed).
async fn open_pools(store: &Store, config: &Config, webhooks: Arc<Webhooks>) -> Result<Arc<PoolManager>, ServerError> {
    let store = store.clone();
    let settings = config.pools.clone();
    tokio::task::spawn_blocking(move || {
        // Pool changes and their events go through the webhook outbox, in one batch.
        let sink: Arc<dyn EventSink> = webhooks;
        let manager =
            PoolManager::open(store, sink, settings.max_per_tenant)?.with_exec_concurrency(settings.exec_concurrency);
        let now = crate::clock::now_ns();
        // Quotas first, so the pools below are created under them; a quota
        // below pools' `min` units may need the pools' new definitions
        // first, so one refused now is tried again after them.
        let mut deferred = Vec::new();
        for (tenant, quota) in &settings.quotas {
            if manager.quota(tenant).is_none_or(|v| v.quota != *quota)
                && manager.set_quota(tenant, quota.clone(), now).is_err()
            {
                deferred.push((tenant, quota));
            }
        }
        for spec in settings.defined {
            match manager.get(&spec.tenant, &spec.name) {
                None => {
                    manager.create(spec, now)?;
                }
                Some(existing) if existing.spec != spec => {
                    manager.replace(spec, now)?;
                }
                Some(_) => {}
            }
        }
        for (tenant, quota) in deferred {
            manager.set_quota(tenant, quota.clone(), now).map_err(|e| match e {
                PoolError::InvalidQuota(mut e) => {
                    e.field = format!("pools.quotas.{tenant}.{}", e.field);
                    PoolError::InvalidQuota(e)
                }
                other => other,
            })?;
        }
        Ok(Arc::new(manager))
    })
    .await?
}

/// Loads the accounts; on first start (no admin yet) creates the admin and
/// shows its token once on stderr, unless `AUGUR_ADMIN_TOKEN` supplied it.
/// With authentication off (`augur demo`, local trials) an unseeded admin
/// waits for the first start with it on: a token nobody needs yet is noise,
/// and shown then it is shown when it matters.
async fn open_accounts(store: &Store, config: &Config) -> Result<Arc<Auth>, ServerError> {
    let store = store.clone();
    let seeded = std::env::var(ENV_ADMIN_TOKEN).ok().filter(|t| !t.trim().is_empty());
    let auth_config = config.auth.clone();
    tokio::task::spawn_blocking(move || {
        let accounts = Accounts::open(store.clone())?;
        let bootstrap = auth_config.enabled || seeded.is_some();
        if !bootstrap {
            tracing::debug!("authentication is off: the first admin is made at the first start with it on");
        } else if let Some(token) = accounts.bootstrap(seeded.as_deref())? {
            if seeded.is_some() {
                tracing::info!("created the first admin user 'admin' with the token from {ENV_ADMIN_TOKEN}");
            } else {
                // Not through tracing: log filters must not hide it, and it
                // must not end up in structured logs shipped elsewhere.
                eprintln!(
                    "augur: created the first admin user 'admin'. Its API token, shown only this once:\n\n    {token}\n\n\
                     Use it as `Authorization: Token <token>` (or set {ENV_ADMIN_TOKEN} before the first start)."
                );
            }
        } else if seeded.is_some() && accounts.authenticate_token(seeded.as_deref().unwrap_or_default()).is_err() {
            tracing::warn!("{ENV_ADMIN_TOKEN} is ignored: users exist already (it only seeds the first admin)");
        }
        if !auth_config.enabled {
            tracing::warn!("authentication is OFF (local trial only): every request is trusted");
        }
        let audit = AuditLog::new(store);
        Ok(Arc::new(Auth::new(auth_config, Arc::new(accounts), audit)))
    })
    .await?
}

/// Serves `app` on `listener` in a task until `stop` turns true.
fn spawn_serve<L>(
    listener: L,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> PeerAddr: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let app = app.into_make_service_with_connect_info::<PeerAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        // Err only if the sender is gone, which also means "stop".
        let _ = stop.wait_for(|stop| *stop).await;
    });
    tokio::spawn(async move { serve.await })
}

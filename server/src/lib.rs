//! `augur-server`: the `augur` binary's library — configuration, the server
//! lifecycle and the HTTP API.
//!
//! * [`cli`]: the command line (clap).
//! * [`config`]: flags, environment and file combined, validated.
//! * [`server`]: open the store, bind, serve, shut down gracefully.
//! * [`listener`]: the connection limit and accept back-off.
//! * [`shutdown`]: SIGTERM / SIGINT.
//! * [`retention`]: the background retention task.
//! * [`cq`]: the continuous query scheduler.
//! * [`http`]: the InfluxDB 1.x-compatible HTTP API (every route in
//!   [`http::routes`]).
//! * [`webhooks`]: the event outbox and signed CloudEvents delivery.
//! * [`monitor`]: `/metrics` and the `_internal` database.
//! * [`demo`]: `augur demo`, the whole loop on real traces in a minute.
//!
//! The library never panics on input and reports errors as `thiserror`
//! enums; `anyhow` is used only by `main`.

pub mod auth;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod cq;
pub mod demo;
pub mod hangup;
pub mod http;
pub mod listener;
pub mod monitor;
pub mod pools;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod webhooks;

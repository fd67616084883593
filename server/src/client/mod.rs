//! The client subcommands: `augur import`, `augur export`, `augur query`.
//!
//! They talk to a running server over its public HTTP API only (the same
//! `/write`, `/query` and `/api/v1/export` any InfluxDB client uses), so they
//! work against a remote server and exercise exactly what users do. One
//! module per subcommand; [`http`] holds the shared connection and the
//! mapping of transport and status errors to readable messages; [`table`]
//! renders query results.

pub mod export;
pub mod http;
pub mod import;
pub mod query;
pub mod table;

/// An error of a client subcommand: one readable message for the user.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or answered with an error.
    #[error("{0}")]
    Server(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Bad input or arguments.
    #[error("{0}")]
    Input(String),
}

impl ClientError {
    /// A file error for `path`.
    pub fn file(path: impl std::fmt::Display, source: std::io::Error) -> ClientError {
        ClientError::File { path: path.to_string(), source }
    }
}

/// Result of the client subcommands.
pub type Result<T> = std::result::Result<T, ClientError>;

//! `augur-engine`: Augur's storage engine.
//!
//! * [`model`]: points, series keys, field types (InfluxDB 1.x data model).
//! * [`lineproto`]: the InfluxDB line-protocol parser.
//! * [`remote_write`]: the Prometheus remote_write 1.0 decoder (snappy + protobuf → points).
//! * [`codec`]: our own column codecs (Gorilla, decimal/ALP, integers, booleans, strings).
//! * [`block`]: the versioned, checksummed columnar block format.
//! * [`forecast`]: forecasting models (naive, seasonal, ETS, MSTL, ARIMA, LSTM, ensembles) with prediction bands.
//! * [`storage`]: RocksDB layout, WAL, head, sealing, recovery, retention, index and the read API.
//!
//! The engine knows nothing about HTTP; the query crate builds on [`storage::Store`].

pub mod block;
pub mod codec;
pub mod forecast;
pub mod lineproto;
pub mod model;
pub mod remote_write;
pub mod storage;
pub mod write_rows;

//! The few protobuf messages of Prometheus remote_write 1.0, derived by hand.
//!
//! They mirror `prometheus/prompb/remote.proto` and `types.proto` (package
//! `prometheus`) field number by field number, so no `protoc` or build script
//! is needed. Only what Augur reads is declared; prost skips the rest of the
//! wire (request `metadata` = 3, series `exemplars` = 3), which is how the
//! spec asks receivers to treat fields they do not use.
//!
//! Label names and values are declared as `bytes` although the schema says
//! `string`: prost would reject the *whole request* on one invalid UTF-8
//! label, and remote_write's partial-write semantics want only that series
//! refused, by index. The mapping checks UTF-8 per label instead.

/// `prometheus.WriteRequest`: the body of one remote_write request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: one labelled series and some of its samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histograms (`prometheus.Histogram`), kept undecoded: Augur
    /// refuses them by series (see the module documentation of
    /// [`super`]), so only their number matters.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// The label name (UTF-8 on a well-behaved sender).
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    /// The label value (UTF-8 on a well-behaved sender).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `prometheus.Sample`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

impl Label {
    /// A label from text.
    pub fn new(name: &str, value: &str) -> Label {
        Label { name: name.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
    }
}

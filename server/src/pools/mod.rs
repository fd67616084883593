//! The resource-pool manager: capacity ready before demand arrives.
//!
//! * [`spec`]: a pool's definition and its validation.
//! * [`mix`]: the cheapest mix of unit shapes covering a demand vector.
//! * [`allocator`]: one allocation decision, a pure function the manager
//!   and the replay simulator share.
//! * [`fairness`]: weighted dominant-resource fairness with quotas, for
//!   sharing a pool under shortage.
//! * [`simulate`]: `augur simulate`, the replay simulator that compares
//!   the predictive, reactive and oracle policies on a demand trace.

pub mod allocator;
pub mod fairness;
pub mod mix;
pub mod simulate;
pub mod spec;

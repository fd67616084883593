//! The resource-pool manager: capacity ready before demand arrives.
//!
//! * [`spec`]: a pool's definition and its validation.
//! * [`mix`]: the cheapest mix of unit shapes covering a demand vector.
//! * [`demand`]: a dimension's usage and forecast from its AQL query.
//! * [`allocator`]: one allocation decision, a pure function the manager
//!   and the replay simulator share.
//! * [`fairness`]: weighted dominant-resource fairness with quotas, for
//!   sharing a pool under shortage.
//! * [`units`]: the unit lifecycle.
//! * [`events`]: pool events and the sink that stores them with the change.
//! * [`manager`]: every pool, its cycle, its units, durably.
//! * [`plan`]: long-term capacity planning from forecast daily peaks.
//! * [`quota`]: tenant capacity quotas, shared among the tenant's pools.
//! * [`reservations`]: per-account reservations, shared fairly under shortage.
//! * [`runner`]: the background task that drives the pools.
//! * [`exec`]: the built-in provider that runs a command per unit.
//! * [`haproxy`]: keeps a HAProxy backend equal to the ready units.
//! * [`simulate`]: `augur simulate`, the replay simulator that compares
//!   the predictive, reactive and oracle policies on a demand trace.

pub mod allocator;
pub mod demand;
pub mod events;
pub mod exec;
pub mod fairness;
pub mod haproxy;
pub mod manager;
pub mod mix;
pub mod plan;
pub mod quota;
pub mod reservations;
pub mod runner;
pub mod simulate;
pub mod spec;
pub mod units;

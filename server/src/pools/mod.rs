//! The resource-pool manager: capacity ready before demand arrives.
//!
//! * [`spec`]: a pool's definition and its validation.
//! * [`mix`]: the cheapest mix of unit shapes covering a demand vector.
//! * [`allocator`]: one allocation decision, a pure function the manager
//!   and the replay simulator share.

pub mod allocator;
pub mod mix;
pub mod spec;

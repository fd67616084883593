//! A pool's units and their lifecycle:
//! `requested → provisioning → ready → draining → released`.
//!
//! Why explicit states with checked transitions: the infrastructure
//! reports readiness asynchronously (webhook consumers, `exec` commands)
//! and a report can arrive late, twice, or for a unit already released; a
//! transition that is not allowed is refused with the state it was in, so
//! a late "ready" cannot resurrect a released unit. Units that are
//! requested, provisioning or ready count as capacity; draining units do
//! not (they are leaving).

use serde::{Deserialize, Serialize};

/// Where a unit is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Asked for; nobody has started it yet.
    Requested,
    /// Being started (the request went out).
    Provisioning,
    /// Serving; routed by the load balancer.
    Ready,
    /// Leaving: no new traffic, in-flight requests finish.
    Draining,
    /// Gone.
    Released,
}

impl UnitState {
    /// Every state, in lifecycle order.
    pub const ALL: [UnitState; 5] =
        [UnitState::Requested, UnitState::Provisioning, UnitState::Ready, UnitState::Draining, UnitState::Released];

    /// The state's name (`ready`).
    pub fn name(self) -> &'static str {
        match self {
            UnitState::Requested => "requested",
            UnitState::Provisioning => "provisioning",
            UnitState::Ready => "ready",
            UnitState::Draining => "draining",
            UnitState::Released => "released",
        }
    }

    /// Whether a unit in this state counts as the pool's capacity.
    pub fn is_active(self) -> bool {
        matches!(self, UnitState::Requested | UnitState::Provisioning | UnitState::Ready)
    }

    /// Whether the unit has not become ready yet.
    pub fn is_pending(self) -> bool {
        matches!(self, UnitState::Requested | UnitState::Provisioning)
    }
}

/// One unit of a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Unique within the pool (`u000017`).
    pub id: String,
    /// The shape's name.
    pub shape: String,
    /// Where it is in its life.
    pub state: UnitState,
    /// When it was requested (ns).
    pub requested_at: i64,
    /// When it became ready (ns).
    #[serde(default)]
    pub ready_at: Option<i64>,
    /// When it started draining (ns).
    #[serde(default)]
    pub draining_at: Option<i64>,
    /// When it was released (ns).
    #[serde(default)]
    pub released_at: Option<i64>,
    /// Where it serves (`host:port`), once ready.
    #[serde(default)]
    pub address: Option<String>,
    /// Why it is in its state, when that is worth saying (`timed out`).
    #[serde(default)]
    pub note: Option<String>,
}

/// A transition that is not allowed from the unit's state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unit {id} is {from}, it cannot become {to}")]
pub struct TransitionError {
    /// The unit.
    pub id: String,
    /// Its state.
    pub from: &'static str,
    /// The state asked for.
    pub to: &'static str,
}

impl Unit {
    /// A unit just requested.
    pub fn requested(id: String, shape: String, now: i64) -> Unit {
        Unit {
            id,
            shape,
            state: UnitState::Requested,
            requested_at: now,
            ready_at: None,
            draining_at: None,
            released_at: None,
            address: None,
            note: None,
        }
    }

    fn refuse(&self, to: UnitState) -> TransitionError {
        TransitionError { id: self.id.clone(), from: self.state.name(), to: to.name() }
    }

    /// The request went out (a webhook, an `exec` start).
    pub fn provisioning(&mut self) -> Result<(), TransitionError> {
        match self.state {
            UnitState::Requested => {
                self.state = UnitState::Provisioning;
                Ok(())
            }
            UnitState::Provisioning => Ok(()),
            _ => Err(self.refuse(UnitState::Provisioning)),
        }
    }

    /// The unit serves at `address`. Idempotent for the same address.
    pub fn ready(&mut self, address: String, now: i64) -> Result<(), TransitionError> {
        match self.state {
            UnitState::Requested | UnitState::Provisioning => {
                self.state = UnitState::Ready;
                self.ready_at = Some(now);
                self.address = Some(address);
                Ok(())
            }
            UnitState::Ready if self.address.as_deref() == Some(address.as_str()) => Ok(()),
            _ => Err(self.refuse(UnitState::Ready)),
        }
    }

    /// Starts leaving: a ready unit drains, a pending one is released at
    /// once (there is nothing to drain).
    pub fn release(&mut self, now: i64, note: Option<String>) -> Result<(), TransitionError> {
        match self.state {
            UnitState::Ready => {
                self.state = UnitState::Draining;
                self.draining_at = Some(now);
            }
            UnitState::Requested | UnitState::Provisioning => {
                self.state = UnitState::Released;
                self.released_at = Some(now);
            }
            _ => return Err(self.refuse(UnitState::Draining)),
        }
        if note.is_some() {
            self.note = note;
        }
        Ok(())
    }

    /// Drained: gone.
    pub fn drained(&mut self, now: i64) -> Result<(), TransitionError> {
        match self.state {
            UnitState::Draining => {
                self.state = UnitState::Released;
                self.released_at = Some(now);
                Ok(())
            }
            UnitState::Released => Ok(()),
            _ => Err(self.refuse(UnitState::Released)),
        }
    }

    /// Whether it has waited longer than `timeout` to become ready.
    pub fn timed_out(&self, now: i64, timeout: i64) -> bool {
        self.state.is_pending() && now - self.requested_at > timeout
    }
}

/// Whether `address` is a plausible `host:port` a unit can serve at.
pub fn valid_address(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else { return false };
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':'))
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_in_order() {
        let mut u = Unit::requested("u1".into(), "small".into(), 0);
        assert!(u.state.is_active());
        u.provisioning().expect("provisioning");
        u.ready("10.0.0.1:8080".into(), 5).expect("ready");
        u.ready("10.0.0.1:8080".into(), 6).expect("a repeated report is fine");
        assert_eq!(u.ready_at, Some(5));
        u.release(10, None).expect("drain");
        assert_eq!(u.state, UnitState::Draining);
        assert!(!u.state.is_active());
        u.drained(12).expect("released");
        assert_eq!((u.state, u.released_at), (UnitState::Released, Some(12)));
    }

    #[test]
    fn late_reports_cannot_resurrect_a_unit() {
        let mut u = Unit::requested("u1".into(), "small".into(), 0);
        u.release(1, Some("timed out".into())).expect("a pending unit is released at once");
        assert_eq!(u.state, UnitState::Released);
        let err = u.ready("10.0.0.1:80".into(), 2).expect_err("released");
        assert_eq!(err.to_string(), "unit u1 is released, it cannot become ready");
        let mut u = Unit::requested("u2".into(), "small".into(), 0);
        u.ready("10.0.0.1:80".into(), 1).expect("ready");
        assert!(u.ready("10.0.0.2:80".into(), 2).is_err(), "a different address is a different unit");
        assert!(u.drained(3).is_err(), "a ready unit drains first");
    }

    #[test]
    fn timeouts_and_addresses() {
        let u = Unit::requested("u1".into(), "small".into(), 0);
        assert!(!u.timed_out(10, 10));
        assert!(u.timed_out(11, 10));
        assert!(valid_address("127.0.0.1:8080"));
        assert!(valid_address("web-3.internal:443"));
        assert!(!valid_address("127.0.0.1"));
        assert!(!valid_address("127.0.0.1:0"));
        assert!(!valid_address("bad host:80"));
    }
}

//! The simulated fleet: units that take `lead_time` to become ready.
//!
//! A unit requested at `t` is billed from `t` (clouds bill a machine from
//! launch) but counts as supply only from `t + lead_time`, the provisioning
//! delay. A released unit goes at once: a unit still provisioning is
//! cancelled first (the newest first), then ready units are drained.

use std::collections::VecDeque;

/// Units by state, on a simulated clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    lead_time: i64,
    ready: u32,
    /// `(ready_at, units)`, oldest request first.
    pending: VecDeque<(i64, u32)>,
}

impl Fleet {
    /// A fleet of `ready` units whose requests take `lead_time` ns.
    pub fn new(ready: u32, lead_time: i64) -> Fleet {
        Fleet { lead_time: lead_time.max(0), ready, pending: VecDeque::new() }
    }

    /// Moves the units whose provisioning is over by `now` to ready.
    pub fn advance(&mut self, now: i64) {
        while let Some((at, n)) = self.pending.front().copied() {
            if at > now {
                break;
            }
            self.ready += n;
            self.pending.pop_front();
        }
    }

    /// Requests `n` units at `now`; they are ready at `now + lead_time`.
    pub fn request(&mut self, n: u32, now: i64) {
        if n > 0 {
            self.pending.push_back((now.saturating_add(self.lead_time), n));
        }
    }

    /// Releases `n` units at once: provisioning ones first, newest first.
    pub fn release(&mut self, mut n: u32) {
        while n > 0 {
            let Some(last) = self.pending.back_mut() else { break };
            let take = last.1.min(n);
            last.1 -= take;
            n -= take;
            if last.1 == 0 {
                self.pending.pop_back();
            }
        }
        self.ready = self.ready.saturating_sub(n);
    }

    /// Units that are ready (the supply).
    pub fn ready(&self) -> u32 {
        self.ready
    }

    /// Units requested but not ready yet.
    pub fn provisioning(&self) -> u32 {
        self.pending.iter().map(|(_, n)| n).sum()
    }

    /// Units billed and counted by the allocator: ready plus provisioning.
    pub fn active(&self) -> u32 {
        self.ready + self.provisioning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn units_become_ready_after_the_lead_time() {
        let mut f = Fleet::new(2, 5 * MIN);
        f.request(3, 0);
        assert_eq!((f.ready(), f.provisioning(), f.active()), (2, 3, 5));
        f.advance(4 * MIN);
        assert_eq!(f.ready(), 2, "not ready one minute early");
        f.request(1, 4 * MIN);
        f.advance(5 * MIN);
        assert_eq!((f.ready(), f.provisioning()), (5, 1));
        f.advance(9 * MIN);
        assert_eq!((f.ready(), f.provisioning()), (6, 0));
    }

    #[test]
    fn release_cancels_provisioning_units_first() {
        let mut f = Fleet::new(4, 5 * MIN);
        f.request(2, 0);
        f.request(1, MIN);
        f.release(2);
        assert_eq!((f.ready(), f.provisioning()), (4, 1), "the newest request goes first");
        f.release(3);
        assert_eq!((f.ready(), f.provisioning()), (2, 0));
        f.release(10);
        assert_eq!(f.active(), 0);
    }

    #[test]
    fn zero_lead_time_is_immediate() {
        let mut f = Fleet::new(0, 0);
        f.request(2, 7);
        f.advance(7);
        assert_eq!(f.ready(), 2);
    }
}

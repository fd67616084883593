//! Periodic bursts: finds bursts that come back at a steady cadence (a batch
//! job every two hours, a backup, a cron-driven export) and says when the
//! next one is due and how high it goes.
//!
//! Why a detector of its own: the seasonal models learn a profile per phase
//! of an integer period on a fixed grid. A one-step burst whose period is
//! not a whole number of steps (every 23.5 five-minute steps: a job every
//! 117.5 minutes, or a 2-hour job on a clock that drifts against the
//! grid) lands one phase early every other cycle, so a per-phase profile
//! smears it into a small bump, and a burst on a quiet level is winsorized
//! away before season detection even sees it. The bands then cover the
//! bursts by widening everywhere, and a pool pays for burst capacity at
//! every step, or is short at every burst. NAB's `grok_asg_anomaly`, after
//! its level falls, shows this: a one-step burst every 22–25 steps, each
//! one missed by a 95% band that holds three times the quiet level all day.
//!
//! Method, on the latest [`WINDOW`] points:
//! 1. A point is *bursting* when it exceeds the median of the
//!    [`BASELINE`] points before it by more than a threshold: 5 × the
//!    robust spread of the window's first differences, and at least
//!    [`MIN_RISE`] of the window's range (a flat series' noise is no
//!    burst). A burst's *onset* is a bursting point after a quiet one. A
//!    burst must fall back: within [`RETURN_STEPS`] after its run the
//!    series is within half the threshold of its baseline again, so the
//!    daily rise of a seasonal series (it stays up for hours: the seasonal
//!    models' job) or a level shift is not taken for a burst.
//! 2. Candidate periods are the intervals between recent onsets, from
//!    [`MIN_PERIOD`] steps. A candidate `p` holds from an anchor onset when
//!    a chain of [`CYCLES`] earlier onsets lies behind it, each within
//!    ±tol of `p` before the previous link (a chain, not multiples of `p`,
//!    so a period that is not a whole number of steps does not drift out
//!    of the window), with `tol = max(1, p/20)`. Extra bursts between the
//!    links do not break it; the anchor may be one of the last three
//!    onsets, so a stray burst after the cadence does not hide it.
//! 3. The period is the chain's mean interval; the next burst is due at
//!    the first `anchor + m·period` (m = 1 or 2: one missed burst is
//!    forgiven, two end the cadence) that is not over, ± (tol + ½) steps;
//!    its height is the highest burst in the chain.
//!
//! A random burst process rarely builds such a chain: at one onset every
//! 28 steps (`ec2_cpu_utilization_77c1ca`'s rate), four windows of three
//! steps each all hit with probability about 10⁻⁴ per anchor and period.

use super::prep::median_in_place;

/// Points the detector looks back over (a week of 5-minute points holds
/// 2,016; periods longer than a fifth of the window cannot build a chain).
pub const WINDOW: usize = 1024;

/// Points before a point whose median is its baseline.
pub const BASELINE: usize = 8;

/// Links a cadence must have behind its anchor (earlier bursts, each one
/// period before the next).
pub const CYCLES: usize = 4;

/// Most links a chain follows back: more average the period's rounding
/// out, fewer follow a period that changes.
pub const MAX_LINKS: usize = 8;

/// Shortest period, in steps: faster "bursts" are the series' noise.
pub const MIN_PERIOD: usize = 4;

/// A burst must rise by at least this share of the window's range
/// (1st to 99th percentile).
pub const MIN_RISE: f64 = 0.05;

/// Steps after a burst's run within which the series must be back near
/// the level the burst rose from.
pub const RETURN_STEPS: usize = 2;

/// Robust spreads above the baseline that make a point bursting.
const SPREADS: f64 = 5.0;

/// The burst a cadence says is due next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// Mean steps between bursts.
    pub period: f64,
    /// Steps after the last point of the history where the next burst is
    /// due, first and last (1 = the next step).
    pub due: (usize, usize),
    /// The highest burst seen in the cadence (the series' units).
    pub height: f64,
    /// Bursts in the chain that established it (the anchor included; at
    /// least [`CYCLES`] + 1).
    pub bursts: usize,
}

impl Cadence {
    /// Whether the next burst may land in steps `first..=last` after the
    /// history's last point.
    pub fn due_within(&self, first: usize, last: usize) -> bool {
        self.due.0 <= last && first <= self.due.1
    }
}

/// One burst: where it started and the highest point of its run.
#[derive(Debug, Clone, Copy)]
struct Burst {
    onset: usize,
    height: f64,
}

/// The cadence of `history`'s bursts (oldest first, `NaN` = gap), when its
/// latest bursts come at a steady period; `None` otherwise.
pub fn detect(history: &[f64]) -> Option<Cadence> {
    let x = &history[history.len().saturating_sub(WINDOW)..];
    let bursts = bursts(x)?;
    if bursts.len() < CYCLES + 1 {
        return None;
    }
    let mut periods: Vec<usize> = bursts
        .windows(2)
        .rev()
        .take(2 * CYCLES)
        .map(|w| w[1].onset - w[0].onset)
        .filter(|p| *p >= MIN_PERIOD)
        .collect();
    periods.sort_unstable();
    periods.dedup();
    let n = x.len();
    for anchor in (bursts.len().saturating_sub(3)..bursts.len()).rev() {
        for &p in &periods {
            let Some(chain) = chain_from(&bursts, anchor, p) else { continue };
            let links = chain.len() - 1;
            let a = bursts[anchor].onset;
            let period = (a - bursts[chain[links]].onset) as f64 / links as f64;
            let tol = tolerance(p) as f64 + 0.5;
            // The first due time whose window is not over yet.
            let Some(m) = (1..=2).find(|m| a as f64 + *m as f64 * period + tol >= n as f64) else { continue };
            let centre = a as f64 + m as f64 * period;
            // Steps after the last point: index n is step 1.
            let lo = (centre - tol).ceil().max(n as f64) as usize + 1 - n;
            let hi = (centre + tol).floor() as usize + 1 - n;
            let height = chain.iter().map(|&i| bursts[i].height).fold(f64::NEG_INFINITY, f64::max);
            return Some(Cadence { period, due: (lo, hi.max(lo)), height, bursts: chain.len() });
        }
    }
    None
}

/// How far from a period of `p` steps a burst may land and still count.
fn tolerance(p: usize) -> usize {
    (p / 20).max(1)
}

/// Indices (into `bursts`) of the chain behind `anchor` at period `p`,
/// the anchor first: at least [`CYCLES`] links (`None` with fewer), and up
/// to [`MAX_LINKS`], whose mean interval is the period.
fn chain_from(bursts: &[Burst], anchor: usize, p: usize) -> Option<Vec<usize>> {
    let tol = tolerance(p);
    let mut chain = vec![anchor];
    let mut at = bursts[anchor].onset;
    let mut i = anchor;
    while chain.len() <= MAX_LINKS {
        let Some(target) = at.checked_sub(p) else { break };
        // The link closest to one period back, among earlier bursts.
        let Some(link) = (0..i)
            .rev()
            .take_while(|&j| bursts[j].onset + tol + p >= at)
            .filter(|&j| bursts[j].onset.abs_diff(target) <= tol)
            .min_by_key(|&j| bursts[j].onset.abs_diff(target))
        else {
            break;
        };
        chain.push(link);
        at = bursts[link].onset;
        i = link;
    }
    (chain.len() > CYCLES).then_some(chain)
}

/// The bursts of `x`, oldest first (`None`: too few points or no spread).
fn bursts(x: &[f64]) -> Option<Vec<Burst>> {
    if x.len() < BASELINE + MIN_PERIOD * (CYCLES + 1) {
        return None;
    }
    let mut scratch: Vec<f64> = x.windows(2).map(|w| (w[1] - w[0]).abs()).filter(|d| d.is_finite()).collect();
    let spread = 1.4826 * median_in_place(&mut scratch);
    scratch.clear();
    scratch.extend(x.iter().copied().filter(|v| v.is_finite()));
    if scratch.len() < BASELINE + 2 {
        return None;
    }
    // The 1st and 99th percentiles by selection (no full sort: this runs
    // at every decision of a replay).
    let at = |q: f64| ((scratch.len() - 1) as f64 * q).round() as usize;
    let (low, high) = (at(0.01), at(0.99));
    let top = *scratch.select_nth_unstable_by(high, f64::total_cmp).1;
    let bottom = if low < high { *scratch[..high].select_nth_unstable_by(low, f64::total_cmp).1 } else { top };
    let range = top - bottom;
    let rise = (SPREADS * spread).max(MIN_RISE * range);
    if !(rise.is_finite() && rise > 0.0) {
        return None;
    }
    // Runs of bursting points: onset, highest point, baseline, end (exclusive).
    let mut runs: Vec<(Burst, f64, usize)> = Vec::new();
    let mut window: Vec<f64> = Vec::with_capacity(BASELINE);
    let mut bursting = false;
    for t in BASELINE..x.len() {
        let before = &x[t - BASELINE..t];
        // The median is at least the lowest point: most points fail this
        // cheaper test first.
        let lowest = before.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let base = (x[t].is_finite() && x[t] - lowest > rise)
            .then(|| {
                window.clear();
                window.extend(before.iter().copied().filter(|v| v.is_finite()));
                median_in_place(&mut window)
            })
            .filter(|base| base.is_finite() && x[t] - base > rise);
        match (base, bursting, runs.last_mut()) {
            (Some(_), true, Some((last, _, end))) => {
                last.height = last.height.max(x[t]);
                *end = t + 1;
            }
            (Some(base), _, _) => runs.push((Burst { onset: t, height: x[t] }, base, t + 1)),
            (None, _, _) => {}
        }
        bursting = base.is_some();
    }
    // A burst falls back: within RETURN_STEPS after its run the series is
    // near the level it rose from again. A rise that stays (the morning
    // of a daily cycle, a level shift) is no burst. A run the window
    // ends in, or ends just before, has not had the time to show it.
    let back = |(_, base, end): &(Burst, f64, usize)| {
        let after = &x[(*end).min(x.len())..(end + RETURN_STEPS).min(x.len())];
        after.len() < RETURN_STEPS || after.iter().any(|v| *v < base + rise / 2.0)
    };
    Some(runs.iter().filter(|r| back(r)).map(|r| r.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quiet level of 1 with small noise and a burst of `height` every
    /// `period` steps (not necessarily whole), starting at `phase`.
    fn bursty(n: usize, period: f64, phase: f64, height: f64) -> Vec<f64> {
        let mut x: Vec<f64> = (0..n).map(|t| 1.0 + 0.05 * ((t * 7919) % 13) as f64 / 13.0).collect();
        let mut at = phase;
        while (at.round() as usize) < n {
            x[at.round() as usize] = height;
            at += period;
        }
        x
    }

    #[test]
    fn a_burst_every_23_and_a_half_steps_is_due_when_it_comes() {
        let x = bursty(400, 23.5, 10.0, 6.0);
        // Bursts at round(10 + 23.5 k): ..., 363 (k = 15), 386 (k = 16); the
        // next at 410 (k = 17): 11 steps after the last point (index 399).
        let c = detect(&x).expect("a cadence");
        assert!((c.period - 23.5).abs() < 0.3, "{c:?}");
        assert_eq!(c.height, 6.0);
        assert!(c.due.0 <= 11 && 11 <= c.due.1, "due {c:?}");
        assert!(c.due.1 - c.due.0 <= 3, "a narrow window: {c:?}");
        assert!(c.due_within(10, 12));
        assert!(!c.due_within(1, 8), "not before: {c:?}");
        // Checked at every step: each burst of the last 200 steps was
        // announced for the step it came in, one step ahead.
        for end in 200..400 {
            let h = &x[..end];
            if x[end] == 6.0 {
                let c = detect(h).unwrap_or_else(|| panic!("a cadence before the burst at {end}"));
                assert!(c.due_within(1, 1), "burst at {end}: {c:?}");
            }
        }
    }

    #[test]
    fn a_missed_burst_is_forgiven_once() {
        let mut x = bursty(400, 24.0, 4.0, 5.0);
        // Bursts at 4, 28, ..., 364, 388; drop 388: the next is due at 412.
        x[388] = 1.0;
        let c = detect(&x).expect("one missed burst keeps the cadence");
        assert!(c.due_within(13, 13), "{c:?}");
        // Two missed bursts end it.
        let mut y = bursty(430, 24.0, 4.0, 5.0);
        y[388] = 1.0;
        y[412] = 1.0;
        assert_eq!(detect(&y[..429]), None);
    }

    #[test]
    fn a_stray_burst_after_the_cadence_does_not_hide_it() {
        let mut x = bursty(400, 24.0, 4.0, 5.0);
        x[395] = 5.0; // the last burst was at 388
        let c = detect(&x).expect("cadence anchored before the stray burst");
        assert!(c.due_within(13, 13), "{c:?}");
    }

    #[test]
    fn random_bursts_bursts_of_noise_and_smooth_series_have_no_cadence() {
        // Bursts at irregular gaps (a fixed pseudo-random sequence).
        let mut x: Vec<f64> = vec![1.0; 1000];
        let mut at = 3usize;
        let mut seed = 12345u64;
        while at < 1000 {
            x[at] = 6.0;
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            at += 5 + (seed >> 33) as usize % 50;
        }
        assert_eq!(detect(&x), None);
        // A daily sine on a 5-minute grid: smooth, no bursts.
        let s: Vec<f64> = (0..1000).map(|t| 10.0 + 5.0 * (t as f64 * std::f64::consts::TAU / 288.0).sin()).collect();
        assert_eq!(detect(&s), None);
        // Flat, short, empty, all gaps.
        assert_eq!(detect(&[3.0; 500]), None);
        assert_eq!(detect(&[1.0, 9.0, 1.0]), None);
        assert_eq!(detect(&[]), None);
        assert_eq!(detect(&[f64::NAN; 300]), None);
    }

    #[test]
    fn rises_that_stay_up_are_not_bursts() {
        // A daily cycle on a half-hour grid whose day starts steeply: up from
        // 1 to 10 in one step and there for six hours, every 48 steps.
        let daily: Vec<f64> = (0..1000).map(|t| if t % 48 >= 30 && t % 48 < 42 { 10.0 } else { 1.0 }).collect();
        assert_eq!(detect(&daily), None);
        // The same rises back after one step are bursts, and have a cadence.
        let spikes: Vec<f64> = (0..1000).map(|t| if t % 48 == 30 { 10.0 } else { 1.0 }).collect();
        let c = detect(&spikes).expect("a cadence of one-step bursts");
        assert_eq!(c.period, 48.0);
    }

    #[test]
    fn gaps_and_a_level_shift_do_not_break_detection() {
        let mut x = bursty(500, 20.0, 0.0, 8.0);
        for v in &mut x[..200] {
            *v += 30.0; // a high level first, then the quiet one with bursts
        }
        x[455] = f64::NAN;
        let c = detect(&x).expect("cadence after the shift");
        assert!((c.period - 20.0).abs() < 0.01, "{c:?}");
        assert_eq!(c.height, 8.0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_due_windows_are_ahead(x in proptest::collection::vec(
            proptest::prop_oneof![proptest::num::f64::ANY, 0.0f64..10.0], 0..600)) {
            if let Some(c) = detect(&x) {
                proptest::prop_assert!(c.due.0 >= 1 && c.due.0 <= c.due.1);
                proptest::prop_assert!(c.period >= MIN_PERIOD as f64 - 1.0);
            }
        }
    }
}

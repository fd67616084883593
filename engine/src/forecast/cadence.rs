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
//!
//! A job that runs once a day (a nightly backup) has a period too long for
//! [`WINDOW`]; when the history's steps divide a day, [`detect_daily`]
//! looks for it over [`DAILY_DAYS`] days at the calendar's period, and
//! [`detect_all`] returns both searches' cadences.

use super::prep::median_in_place;
use super::DAY_NS;

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
pub const SPREADS: f64 = 5.0;

/// Robust spreads above the baseline that make a point bursting in the
/// daily search ([`detect_daily`]). Lower than [`SPREADS`] because the
/// period is not searched for: noise would have to line up at the same
/// time of day on [`CYCLES`] + 1 days in a row to pass for a job, while a
/// nightly job on a busy machine often rises only 4–6 spreads (NAB's
/// `ec2_cpu_utilization_53ea38`: +0.42 to +0.85 over a noise spread of
/// 0.13).
pub const DAILY_SPREADS: f64 = 3.0;

/// Days the daily search reads: the anchor's day, [`CYCLES`] days of links
/// behind it, and one day whose burst may be missing.
pub const DAILY_DAYS: usize = CYCLES + 2;

/// Most steps in a day for the daily search (one-minute buckets): finer
/// grids would make it read more than 8,600 points at every decision.
pub const MAX_STEPS_PER_DAY: usize = 1440;

/// Most chance of a burst as high as the anchor's (half its rise or more),
/// at the series' rate of such bursts, in the window a daily link may land
/// in (± 1/20 of a day): a series that bursts every couple of hours has a
/// burst in every such window, so a "daily" chain would be chance. At 1/4,
/// four links by chance happen 0.4% of the time.
pub const DAILY_MAX_CHANCE: f64 = 0.25;

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
    /// How far the highest point rose above the baseline.
    rise: f64,
}

/// Steps of `step_ns` nanoseconds in a day, when they divide it and the
/// daily search covers them (at most [`MAX_STEPS_PER_DAY`]).
pub fn steps_per_day(step_ns: i64) -> Option<usize> {
    (step_ns > 0 && DAY_NS % step_ns == 0)
        .then(|| (DAY_NS / step_ns) as usize)
        .filter(|p| (MIN_PERIOD..=MAX_STEPS_PER_DAY).contains(p))
}

/// The fewest points [`detect_daily`] searches: [`CYCLES`] days behind
/// the newest night and the baseline before the oldest, plus the newest
/// point. A shorter history never finds a nightly job.
pub fn daily_points_needed(steps_per_day: usize) -> usize {
    CYCLES * steps_per_day + BASELINE + 1
}

/// How many of the newest points [`detect_all`] reads.
pub fn window(steps_per_day: Option<usize>) -> usize {
    steps_per_day.map_or(WINDOW, |p| WINDOW.max(DAILY_DAYS * p + BASELINE))
}

/// Every cadence in `history` (oldest first, `NaN` = gap), the one due
/// soonest first: [`detect`]'s, and [`detect_daily`]'s when the history's
/// steps divide a day (`steps_per_day`, see [`steps_per_day`]). A series
/// may have both: an hourly job and a nightly backup.
pub fn detect_all(history: &[f64], steps_per_day: Option<usize>) -> Vec<Cadence> {
    let mut found: Vec<Cadence> =
        detect(history).into_iter().chain(steps_per_day.and_then(|p| detect_daily(history, p))).collect();
    found.sort_by_key(|c| c.due);
    found
}

/// The height to provision for in steps `1..=steps` after the history:
/// the highest of `cadences` whose next burst is due in them (`None`: none
/// is). Pools and the replay simulator raise their forecast to it.
pub fn height_due_within(cadences: &[Cadence], steps: usize) -> Option<f64> {
    cadences.iter().filter(|c| c.due_within(1, steps.max(1))).map(|c| c.height).reduce(f64::max)
}

/// The cadence of `history`'s bursts (oldest first, `NaN` = gap), when its
/// latest bursts come at a steady period; `None` otherwise.
pub fn detect(history: &[f64]) -> Option<Cadence> {
    let x = &history[history.len().saturating_sub(WINDOW)..];
    let bursts = bursts(x, SPREADS)?;
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

/// The cadence of a job that bursts at about the same time every day (a
/// nightly backup, a cron-driven report), in `history` (oldest first, `NaN`
/// = gap) on a grid of `steps_per_day` steps a day; `None` when there is
/// none or the history holds fewer than [`CYCLES`] + 1 days.
///
/// Why a search of its own: [`detect`]'s window holds 3.5 days of
/// 5-minute points, too few for a daily chain, and its threshold is set for
/// periods it must guess. Here the period is the calendar's, so the search
/// reads [`DAILY_DAYS`] days with a lower threshold ([`DAILY_SPREADS`]), and
/// links each day's burst to the anchor's time of day (± 1/20 of a day),
/// not to the previous link, so a job's clock cannot drift. The next burst
/// is due in the window of the times of day the chain's bursts came at,
/// each end pushed out by the mean gap between those times.
/// A series that bursts so often that any such window holds a burst by
/// chance has no daily cadence ([`DAILY_MAX_CHANCE`]).
pub fn detect_daily(history: &[f64], steps_per_day: usize) -> Option<Cadence> {
    let p = steps_per_day;
    if !(MIN_PERIOD..=MAX_STEPS_PER_DAY).contains(&p) {
        return None;
    }
    let x = &history[history.len().saturating_sub(DAILY_DAYS * p + BASELINE)..];
    if x.len() < daily_points_needed(p) {
        return None;
    }
    let bursts = bursts(x, DAILY_SPREADS)?;
    let n = x.len();
    let tol = tolerance(p);
    // Anchors: the bursts of the last two days, newest first (one missed
    // day is forgiven; a stray burst after the job's does not hide it).
    for anchor in (0..bursts.len()).rev().take_while(|&i| bursts[i].onset + 2 * p >= n) {
        // Links rise at least half as high as the anchor: a nightly job's
        // bursts, not the noise around them.
        let peers: Vec<Burst> =
            bursts[..anchor].iter().copied().filter(|b| b.rise >= bursts[anchor].rise / 2.0).collect();
        if ((peers.len() + 1) * (2 * tol + 1)) as f64 > DAILY_MAX_CHANCE * n as f64 {
            continue;
        }
        let a = bursts[anchor].onset;
        // Each earlier day's burst closest to the anchor's time of day:
        // its offset from that time (steps) and the highest burst.
        let mut offsets = vec![0i64];
        let mut height = bursts[anchor].height;
        for k in 1..=MAX_LINKS {
            let Some(target) = a.checked_sub(k * p) else { break };
            let Some(link) =
                peers.iter().filter(|b| b.onset.abs_diff(target) <= tol).min_by_key(|b| b.onset.abs_diff(target))
            else {
                break;
            };
            offsets.push(link.onset as i64 - target as i64);
            height = height.max(link.height);
        }
        if offsets.len() <= CYCLES {
            continue;
        }
        // The times of day seen, each end pushed out by the mean gap
        // between them (rounded up): k draws from a window of times fall
        // short of its ends by about range/(k − 1) on each side, so the
        // next run would often land just outside the range seen (NAB's
        // 53ea38 starts anywhere from 03:10 to 03:45; five nights in a row
        // may all fall in 03:10–03:25).
        let seen_early = offsets.iter().copied().min().unwrap_or(0);
        let seen_late = offsets.iter().copied().max().unwrap_or(0);
        let gaps = offsets.len() as i64 - 1;
        let widen = (seen_late - seen_early + gaps - 1) / gaps;
        let (early, late) = (seen_early - widen, seen_late + widen);
        let (a, p, n) = (a as i64, p as i64, n as i64);
        // The first day whose window is not over yet.
        let Some(m) = (1..=2).find(|m| a + m * p + late >= n) else { continue };
        // Steps after the last point: index n is step 1.
        let lo = (a + m * p + early).max(n) + 1 - n;
        let hi = a + m * p + late + 1 - n;
        return Some(Cadence {
            period: p as f64,
            due: (lo as usize, hi.max(lo) as usize),
            height,
            bursts: offsets.len(),
        });
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

/// The bursts of `x` that rise `spreads` robust spreads above their
/// baseline, oldest first (`None`: too few points or no spread).
fn bursts(x: &[f64], spreads: f64) -> Option<Vec<Burst>> {
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
    let rise = (spreads * spread).max(MIN_RISE * range);
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
            (Some(base), _, _) => runs.push((Burst { onset: t, height: x[t], rise: 0.0 }, base, t + 1)),
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
    Some(runs.iter().filter(|r| back(r)).map(|(b, base, _)| Burst { rise: b.height - base, ..*b }).collect())
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

    /// Six days on a 5-minute grid (288 steps a day): a level of 10 with
    /// noise, and a one-step job of `height` each night whose start moves
    /// around within 35 minutes (03:10 to 03:45: steps 38 to 45), at
    /// `starts[d]` on day `d`.
    fn nightly(days: usize, starts: &[usize], height: f64) -> Vec<f64> {
        let mut seed = 7u64;
        let mut x: Vec<f64> = (0..days * 288)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                10.0 + ((seed >> 33) % 100) as f64 / 100.0
            })
            .collect();
        for (d, s) in starts.iter().enumerate().take(days) {
            x[d * 288 + s] = height;
        }
        x
    }

    #[test]
    fn a_nightly_job_whose_start_moves_is_due_in_a_window_around_its_times() {
        let starts = [40, 43, 38, 45, 41, 39, 44];
        let x = nightly(7, &starts, 14.0);
        // At 01:00 on day 6 (step 6·288 + 12): the job came on days 0–5,
        // at 03:10–03:45; it is due today, over those times or wider.
        let end = 6 * 288 + 12;
        let c = detect_daily(&x[..end], 288).expect("a daily cadence");
        assert_eq!(c.period, 288.0);
        assert_eq!(c.height, 14.0);
        assert!(c.bursts > CYCLES, "{c:?}");
        // Step k after the history is index end - 1 + k.
        let (first, last) = (6 * 288 + 38 - (end - 1), 6 * 288 + 45 - (end - 1));
        assert!(c.due.0 <= first && last <= c.due.1, "the window covers 03:10–03:45: {c:?}");
        assert!(c.due.1 - c.due.0 <= 2 * tolerance(288) + 1, "no wider than ± 1/20 of a day: {c:?}");
        assert!(!c.due_within(1, 12), "not due in the next hour: {c:?}");
        // Checked at every step of day 6: the job's step (03:40) is inside
        // the window announced the step before.
        let h = &x[..6 * 288 + 44];
        let c = detect_daily(h, 288).expect("a daily cadence");
        assert!(c.due_within(1, 1), "{c:?}");
        // After today's run, the next is due tomorrow.
        let c = detect_daily(&x[..6 * 288 + 60], 288).expect("a daily cadence");
        assert!(c.due.0 > 200, "{c:?}");
        // detect_all finds it when told the steps of a day, and not otherwise
        // (the generic search's window holds 3.5 days).
        assert_eq!(detect_all(&x[..end], Some(288)), vec![detect_daily(&x[..end], 288).expect("daily")]);
        assert_eq!(detect_all(&x[..end], None), vec![]);
        // Its height is provisioned for once the window is in reach.
        let found = detect_all(&x[..end], Some(288));
        assert_eq!(height_due_within(&found, 12), None);
        assert_eq!(height_due_within(&found, first), Some(14.0));
        assert_eq!(height_due_within(&[], 300), None);
        assert_eq!(detect(&x[..end]), None);
    }

    #[test]
    fn a_nightly_job_needs_five_days_and_forgives_one_missed_night() {
        let starts = [40, 43, 38, 45, 41, 39, 44];
        let x = nightly(7, &starts, 14.0);
        // Four nights seen: too few.
        assert_eq!(detect_daily(&x[..4 * 288 + 12], 288), None);
        // Night 5 missed: the job is due on night 6 from night 4's run.
        let mut y = x.clone();
        y[5 * 288 + 39] = 10.5;
        let c = detect_daily(&y[..6 * 288 + 12], 288).expect("one missed night is forgiven");
        assert!(c.due_within(6 * 288 + 38 - (6 * 288 + 11), 6 * 288 + 45 - (6 * 288 + 11)), "{c:?}");
        // Two missed nights end it.
        y[6 * 288 + 44] = 10.5;
        assert_eq!(detect_daily(&y[..6 * 288 + 100], 288), None);
    }

    #[test]
    fn frequent_bursts_and_noise_have_no_daily_cadence() {
        // A burst every 23.5 steps: every window of ± 72 minutes holds one,
        // so a daily chain would be chance; the generic search has it.
        let x = bursty(2000, 23.5, 3.0, 6.0);
        assert_eq!(detect_daily(&x, 288), None);
        assert!(detect(&x).is_some());
        // Noise alone, and noise on a quantized series whose ticks pass
        // the threshold everywhere.
        let noise = nightly(7, &[], 0.0);
        assert_eq!(detect_daily(&noise, 288), None);
        let ticks: Vec<f64> = (0..2016).map(|t| if t % 7 == 3 { 0.2 } else { 0.13 }).collect();
        assert_eq!(detect_daily(&ticks, 288), None);
        // The same ticks with a job each night at 03:05–03:35: found (links
        // are bursts that rise at least half as high as the anchor).
        let mut job = ticks.clone();
        for (d, s) in [37, 39, 40, 43, 41, 38, 42].iter().enumerate() {
            job[d * 288 + s] = 1.5;
        }
        let c = detect_daily(&job[..6 * 288 + 30], 288).expect("the job, among the ticks");
        assert_eq!(c.height, 1.5);
        assert!(c.due.0 <= 13 && 13 <= c.due.1, "night 6's run at step 13: {c:?}");
    }

    #[test]
    fn steps_per_day_divide_a_day() {
        const MIN: i64 = 60_000_000_000;
        assert_eq!(steps_per_day(5 * MIN), Some(288));
        assert_eq!(steps_per_day(30 * MIN), Some(48));
        assert_eq!(steps_per_day(MIN), Some(1440));
        assert_eq!(steps_per_day(MIN / 2), None, "finer than a minute: not searched");
        assert_eq!(steps_per_day(57_000_000_000), None, "57 s does not divide a day");
        assert_eq!(steps_per_day(0), None);
        assert_eq!(steps_per_day(-MIN), None);
        assert_eq!(steps_per_day(7 * 24 * 60 * MIN), None);
        assert_eq!(window(None), WINDOW);
        assert_eq!(window(Some(288)), DAILY_DAYS * 288 + BASELINE);
        assert_eq!(window(Some(48)), WINDOW);
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

        #[test]
        fn the_daily_search_never_panics_and_due_windows_are_ahead(
            x in proptest::collection::vec(
                proptest::prop_oneof![proptest::num::f64::ANY, 0.0f64..10.0, proptest::strategy::Just(50.0)], 0..400),
            p in 0usize..80,
        ) {
            for c in detect_all(&x, Some(p)) {
                proptest::prop_assert!(c.due.0 >= 1 && c.due.0 <= c.due.1, "{:?}", c);
            }
        }

        #[test]
        fn a_nightly_job_is_announced_the_step_before_it_runs(
            starts in proptest::collection::vec(38usize..=45, 7),
            height in 13.0f64..40.0,
        ) {
            let x = nightly(7, &starts, height);
            let run = 6 * 288 + starts[6];
            let c = detect_daily(&x[..run], 288);
            proptest::prop_assert!(c.is_some_and(|c| c.height >= height), "{:?}", c);
            // A run inside the times seen on the five nights before is due
            // (the first night lies at the edge of the six days read: its
            // run may come too early in them to have a baseline).
            let (early, late) = (starts[1..6].iter().copied().min(), starts[1..6].iter().copied().max());
            if early <= Some(starts[6]) && Some(starts[6]) <= late {
                proptest::prop_assert!(c.is_some_and(|c| c.due_within(1, 1)), "{:?} {:?}", starts, c);
            }
        }
    }
}

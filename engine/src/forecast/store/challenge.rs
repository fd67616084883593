//! Champion against challenger: before a retrained version replaces the
//! one in use, both forecast the most recent steps out of sample, and the
//! challenger takes over only if its error there is lower.
//!
//! Why: a drift alarm or the refit schedule says "look again", not "the new
//! model is better". A level shift that has already passed, a noisy
//! stretch, or a short window can make a freshly fitted model worse than the
//! one in use; swapping then would trade a known model for a worse one.
//!
//! The test, on the last `holdout` steps of the history:
//! * the champion is the active version *as trained*, rolled forward with
//!   `update()` over the steps after its training window up to the holdout,
//!   then asked for the holdout — exactly what it would have forecast live;
//! * the challenger is a fresh model of the same name fitted on everything
//!   before the holdout, asked for the same steps.
//!
//! Both are scored by mean absolute error over the holdout's finite values.
//! The champion cannot be judged when its training window reaches into
//! the holdout (it has seen those steps) or begins before the history
//! handed in (it needs the steps after its window): then there is no
//! contest and the caller retrains as before.

use serde::{Deserialize, Serialize};

use crate::forecast::{registry, FitOptions, Forecaster, SavedModel};

/// One contest's result, kept on the model head and shown by `SHOW MODELS`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// When it ran, ns.
    pub at_ns: i64,
    /// The champion's version.
    pub champion: u32,
    /// The champion's mean absolute error on the holdout.
    pub champion_mae: f64,
    /// The challenger's mean absolute error on the holdout.
    pub challenger_mae: f64,
    /// Steps compared.
    pub holdout: usize,
    /// Whether the challenger replaced the champion.
    pub swapped: bool,
}

/// The two errors of a contest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contest {
    /// The champion's mean absolute error on the holdout.
    pub champion_mae: f64,
    /// The challenger's.
    pub challenger_mae: f64,
    /// Steps compared.
    pub holdout: usize,
}

impl Contest {
    /// Whether the challenger won (strictly lower error).
    pub fn challenger_wins(&self) -> bool {
        self.challenger_mae < self.champion_mae
    }
}

/// Runs the contest on `values` (the history, oldest first, `NaN` = gap).
/// `champion` is the active version as trained; `champion_end` the index in
/// `values` of the last step it was trained on (`None`: before `values`).
/// Returns `None` when there is no fair contest (see the module docs) or
/// either side cannot forecast.
pub fn contest(
    model_name: &str,
    champion: &SavedModel,
    champion_end: Option<usize>,
    values: &[f64],
    options: &FitOptions,
    holdout: usize,
) -> Option<Contest> {
    let n = values.len();
    let holdout = holdout.max(1);
    let split = n.checked_sub(holdout)?;
    let end = champion_end?;
    if end + 1 > split {
        return None;
    }
    let actual = &values[split..];
    if !actual.iter().any(|v| v.is_finite()) {
        return None;
    }

    let mut champ = registry::restore(champion).ok()?;
    let between = &values[end + 1..split];
    if !between.is_empty() {
        champ.update(between).ok()?;
    }
    let champion_mae = mae(champ.as_ref(), actual)?;

    let mut challenger = registry::by_name(model_name)?;
    challenger.fit(&values[..split], options).ok()?;
    let challenger_mae = mae(challenger.as_ref(), actual)?;
    Some(Contest { champion_mae, challenger_mae, holdout })
}

/// Mean absolute error of `model`'s forecast of `actual.len()` steps.
fn mae(model: &dyn Forecaster, actual: &[f64]) -> Option<f64> {
    let p = model.predict(actual.len(), &[]).ok()?;
    let (sum, n) = actual
        .iter()
        .zip(&p.mean)
        .filter(|(a, f)| a.is_finite() && f.is_finite())
        .fold((0.0, 0usize), |(s, n), (a, f)| (s + (a - f).abs(), n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted(name: &str, y: &[f64]) -> SavedModel {
        let mut m = registry::by_name(name).expect("model");
        m.fit(y, &FitOptions::default()).expect("fits");
        m.save().expect("saves")
    }

    #[test]
    fn a_new_trend_makes_the_challenger_win() {
        // Flat with noise, then a steady climb the champion never saw.
        let noise = crate::forecast::test_util::noise(240, 7);
        let y: Vec<f64> =
            (0..240).map(|t| 50.0 + noise[t] + if t >= 160 { 2.0 * (t - 160) as f64 } else { 0.0 }).collect();
        let champion = fitted("ets", &y[..160]);
        let c = contest("ets", &champion, Some(159), &y, &FitOptions::default(), 12).expect("contest");
        assert_eq!(c.holdout, 12);
        assert!(c.challenger_wins(), "{c:?}");
    }

    #[test]
    fn the_champion_keeps_its_place_when_the_challenger_is_worse() {
        // A clean seasonal series: the champion trained on a long window
        // beats a challenger refit on a short, noisy tail.
        let y: Vec<f64> = (0..200).map(|t| 100.0 + 10.0 * ((t % 12) as f64 - 6.0).abs()).collect();
        let champion = fitted("snaive", &y[..180]);
        let c = contest("naive", &champion, Some(179), &y, &FitOptions::default(), 12).expect("contest");
        assert!(!c.challenger_wins(), "{c:?}");
        assert!(c.champion_mae < 1e-9, "{c:?}");
    }

    #[test]
    fn no_contest_when_the_champion_saw_the_holdout_or_lacks_history() {
        let y: Vec<f64> = (0..50).map(|t| t as f64).collect();
        let champion = fitted("naive", &y);
        assert!(contest("naive", &champion, Some(49), &y, &FitOptions::default(), 5).is_none());
        assert!(contest("naive", &champion, None, &y, &FitOptions::default(), 5).is_none());
        assert!(contest("naive", &champion, Some(10), &y[..3], &FitOptions::default(), 5).is_none());
        let gaps = vec![f64::NAN; 50];
        assert!(contest("naive", &champion, Some(10), &gaps, &FitOptions::default(), 5).is_none());
    }
}

//! A thread's last few results of a costly, pure function of a series.
//!
//! Why: `auto` fits its candidates one after the other on the same
//! history, and some of them repeat an identical inner computation (the
//! two seasonal autoregressions decompose the same history the same way).
//! Remembering the last few results per thread catches that without
//! threading a cache through the [`super::Forecaster`] interface. The
//! series is compared bit for bit and the rest of the inputs by equality,
//! so a hit returns exactly what the computation would.

/// Longer series are not remembered (each entry keeps a copy of its
/// series, for as long as the thread lives).
pub const MAX_POINTS: usize = 50_000;

/// The last `kept` results, oldest first, each with its exact inputs.
#[derive(Debug)]
pub struct Recent<K, V> {
    kept: usize,
    entries: Vec<(K, Vec<f64>, V)>,
}

impl<K: PartialEq, V: Clone> Recent<K, V> {
    /// An empty memo of at most `kept` results.
    pub const fn new(kept: usize) -> Self {
        Self { kept, entries: Vec::new() }
    }

    /// The remembered result for `key` and `series`, if any.
    pub fn get(&self, key: &K, series: &[f64]) -> Option<V> {
        self.entries.iter().find_map(|(k, ys, v)| {
            let same =
                k == key && ys.len() == series.len() && ys.iter().zip(series).all(|(a, b)| a.to_bits() == b.to_bits());
            same.then(|| v.clone())
        })
    }

    /// Remembers `value` for `key` and `series`, forgetting the oldest
    /// result when full (series over [`MAX_POINTS`] are not kept).
    pub fn put(&mut self, key: K, series: &[f64], value: V) {
        if series.len() > MAX_POINTS || self.kept == 0 {
            return;
        }
        if self.entries.len() == self.kept {
            self.entries.remove(0);
        }
        self.entries.push((key, series.to_vec(), value));
    }

    /// Forgets everything (for timing fits in tests and benches).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recalls_only_identical_inputs_and_forgets_the_oldest() {
        let mut memo: Recent<u8, f64> = Recent::new(2);
        let a = [1.0, 2.0, 3.0];
        memo.put(1, &a, 10.0);
        assert_eq!(memo.get(&1, &a), Some(10.0));
        assert_eq!(memo.get(&2, &a), None);
        assert_eq!(memo.get(&1, &[1.0, 2.0]), None);
        // Bit for bit: 0.0 and -0.0 are equal numbers but different inputs.
        memo.put(1, &[0.0], 1.0);
        assert_eq!(memo.get(&1, &[-0.0]), None);
        memo.put(3, &a, 30.0);
        assert_eq!(memo.get(&1, &a), None, "the oldest entry was forgotten");
        assert_eq!(memo.get(&3, &a), Some(30.0));
        memo.clear();
        assert_eq!(memo.get(&3, &a), None);
        memo.put(4, &vec![0.0; MAX_POINTS + 1], 4.0);
        assert_eq!(memo.get(&4, &vec![0.0; MAX_POINTS + 1]), None);
    }
}

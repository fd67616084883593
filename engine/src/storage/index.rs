//! The series catalog and tag index, in memory, mirrored in RocksDB.
//!
//! Series key → id, id → key, and per measurement the roaring bitmaps of
//! series ids per tag pair. Why in memory: every write resolves its series
//! and every query evaluates tag predicates; both must not touch disk. The
//! RocksDB copy (`series` and `postings` families, the latter with a union
//! merge operator so adding an id is a blind write) is loaded at open.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::model::{parse_series_key, FieldType};

use super::api::{MeasurementFilter, SeriesInfo, TagFilter};
use super::keys::Posting;

/// Index of one measurement.
#[derive(Default)]
pub(crate) struct MeasurementIndex {
    /// Every series of the measurement.
    pub(crate) all: RoaringBitmap,
    /// tag key → tag value → series.
    pub(crate) tags: BTreeMap<String, BTreeMap<String, RoaringBitmap>>,
    /// Field key → type (fixed once set).
    pub(crate) fields: BTreeMap<String, FieldType>,
}

/// Index of one namespace (database + retention policy).
#[derive(Default)]
pub(crate) struct NsIndex {
    pub(crate) series: HashMap<Arc<str>, u32>,
    pub(crate) measurements: BTreeMap<String, MeasurementIndex>,
}

/// The whole index.
#[derive(Default)]
pub(crate) struct Index {
    pub(crate) namespaces: HashMap<u32, NsIndex>,
    /// id → (namespace, key); `None` for ids of dropped series.
    by_id: Vec<Option<(u32, Arc<str>)>>,
    /// Next id to hand out; never reused, even after a drop, so a stale WAL
    /// record can never land in a newer series.
    next_id: u32,
}

impl Index {
    /// The id the next new series gets.
    pub(crate) fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Raises the next id to at least `n` (the persisted high-water mark).
    pub(crate) fn reserve_ids_below(&mut self, n: u32) {
        self.next_id = self.next_id.max(n);
    }

    /// Looks a series up.
    pub(crate) fn lookup(&self, ns: u32, key: &str) -> Option<u32> {
        self.namespaces.get(&ns)?.series.get(key).copied()
    }

    /// The key and namespace of a series id.
    pub(crate) fn key_of(&self, id: u32) -> Option<(u32, &Arc<str>)> {
        self.by_id.get(id as usize)?.as_ref().map(|(ns, k)| (*ns, k))
    }

    /// Series count of a namespace.
    pub(crate) fn series_count(&self, ns: u32) -> usize {
        self.namespaces.get(&ns).map_or(0, |n| n.series.len())
    }

    /// The index of one measurement, if it exists.
    pub(crate) fn measurement(&self, ns: u32, measurement: &str) -> Option<&MeasurementIndex> {
        self.namespaces.get(&ns)?.measurements.get(measurement)
    }

    /// A field's type, if known.
    pub(crate) fn field_type(&self, ns: u32, measurement: &str, field: &str) -> Option<FieldType> {
        self.namespaces.get(&ns)?.measurements.get(measurement)?.fields.get(field).copied()
    }

    /// Records a field type.
    pub(crate) fn set_field_type(&mut self, ns: u32, measurement: &str, field: &str, t: FieldType) {
        self.namespaces
            .entry(ns)
            .or_default()
            .measurements
            .entry(measurement.to_string())
            .or_default()
            .fields
            .insert(field.to_string(), t);
    }

    /// Adds a new series: catalog entry and postings.
    pub(crate) fn insert(&mut self, ns: u32, key: &str, id: u32) {
        let Some((measurement, tags)) = parse_series_key(key) else {
            return;
        };
        self.insert_series(ns, key, id);
        let m = self.namespaces.entry(ns).or_default().measurements.entry(measurement).or_default();
        m.all.insert(id);
        for (k, v) in tags {
            m.tags.entry(k).or_default().entry(v).or_default().insert(id);
        }
    }

    /// Adds a series' key ↔ id mapping only (postings are loaded separately).
    pub(crate) fn insert_series(&mut self, ns: u32, key: &str, id: u32) {
        let key: Arc<str> = Arc::from(key);
        let idx = id as usize;
        if self.by_id.len() <= idx {
            self.by_id.resize(idx + 1, None);
        }
        self.by_id[idx] = Some((ns, key.clone()));
        self.next_id = self.next_id.max(id.saturating_add(1));
        self.namespaces.entry(ns).or_default().series.insert(key, id);
    }

    /// Merges a persisted posting list into the index (at load time).
    pub(crate) fn load_posting(&mut self, ns: u32, posting: Posting, bitmap: RoaringBitmap) {
        let nsi = self.namespaces.entry(ns).or_default();
        match posting {
            Posting::Measurement(m) => nsi.measurements.entry(m).or_default().all |= bitmap,
            Posting::Tag(m, k, v) => {
                *nsi.measurements.entry(m).or_default().tags.entry(k).or_default().entry(v).or_default() |= bitmap
            }
        }
    }

    /// Removes a namespace; returns its series ids.
    pub(crate) fn drop_namespace(&mut self, ns: u32) -> Vec<u32> {
        let Some(nsi) = self.namespaces.remove(&ns) else {
            return Vec::new();
        };
        let ids: Vec<u32> = nsi.series.values().copied().collect();
        for id in &ids {
            if let Some(slot) = self.by_id.get_mut(*id as usize) {
                *slot = None;
            }
        }
        ids
    }

    /// Removes one series: its key, its id and its postings; a measurement
    /// left without series is removed with its field types. Returns whether
    /// the series existed.
    pub(crate) fn remove_series(&mut self, id: u32) -> bool {
        let Some((ns, key)) = self.by_id.get_mut(id as usize).and_then(Option::take) else {
            return false;
        };
        let Some(nsi) = self.namespaces.get_mut(&ns) else { return true };
        nsi.series.remove(&key);
        let Some((measurement, tags)) = parse_series_key(&key) else { return true };
        let Some(m) = nsi.measurements.get_mut(&measurement) else { return true };
        m.all.remove(id);
        for (k, v) in tags {
            if let Some(values) = m.tags.get_mut(&k) {
                if let Some(b) = values.get_mut(&v) {
                    b.remove(id);
                    if b.is_empty() {
                        values.remove(&v);
                    }
                }
                if values.is_empty() {
                    m.tags.remove(&k);
                }
            }
        }
        if m.all.is_empty() {
            nsi.measurements.remove(&measurement);
        }
        true
    }

    /// Measurement names of a namespace.
    pub(crate) fn measurements(&self, ns: u32) -> Vec<String> {
        self.namespaces.get(&ns).map(|n| n.measurements.keys().cloned().collect()).unwrap_or_default()
    }

    /// Series ids matching the filters.
    pub(crate) fn select(&self, ns: u32, measurement: &MeasurementFilter, tags: Option<&TagFilter>) -> RoaringBitmap {
        let Some(nsi) = self.namespaces.get(&ns) else {
            return RoaringBitmap::new();
        };
        let mut out = RoaringBitmap::new();
        for (name, m) in &nsi.measurements {
            let hit = match measurement {
                MeasurementFilter::All => true,
                MeasurementFilter::Name(n) => n == name,
                MeasurementFilter::Regex(re) => re.is_match(name),
            };
            if hit {
                out |= match tags {
                    None => m.all.clone(),
                    Some(f) => eval(m, f),
                };
            }
        }
        out
    }

    /// Resolves ids to [`SeriesInfo`], skipping dropped ids.
    pub(crate) fn infos(&self, ids: &RoaringBitmap) -> Vec<SeriesInfo> {
        ids.iter()
            .filter_map(|id| {
                let (_, key) = self.key_of(id)?;
                let (measurement, tags) = parse_series_key(key)?;
                Some(SeriesInfo { id, key: key.to_string(), measurement, tags })
            })
            .collect()
    }
}

/// Series of `m` lacking tag `key` entirely (they compare as `''`).
fn without_tag(m: &MeasurementIndex, key: &str) -> RoaringBitmap {
    let mut with = RoaringBitmap::new();
    if let Some(values) = m.tags.get(key) {
        for b in values.values() {
            with |= b;
        }
    }
    &m.all - &with
}

fn eq(m: &MeasurementIndex, key: &str, value: &str) -> RoaringBitmap {
    if value.is_empty() {
        return without_tag(m, key);
    }
    m.tags.get(key).and_then(|v| v.get(value)).cloned().unwrap_or_default()
}

fn regex(m: &MeasurementIndex, key: &str, re: &regex::Regex) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    if let Some(values) = m.tags.get(key) {
        for (v, b) in values {
            if re.is_match(v) {
                out |= b;
            }
        }
    }
    if re.is_match("") {
        out |= without_tag(m, key);
    }
    out
}

/// Evaluates a tag predicate with bitmap set operations.
fn eval(m: &MeasurementIndex, f: &TagFilter) -> RoaringBitmap {
    match f {
        TagFilter::Eq(k, v) => eq(m, k, v),
        TagFilter::NotEq(k, v) => &m.all - eq(m, k, v),
        TagFilter::Regex(k, re) => regex(m, k, re),
        TagFilter::NotRegex(k, re) => &m.all - regex(m, k, re),
        TagFilter::And(a, b) => eval(m, a) & eval(m, b),
        TagFilter::Or(a, b) => eval(m, a) | eval(m, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx() -> Index {
        let mut i = Index::default();
        i.insert(1, "cpu,host=a,region=eu", 0);
        i.insert(1, "cpu,host=b,region=us", 1);
        i.insert(1, "cpu,host=c", 2);
        i.insert(1, "mem,host=a", 3);
        i.insert(2, "cpu,host=a", 4);
        i
    }

    fn ids(b: RoaringBitmap) -> Vec<u32> {
        b.iter().collect()
    }

    #[test]
    fn predicates_evaluate_on_bitmaps() {
        let i = idx();
        let cpu = MeasurementFilter::Name("cpu".into());
        assert_eq!(ids(i.select(1, &cpu, None)), vec![0, 1, 2]);
        let f = TagFilter::Eq("host".into(), "a".into());
        assert_eq!(ids(i.select(1, &cpu, Some(&f))), vec![0]);
        let f = TagFilter::NotEq("region".into(), "eu".into());
        assert_eq!(ids(i.select(1, &cpu, Some(&f))), vec![1, 2]);
        let f = TagFilter::Eq("region".into(), "".into());
        assert_eq!(ids(i.select(1, &cpu, Some(&f))), vec![2]);
        let f = TagFilter::Regex("host".into(), regex::Regex::new("^[ab]$").unwrap());
        assert_eq!(ids(i.select(1, &MeasurementFilter::All, Some(&f))), vec![0, 1, 3]);
        let f = TagFilter::Or(
            Box::new(TagFilter::Eq("host".into(), "c".into())),
            Box::new(TagFilter::And(
                Box::new(TagFilter::Eq("host".into(), "b".into())),
                Box::new(TagFilter::NotRegex("region".into(), regex::Regex::new("e").unwrap())),
            )),
        );
        assert_eq!(ids(i.select(1, &cpu, Some(&f))), vec![1, 2]);
        let mre = MeasurementFilter::Regex(regex::Regex::new("^m").unwrap());
        assert_eq!(ids(i.select(1, &mre, None)), vec![3]);
        assert_eq!(ids(i.select(2, &cpu, None)), vec![4]);
    }

    #[test]
    fn removing_series_updates_postings_and_measurements() {
        let mut i = idx();
        assert!(i.remove_series(1));
        assert!(!i.remove_series(1));
        assert!(i.key_of(1).is_none());
        let cpu = MeasurementFilter::Name("cpu".into());
        assert_eq!(ids(i.select(1, &cpu, None)), vec![0, 2]);
        let f = TagFilter::Eq("region".into(), "us".into());
        assert!(i.select(1, &cpu, Some(&f)).is_empty());
        assert!(!i.measurement(1, "cpu").unwrap().tags["region"].contains_key("us"));
        i.set_field_type(1, "mem", "free", FieldType::Integer);
        assert!(i.remove_series(3));
        assert_eq!(i.measurements(1), vec!["cpu".to_string()]);
        assert!(i.field_type(1, "mem", "free").is_none());
    }

    #[test]
    fn dropping_a_namespace_frees_its_ids() {
        let mut i = idx();
        let mut dropped = i.drop_namespace(1);
        dropped.sort();
        assert_eq!(dropped, vec![0, 1, 2, 3]);
        assert!(i.key_of(0).is_none());
        assert!(i.key_of(4).is_some());
        assert_eq!(i.next_id(), 5);
    }
}

//! The catalog: databases, their retention policies, and the namespace id
//! each (database, policy) pair stores its series under.
//!
//! Why a namespace id: keys in every family are prefixed by it, so dropping a
//! database or policy is a handful of range deletes, and a future
//! distributed backend can partition along it. The catalog is small and
//! changes rarely, so it is persisted whole (JSON under one `meta` key) on
//! every DDL statement.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::api::{default_shard_duration, RetentionPolicy, StorageError, StorageResult};

/// Name of the policy every new database gets.
pub(crate) const AUTOGEN: &str = "autogen";

/// A stored retention policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RpMeta {
    pub(crate) ns: u32,
    pub(crate) duration_ns: Option<i64>,
    pub(crate) shard_group_duration_ns: i64,
    /// Replication factor as set by `CREATE/ALTER RETENTION POLICY`
    /// (reported only; one machine keeps one copy).
    #[serde(default = "one")]
    pub(crate) replication: u32,
}

fn one() -> u32 {
    1
}

/// A stored database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct DatabaseMeta {
    pub(crate) default_rp: String,
    pub(crate) rps: BTreeMap<String, RpMeta>,
    /// The namespace id allocated when the database was created: ids only
    /// grow, so it orders databases by creation (as InfluxDB lists them).
    /// Catalogs written before it was kept use the smallest policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<u32>,
}

impl DatabaseMeta {
    /// The key that orders databases by creation.
    fn creation(&self) -> u32 {
        self.created.or_else(|| self.rps.values().map(|r| r.ns).min()).unwrap_or(u32::MAX)
    }
}

/// Every database.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Catalog {
    pub(crate) databases: BTreeMap<String, DatabaseMeta>,
    pub(crate) next_ns: u32,
}

/// A resolved (database, policy) pair.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) ns: u32,
    pub(crate) duration_ns: Option<i64>,
}

fn check_name(kind: &str, name: &str) -> StorageResult<()> {
    if name.is_empty() {
        return Err(StorageError::InvalidName(format!("{kind} name required")));
    }
    Ok(())
}

impl Catalog {
    pub(crate) fn from_bytes(b: &[u8]) -> StorageResult<Catalog> {
        serde_json::from_slice(b).map_err(|e| StorageError::Corrupt(format!("catalog: {e}")))
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn alloc_ns(&mut self) -> u32 {
        let ns = self.next_ns;
        self.next_ns += 1;
        ns
    }

    /// Creates a database; returns whether anything changed.
    pub(crate) fn create_database(&mut self, name: &str, duration_ns: Option<i64>) -> StorageResult<bool> {
        check_name("database", name)?;
        if self.databases.contains_key(name) {
            return Ok(false);
        }
        let ns = self.alloc_ns();
        let mut rps = BTreeMap::new();
        rps.insert(
            AUTOGEN.to_string(),
            RpMeta { ns, duration_ns, shard_group_duration_ns: default_shard_duration(duration_ns), replication: 1 },
        );
        self.databases
            .insert(name.to_string(), DatabaseMeta { default_rp: AUTOGEN.to_string(), rps, created: Some(ns) });
        Ok(true)
    }

    /// Creates a database whose only (and default) policy is `rp`; for an
    /// existing database, succeeds only if it already has an identical `rp`.
    pub(crate) fn create_database_with(&mut self, name: &str, rp: &RetentionPolicy) -> StorageResult<bool> {
        check_name("database", name)?;
        check_name("retention policy", &rp.name)?;
        if self.databases.contains_key(name) {
            return self.create_rp(name, &RetentionPolicy { default: true, ..rp.clone() });
        }
        let ns = self.alloc_ns();
        let mut rps = BTreeMap::new();
        rps.insert(
            rp.name.clone(),
            RpMeta {
                ns,
                duration_ns: rp.duration_ns,
                shard_group_duration_ns: rp.shard_group_duration_ns,
                replication: rp.replication.max(1),
            },
        );
        self.databases.insert(name.to_string(), DatabaseMeta { default_rp: rp.name.clone(), rps, created: Some(ns) });
        Ok(true)
    }

    /// Creates a policy (idempotent for identical settings).
    pub(crate) fn create_rp(&mut self, db: &str, rp: &RetentionPolicy) -> StorageResult<bool> {
        check_name("retention policy", &rp.name)?;
        let ns = self.next_ns;
        let d = self.databases.get_mut(db).ok_or_else(|| StorageError::DatabaseNotFound(db.to_string()))?;
        if let Some(existing) = d.rps.get(&rp.name) {
            let same = existing.duration_ns == rp.duration_ns
                && existing.shard_group_duration_ns == rp.shard_group_duration_ns
                && (!rp.default || d.default_rp == rp.name);
            return if same { Ok(false) } else { Err(StorageError::RetentionPolicyExists) };
        }
        d.rps.insert(
            rp.name.clone(),
            RpMeta {
                ns,
                duration_ns: rp.duration_ns,
                shard_group_duration_ns: rp.shard_group_duration_ns,
                replication: rp.replication.max(1),
            },
        );
        if rp.default {
            d.default_rp = rp.name.clone();
        }
        self.next_ns += 1;
        Ok(true)
    }

    /// Resolves a database and optional policy name.
    pub(crate) fn resolve(&self, db: &str, rp: Option<&str>) -> StorageResult<Target> {
        let d = self.databases.get(db).ok_or_else(|| StorageError::DatabaseNotFound(db.to_string()))?;
        let name = rp.filter(|r| !r.is_empty()).unwrap_or(&d.default_rp);
        let r = d
            .rps
            .get(name)
            .ok_or_else(|| StorageError::RetentionPolicyNotFound { db: db.to_string(), rp: name.to_string() })?;
        Ok(Target { ns: r.ns, duration_ns: r.duration_ns })
    }

    /// Namespace ids of a database.
    pub(crate) fn namespaces_of(&self, db: &str) -> Vec<u32> {
        self.databases.get(db).map(|d| d.rps.values().map(|r| r.ns).collect()).unwrap_or_default()
    }

    /// Database names in creation order (InfluxDB's order).
    pub(crate) fn database_names(&self) -> Vec<String> {
        let mut dbs: Vec<(&String, &DatabaseMeta)> = self.databases.iter().collect();
        dbs.sort_by_key(|(name, d)| (d.creation(), (*name).clone()));
        dbs.into_iter().map(|(name, _)| name.clone()).collect()
    }

    /// Policies of a database, as the API reports them, in creation order
    /// (namespace ids only grow).
    pub(crate) fn policies(&self, db: &str) -> StorageResult<Vec<RetentionPolicy>> {
        let d = self.databases.get(db).ok_or_else(|| StorageError::DatabaseNotFound(db.to_string()))?;
        let mut rps: Vec<(&String, &RpMeta)> = d.rps.iter().collect();
        rps.sort_by_key(|(_, r)| r.ns);
        Ok(rps
            .into_iter()
            .map(|(name, r)| RetentionPolicy {
                name: name.clone(),
                duration_ns: r.duration_ns,
                shard_group_duration_ns: r.shard_group_duration_ns,
                replication: r.replication,
                default: *name == d.default_rp,
            })
            .collect())
    }

    /// Every (namespace, duration) with a finite retention.
    pub(crate) fn expiring(&self) -> Vec<(u32, i64)> {
        self.databases.values().flat_map(|d| d.rps.values()).filter_map(|r| r.duration_ns.map(|d| (r.ns, d))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_NS: i64 = 3_600 * 1_000_000_000;
    const WEEK_NS: i64 = 7 * 24 * HOUR_NS;

    #[test]
    fn databases_and_policies() {
        let mut c = Catalog::default();
        assert!(c.create_database("db", None).unwrap());
        assert!(!c.create_database("db", None).unwrap());
        assert!(c.create_database("", None).is_err());
        let t = c.resolve("db", None).unwrap();
        assert_eq!(t.ns, 0);
        let rp = RetentionPolicy {
            name: "short".into(),
            duration_ns: Some(HOUR_NS),
            shard_group_duration_ns: HOUR_NS,
            replication: 1,
            default: true,
        };
        assert!(c.create_rp("db", &rp).unwrap());
        assert!(!c.create_rp("db", &rp).unwrap());
        let t = c.resolve("db", None).unwrap();
        assert_eq!((t.ns, t.duration_ns), (1, Some(HOUR_NS)));
        assert!(c.resolve("db", Some("autogen")).is_ok());
        assert!(matches!(c.resolve("db", Some("x")), Err(StorageError::RetentionPolicyNotFound { .. })));
        assert!(matches!(c.resolve("nope", None), Err(StorageError::DatabaseNotFound(_))));
        let back = Catalog::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn databases_and_policies_list_in_creation_order() {
        let mut c = Catalog::default();
        for db in ["b", "a", "c"] {
            c.create_database(db, None).unwrap();
        }
        c.databases.remove("a");
        c.create_database("a", None).unwrap();
        assert_eq!(c.database_names(), ["b", "c", "a"]);
        let rp = |name: &str| RetentionPolicy {
            name: name.into(),
            duration_ns: None,
            shard_group_duration_ns: WEEK_NS,
            replication: 1,
            default: false,
        };
        for name in ["r1", "my rp", "a0"] {
            c.create_rp("b", &rp(name)).unwrap();
        }
        let names: Vec<String> = c.policies("b").unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["autogen", "r1", "my rp", "a0"]);
        // The order survives a restart (the catalog as persisted).
        let back = Catalog::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back.database_names(), ["b", "c", "a"]);
        // A catalog written before `created` existed orders by policy ids.
        let old = br#"{"databases":{"x":{"default_rp":"autogen","rps":{"autogen":{"ns":5,"duration_ns":null,"shard_group_duration_ns":1}}},"y":{"default_rp":"autogen","rps":{"autogen":{"ns":2,"duration_ns":null,"shard_group_duration_ns":1}}}},"next_ns":6}"#;
        assert_eq!(Catalog::from_bytes(old).unwrap().database_names(), ["y", "x"]);
    }
}

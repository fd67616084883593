//! The `[pools]` section (the pool manager's limits) and `[[pool]]` tables
//! (pools defined in the file).
//!
//! Why pools in the file as well as over `/v1/pools`: a pool is
//! infrastructure, and operators keep infrastructure in version control.
//! A `[[pool]]` is created at start when missing and replaced when its
//! definition changed (units and the allocator's memory are kept), in the
//! tenant it names (`default` when none); it is validated like one sent to
//! the API, and a bad one stops the server with the field at fault.
//!
//! Tenant capacity quotas (`[pools.quotas]`, one line per tenant) are set
//! at start the same way, for the same reason: a tenant's budget is
//! infrastructure too. A quota the file no longer names is left as it is
//! (lift it with `DELETE /v1/tenants/{name}/pool-quota`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::pools::quota::TenantQuota;
use crate::pools::spec::{valid_name, PoolSpec, Vector};

/// Default for `max_per_tenant`.
pub const DEFAULT_MAX_POOLS_PER_TENANT: usize = 50;
/// Default for `exec_concurrency`.
pub const DEFAULT_EXEC_CONCURRENCY: usize = 32;

/// The `[pools]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolsSection {
    /// `max_per_tenant = 50`: most pools one tenant may define.
    pub max_per_tenant: Option<u64>,
    /// `exec_concurrency = 32`: most `exec` start/stop commands running at
    /// once, over all pools (the rest wait their turn).
    pub exec_concurrency: Option<u64>,
    /// `[pools.quotas]`: `<tenant> = { cpu_cores = 64, ... }`, each
    /// tenant's capacity quota over all its pools.
    #[serde(default)]
    pub quotas: BTreeMap<String, Vector>,
}

/// Resolved pool settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolsConfig {
    /// Most pools one tenant may define.
    pub max_per_tenant: usize,
    /// Most `exec` commands running at once.
    pub exec_concurrency: usize,
    /// Pools defined in the file.
    pub defined: Vec<PoolSpec>,
    /// Tenant capacity quotas defined in the file, by tenant.
    pub quotas: BTreeMap<String, TenantQuota>,
}

impl Default for PoolsConfig {
    fn default() -> Self {
        PoolsConfig {
            max_per_tenant: DEFAULT_MAX_POOLS_PER_TENANT,
            exec_concurrency: DEFAULT_EXEC_CONCURRENCY,
            defined: Vec::new(),
            quotas: BTreeMap::new(),
        }
    }
}

/// Resolves `[pools]` and the `[[pool]]` tables.
pub fn pools_config(section: &PoolsSection, defined: &[PoolSpec]) -> Result<PoolsConfig, ConfigError> {
    let max_per_tenant = match section.max_per_tenant {
        None => DEFAULT_MAX_POOLS_PER_TENANT,
        Some(0) => return Err(invalid("pools.max_per_tenant", "must be at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let exec_concurrency = match section.exec_concurrency {
        None => DEFAULT_EXEC_CONCURRENCY,
        Some(n @ 1..=10_000) => n as usize,
        Some(_) => return Err(invalid("pools.exec_concurrency", "must be 1 to 10000")),
    };
    let mut out = Vec::with_capacity(defined.len());
    for (i, spec) in defined.iter().enumerate() {
        let mut spec = spec.clone();
        if spec.tenant.is_empty() {
            spec.tenant = crate::auth::model::DEFAULT_TENANT.to_string();
        }
        spec.validate().map_err(|e| invalid("pool", format!("pool[{i}].{}: {}", e.field, e.message)))?;
        if out.iter().any(|p: &PoolSpec| p.tenant == spec.tenant && p.name == spec.name) {
            return Err(invalid("pool", format!("pool[{i}].name: pool {:?} is defined twice", spec.name)));
        }
        out.push(spec);
    }
    let mut quotas = BTreeMap::new();
    for (tenant, limits) in &section.quotas {
        if !valid_name(tenant) {
            return Err(invalid("pools.quotas", format!("{tenant:?} is not a tenant name")));
        }
        let quota = TenantQuota { limits: limits.clone() };
        quota.validate().map_err(|e| invalid("pools.quotas", format!("{tenant}.{}: {}", e.field, e.message)))?;
        quotas.insert(tenant.clone(), quota);
    }
    Ok(PoolsConfig { max_per_tenant, exec_concurrency, defined: out, quotas })
}

//! The account registry: tenants, users, tokens and who owns which
//! database, kept in memory and written through to RocksDB.
//!
//! Why in memory: every request authenticates, so lookups must not touch
//! the disk; the data is small (people and tokens, not points). Why write
//! through: an acknowledged `CREATE USER` or token revocation must survive a
//! crash like an acknowledged write, so each change is an fsynced meta
//! record (`auth/...`) before the call returns and before memory changes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use augur_engine::storage::{StorageError, Store};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::model::{Grant, Role, Tenant, TenantLimits, Token, TokenState, User, DEFAULT_TENANT};
use super::secret;

/// Key prefixes of the records, under the store's meta records.
const TENANT_PREFIX: &str = "auth/tenant/";
const USER_PREFIX: &str = "auth/user/";
const TOKEN_PREFIX: &str = "auth/token/";
const OWNER_PREFIX: &str = "auth/owner/";

/// The name of the user created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// How long a verified password is remembered: argon2 costs tens of
/// milliseconds by design, and InfluxDB clients send `u`/`p` on every
/// request. Changing or dropping the user forgets it at once.
const PASSWORD_CACHE_TTL: Duration = Duration::from_secs(300);

/// Why an account operation failed. The text is what the client reads.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such user (in the caller's reach).
    #[error("user not found")]
    UserNotFound,
    /// The user name is taken.
    #[error("user already exists")]
    UserExists,
    /// No such tenant.
    #[error("tenant not found: {0}")]
    TenantNotFound(String),
    /// The tenant name is taken.
    #[error("tenant already exists: {0}")]
    TenantExists(String),
    /// No such token.
    #[error("token not found")]
    TokenNotFound,
    /// A name with characters outside `[A-Za-z0-9_.-]` or of bad length.
    #[error("invalid {what} name {name:?}: use 1-64 letters, digits, '_', '.' or '-'")]
    InvalidName {
        /// `user` or `tenant`.
        what: &'static str,
        /// The name given.
        name: String,
    },
    /// A password shorter than [`MIN_PASSWORD_LEN`].
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    /// Dropping or demoting the last operator would lock everyone out.
    #[error("cannot remove the last admin of the default tenant")]
    LastOperator,
    /// The password could not be hashed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The store failed.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
    /// A stored record is unreadable.
    #[error("corrupt account record {key}: {message}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// What the decoder said.
        message: String,
    },
}

/// Why a credential was refused (all answer 401; the reason goes to the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or token.
    Unknown,
    /// Wrong password.
    WrongPassword,
    /// The token expired.
    Expired,
    /// The token was revoked.
    Revoked,
}

impl AuthFailure {
    /// A word for logs and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Unknown => "unknown credential",
            AuthFailure::WrongPassword => "wrong password",
            AuthFailure::Expired => "token expired",
            AuthFailure::Revoked => "token revoked",
        }
    }
}

#[derive(Default)]
struct State {
    tenants: BTreeMap<String, Tenant>,
    users: BTreeMap<String, User>,
    /// By hash.
    tokens: HashMap<String, Token>,
    /// Database → tenant.
    owners: BTreeMap<String, String>,
}

/// The registry (one per server, shared by every request).
pub struct Accounts {
    store: Store,
    state: RwLock<State>,
    /// SHA-256 of (user, password) → when it was verified.
    verified: Mutex<HashMap<String, Instant>>,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn valid_name(what: &'static str, name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidName { what, name: name.to_string() })
    }
}

fn password_key(user: &str, password: &str) -> String {
    let mut data = Vec::with_capacity(user.len() + password.len() + 1);
    data.extend_from_slice(user.as_bytes());
    data.push(0);
    data.extend_from_slice(password.as_bytes());
    secret::sha256_hex(&data)
}

impl Accounts {
    /// Loads the registry from `store`, creating the default tenant on first use.
    pub fn open(store: Store) -> Result<Accounts, AccountError> {
        let mut state = State::default();
        for tenant in load::<Tenant>(&store, TENANT_PREFIX)? {
            state.tenants.insert(tenant.name.clone(), tenant);
        }
        for user in load::<User>(&store, USER_PREFIX)? {
            state.users.insert(user.name.clone(), user);
        }
        for token in load::<Token>(&store, TOKEN_PREFIX)? {
            state.tokens.insert(token.hash.clone(), token);
        }
        for (key, value) in store.scan_meta_records(OWNER_PREFIX.as_bytes())? {
            let db = String::from_utf8_lossy(&key[OWNER_PREFIX.len().min(key.len())..]).into_owned();
            state.owners.insert(db, String::from_utf8_lossy(&value).into_owned());
        }
        let accounts = Accounts { store, state: RwLock::new(state), verified: Mutex::new(HashMap::new()) };
        if !accounts.state.read().tenants.contains_key(DEFAULT_TENANT) {
            accounts.create_tenant(DEFAULT_TENANT, true, TenantLimits::default())?;
        }
        Ok(accounts)
    }

    /// First start (with authentication on): with no admin of the default
    /// tenant yet, creates the admin `admin` there with `token` (or a fresh
    /// one). Returns the token when one was created, so the caller can show
    /// it once. (Users made while authentication was off do not count: the
    /// first start with it on still gets its operator.)
    pub fn bootstrap(&self, token: Option<&str>) -> Result<Option<String>, AccountError> {
        let is_operator = |u: &User| u.tenant == DEFAULT_TENANT && u.role == Role::Admin;
        if self.state.read().users.values().any(is_operator) {
            return Ok(None);
        }
        self.create_user(FIRST_ADMIN, DEFAULT_TENANT, Role::Admin, None)?;
        let secret = token.map_or_else(secret::new_token, str::to_string);
        self.store_token(FIRST_ADMIN, &secret, "first admin token", None)?;
        Ok(Some(secret))
    }

    fn put<T: Serialize>(&self, prefix: &str, name: &str, record: &T) -> Result<(), AccountError> {
        let value = serde_json::to_vec(record)
            .map_err(|e| AccountError::Corrupt { key: format!("{prefix}{name}"), message: e.to_string() })?;
        self.store.put_meta_record(format!("{prefix}{name}").as_bytes(), &value)?;
        Ok(())
    }

    fn forget_passwords(&self) {
        self.verified.lock().clear();
    }

    // ---- tenants ----

    /// Creates a tenant.
    pub fn create_tenant(
        &self,
        name: &str,
        collect_location: bool,
        limits: TenantLimits,
    ) -> Result<Tenant, AccountError> {
        valid_name("tenant", name)?;
        let mut state = self.state.write();
        if state.tenants.contains_key(name) {
            return Err(AccountError::TenantExists(name.to_string()));
        }
        let tenant = Tenant { name: name.to_string(), collect_location, limits, created_ns: now_ns() };
        self.put(TENANT_PREFIX, name, &tenant)?;
        state.tenants.insert(name.to_string(), tenant.clone());
        Ok(tenant)
    }

    /// Replaces a tenant's consent flag and limits.
    pub fn update_tenant(
        &self,
        name: &str,
        collect_location: bool,
        limits: TenantLimits,
    ) -> Result<Tenant, AccountError> {
        let mut state = self.state.write();
        let mut tenant =
            state.tenants.get(name).cloned().ok_or_else(|| AccountError::TenantNotFound(name.to_string()))?;
        tenant.collect_location = collect_location;
        tenant.limits = limits;
        self.put(TENANT_PREFIX, name, &tenant)?;
        state.tenants.insert(name.to_string(), tenant.clone());
        Ok(tenant)
    }

    /// A tenant by name.
    pub fn tenant(&self, name: &str) -> Option<Tenant> {
        self.state.read().tenants.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Vec<Tenant> {
        self.state.read().tenants.values().cloned().collect()
    }

    // ---- users ----

    /// Creates a user in `tenant`.
    pub fn create_user(
        &self,
        name: &str,
        tenant: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<User, AccountError> {
        valid_name("user", name)?;
        let password_hash = match password {
            Some(p) if p.chars().count() < MIN_PASSWORD_LEN => return Err(AccountError::WeakPassword),
            Some(p) => Some(secret::hash_password(p).map_err(AccountError::Hash)?),
            None => None,
        };
        let mut state = self.state.write();
        if !state.tenants.contains_key(tenant) {
            return Err(AccountError::TenantNotFound(tenant.to_string()));
        }
        if state.users.contains_key(name) {
            return Err(AccountError::UserExists);
        }
        let user = User {
            name: name.to_string(),
            tenant: tenant.to_string(),
            role,
            password_hash,
            grants: BTreeMap::new(),
            created_ns: now_ns(),
        };
        self.put(USER_PREFIX, name, &user)?;
        state.users.insert(name.to_string(), user.clone());
        Ok(user)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<User> {
        self.state.read().users.get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<User> {
        self.state.read().users.values().cloned().collect()
    }

    fn is_last_operator(state: &State, name: &str) -> bool {
        let is_operator = |u: &User| u.tenant == DEFAULT_TENANT && u.role == Role::Admin;
        state.users.get(name).is_some_and(is_operator) && state.users.values().filter(|u| is_operator(u)).count() == 1
    }

    /// Drops a user and revokes its tokens.
    pub fn drop_user(&self, name: &str) -> Result<(), AccountError> {
        let mut state = self.state.write();
        if !state.users.contains_key(name) {
            return Err(AccountError::UserNotFound);
        }
        if Self::is_last_operator(&state, name) {
            return Err(AccountError::LastOperator);
        }
        let owned: Vec<String> = state.tokens.values().filter(|t| t.user == name).map(|t| t.hash.clone()).collect();
        for hash in owned {
            self.store.delete_meta_record(format!("{TOKEN_PREFIX}{hash}").as_bytes())?;
            state.tokens.remove(&hash);
        }
        self.store.delete_meta_record(format!("{USER_PREFIX}{name}").as_bytes())?;
        state.users.remove(name);
        drop(state);
        self.forget_passwords();
        Ok(())
    }

    fn change_user(
        &self,
        name: &str,
        change: impl FnOnce(&mut User) -> Result<(), AccountError>,
    ) -> Result<User, AccountError> {
        let mut state = self.state.write();
        let mut user = state.users.get(name).cloned().ok_or(AccountError::UserNotFound)?;
        change(&mut user)?;
        let demotes_operator = user.role != Role::Admin || user.tenant != DEFAULT_TENANT;
        if demotes_operator && Self::is_last_operator(&state, name) {
            return Err(AccountError::LastOperator);
        }
        self.put(USER_PREFIX, name, &user)?;
        state.users.insert(name.to_string(), user.clone());
        drop(state);
        self.forget_passwords();
        Ok(user)
    }

    /// Sets a user's password.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AccountError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(AccountError::WeakPassword);
        }
        let hash = secret::hash_password(password).map_err(AccountError::Hash)?;
        self.change_user(name, |u| {
            u.password_hash = Some(hash);
            Ok(())
        })
        .map(|_| ())
    }

    /// Sets a user's role.
    pub fn set_role(&self, name: &str, role: Role) -> Result<User, AccountError> {
        self.change_user(name, |u| {
            u.role = role;
            Ok(())
        })
    }

    /// Adds `grant` on `database` (READ + WRITE make ALL, as in InfluxDB).
    pub fn grant(&self, name: &str, database: &str, grant: Grant) -> Result<User, AccountError> {
        self.change_user(name, |u| {
            let merged = match (u.grants.get(database), grant) {
                (Some(Grant::All), _) | (_, Grant::All) => Grant::All,
                (Some(Grant::Read), Grant::Write) | (Some(Grant::Write), Grant::Read) => Grant::All,
                (_, g) => g,
            };
            u.grants.insert(database.to_string(), merged);
            Ok(())
        })
    }

    /// Removes `grant` on `database` (revoking READ from ALL leaves WRITE).
    pub fn revoke(&self, name: &str, database: &str, grant: Grant) -> Result<User, AccountError> {
        self.change_user(name, |u| {
            let left = match (u.grants.get(database), grant) {
                (None, _) | (_, Grant::All) => None,
                (Some(Grant::All), Grant::Read) => Some(Grant::Write),
                (Some(Grant::All), Grant::Write) => Some(Grant::Read),
                (Some(held), g) if *held == g => None,
                (Some(held), _) => Some(*held),
            };
            match left {
                Some(g) => u.grants.insert(database.to_string(), g),
                None => u.grants.remove(database),
            };
            Ok(())
        })
    }

    // ---- tokens ----

    fn store_token(
        &self,
        user: &str,
        secret_text: &str,
        description: &str,
        expires_ns: Option<i64>,
    ) -> Result<Token, AccountError> {
        let hash = secret::token_hash(secret_text);
        let token = Token {
            id: secret::token_id(&hash),
            hash: hash.clone(),
            user: user.to_string(),
            description: description.to_string(),
            created_ns: now_ns(),
            expires_ns,
            revoked_ns: None,
        };
        let mut state = self.state.write();
        if !state.users.contains_key(user) {
            return Err(AccountError::UserNotFound);
        }
        self.put(TOKEN_PREFIX, &hash, &token)?;
        state.tokens.insert(hash, token.clone());
        Ok(token)
    }

    /// Creates a token for `user`; returns the record and the secret, which
    /// is not stored and cannot be shown again.
    pub fn create_token(
        &self,
        user: &str,
        description: &str,
        expires_ns: Option<i64>,
    ) -> Result<(Token, String), AccountError> {
        let secret_text = secret::new_token();
        let token = self.store_token(user, &secret_text, description, expires_ns)?;
        Ok((token, secret_text))
    }

    /// Every token record (never the secrets), oldest first.
    pub fn tokens(&self) -> Vec<Token> {
        let mut tokens: Vec<Token> = self.state.read().tokens.values().cloned().collect();
        tokens.sort_by(|a, b| (a.created_ns, &a.id).cmp(&(b.created_ns, &b.id)));
        tokens
    }

    /// A token record by its public id.
    pub fn token_by_id(&self, id: &str) -> Option<Token> {
        self.state.read().tokens.values().find(|t| t.id == id).cloned()
    }

    /// Revokes a token by its public id (kept, marked revoked, for the record).
    pub fn revoke_token(&self, id: &str) -> Result<Token, AccountError> {
        let mut state = self.state.write();
        let mut token = state.tokens.values().find(|t| t.id == id).cloned().ok_or(AccountError::TokenNotFound)?;
        if token.revoked_ns.is_none() {
            token.revoked_ns = Some(now_ns());
            self.put(TOKEN_PREFIX, &token.hash, &token)?;
            state.tokens.insert(token.hash.clone(), token.clone());
        }
        Ok(token)
    }

    // ---- authentication ----

    /// The user a token acts as.
    pub fn authenticate_token(&self, token: &str) -> Result<User, AuthFailure> {
        let hash = secret::token_hash(token);
        let state = self.state.read();
        let record = state.tokens.get(&hash).ok_or(AuthFailure::Unknown)?;
        if !secret::same(&record.hash, &hash) {
            return Err(AuthFailure::Unknown);
        }
        record.usable(now_ns()).map_err(|s| match s {
            TokenState::Expired => AuthFailure::Expired,
            TokenState::Revoked => AuthFailure::Revoked,
        })?;
        state.users.get(&record.user).cloned().ok_or(AuthFailure::Unknown)
    }

    /// The user whose name and password these are.
    pub fn authenticate_password(&self, name: &str, password: &str) -> Result<User, AuthFailure> {
        let user = self.user(name);
        let key = password_key(name, password);
        if let Some(user) = &user {
            let fresh = self.verified.lock().get(&key).is_some_and(|at| at.elapsed() < PASSWORD_CACHE_TTL);
            if fresh {
                return Ok(user.clone());
            }
        }
        // Verify even for unknown users, against a fixed hash, so the time
        // taken does not reveal whether the user exists.
        let stored = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(dummy_hash);
        let ok = secret::verify_password(password, &stored);
        match user {
            Some(user) if ok && user.password_hash.is_some() => {
                let mut cache = self.verified.lock();
                cache.retain(|_, at| at.elapsed() < PASSWORD_CACHE_TTL);
                cache.insert(key, Instant::now());
                Ok(user)
            }
            Some(_) => Err(AuthFailure::WrongPassword),
            None => Err(AuthFailure::Unknown),
        }
    }

    // ---- database ownership ----

    /// The tenant owning `database`: its record, else `default` for a
    /// database that exists without one (created before accounts), else none.
    pub fn owner(&self, database: &str) -> Option<String> {
        if let Some(owner) = self.state.read().owners.get(database) {
            return Some(owner.clone());
        }
        self.store.database_exists(database).then(|| DEFAULT_TENANT.to_string())
    }

    /// The databases recorded as `tenant`'s.
    pub fn databases_of(&self, tenant: &str) -> Vec<String> {
        self.state.read().owners.iter().filter(|(_, t)| *t == tenant).map(|(db, _)| db.clone()).collect()
    }

    /// Records that `tenant` owns `database` (kept after `DROP DATABASE`:
    /// the name stays the tenant's).
    pub fn claim(&self, database: &str, tenant: &str) -> Result<(), AccountError> {
        let mut state = self.state.write();
        if state.owners.get(database).is_some_and(|t| t == tenant) {
            return Ok(());
        }
        self.store.put_meta_record(format!("{OWNER_PREFIX}{database}").as_bytes(), tenant.as_bytes())?;
        state.owners.insert(database.to_string(), tenant.to_string());
        Ok(())
    }
}

/// A valid argon2 hash of a random password, computed once.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| secret::hash_password(&secret::new_token()).unwrap_or_default()).clone()
}

fn load<T: DeserializeOwned>(store: &Store, prefix: &str) -> Result<Vec<T>, AccountError> {
    store
        .scan_meta_records(prefix.as_bytes())?
        .into_iter()
        .map(|(key, value)| {
            serde_json::from_slice(&value).map_err(|e| AccountError::Corrupt {
                key: String::from_utf8_lossy(&key).into_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_engine::storage::StoreOptions;

    fn open(dir: &std::path::Path) -> Accounts {
        let store = Store::open(dir, StoreOptions::default()).expect("store opens");
        Accounts::open(store).expect("accounts open")
    }

    #[test]
    fn bootstrap_makes_the_operator_even_after_other_users() {
        let dir = tempfile::tempdir().expect("tempdir");
        let accounts = open(dir.path());
        // Made while authentication was off: not an operator.
        accounts.create_user("bob", DEFAULT_TENANT, Role::Writer, Some("password1")).expect("user");
        let token = accounts.bootstrap(None).expect("bootstrap").expect("a new token");
        assert_eq!(accounts.authenticate_token(&token).expect("admin token").name, FIRST_ADMIN);
        assert_eq!(accounts.bootstrap(None).expect("again"), None, "one operator is enough");
    }

    #[test]
    fn everything_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token;
        let created;
        {
            let accounts = open(dir.path());
            token = accounts.bootstrap(None).expect("bootstrap").expect("a new token");
            assert_eq!(accounts.bootstrap(None).expect("second bootstrap"), None, "only once");
            accounts.create_tenant("acme", false, TenantLimits::default()).expect("tenant");
            accounts.create_user("bob", "acme", Role::Writer, Some("password1")).expect("user");
            accounts.grant("bob", "metrics", Grant::Read).expect("grant");
            accounts.grant("bob", "metrics", Grant::Write).expect("grant");
            accounts.claim("metrics", "acme").expect("claim");
            created = accounts.create_token("bob", "ci", None).expect("token");
        }
        let accounts = open(dir.path());
        assert_eq!(accounts.authenticate_token(&token).expect("admin token").name, FIRST_ADMIN);
        let bob = accounts.authenticate_password("bob", "password1").expect("bob logs in");
        assert_eq!(bob.grants.get("metrics"), Some(&Grant::All), "READ + WRITE = ALL");
        assert_eq!(accounts.authenticate_token(&created.1).expect("bob's token").name, "bob");
        assert_eq!(accounts.owner("metrics").as_deref(), Some("acme"));
        assert_eq!(accounts.owner("nothing"), None);
        assert_eq!(accounts.tenant("acme").map(|t| t.collect_location), Some(false));
    }

    #[test]
    fn wrong_unknown_expired_and_revoked_credentials_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let accounts = open(dir.path());
        accounts.bootstrap(Some("seeded-admin-token-0123456789")).expect("bootstrap");
        accounts.create_user("bob", DEFAULT_TENANT, Role::Reader, Some("password1")).expect("user");
        assert_eq!(accounts.authenticate_password("bob", "password2"), Err(AuthFailure::WrongPassword));
        assert_eq!(accounts.authenticate_password("eve", "password1"), Err(AuthFailure::Unknown));
        assert_eq!(accounts.authenticate_password(FIRST_ADMIN, ""), Err(AuthFailure::WrongPassword), "no password set");
        assert_eq!(accounts.authenticate_token("augur_nope"), Err(AuthFailure::Unknown));
        let (expired, secret_text) = accounts.create_token("bob", "", Some(1)).expect("token");
        assert_eq!(accounts.authenticate_token(&secret_text), Err(AuthFailure::Expired));
        let (live, live_secret) = accounts.create_token("bob", "", None).expect("token");
        assert!(accounts.authenticate_token(&live_secret).is_ok());
        accounts.revoke_token(&live.id).expect("revoke");
        assert_eq!(accounts.authenticate_token(&live_secret), Err(AuthFailure::Revoked));
        assert!(accounts.token_by_id(&expired.id).is_some());
        assert_eq!(accounts.authenticate_token("seeded-admin-token-0123456789").map(|u| u.name), Ok("admin".into()));
    }

    #[test]
    fn password_changes_and_drops_take_effect_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let accounts = open(dir.path());
        accounts.bootstrap(None).expect("bootstrap");
        accounts.create_user("bob", DEFAULT_TENANT, Role::Writer, Some("password1")).expect("user");
        assert!(accounts.authenticate_password("bob", "password1").is_ok());
        accounts.set_password("bob", "password2").expect("set");
        assert_eq!(
            accounts.authenticate_password("bob", "password1"),
            Err(AuthFailure::WrongPassword),
            "cache cleared"
        );
        let (_, token) = accounts.create_token("bob", "", None).expect("token");
        accounts.drop_user("bob").expect("drop");
        assert_eq!(accounts.authenticate_password("bob", "password2"), Err(AuthFailure::Unknown));
        assert_eq!(accounts.authenticate_token(&token), Err(AuthFailure::Unknown), "tokens go with the user");
    }

    #[test]
    fn rules_on_names_passwords_grants_and_the_last_operator() {
        let dir = tempfile::tempdir().expect("tempdir");
        let accounts = open(dir.path());
        accounts.bootstrap(None).expect("bootstrap");
        assert!(matches!(
            accounts.create_user("a b", DEFAULT_TENANT, Role::Writer, None),
            Err(AccountError::InvalidName { .. })
        ));
        assert!(matches!(
            accounts.create_user("bob", DEFAULT_TENANT, Role::Writer, Some("short")),
            Err(AccountError::WeakPassword)
        ));
        assert!(matches!(
            accounts.create_user("bob", "nope", Role::Writer, None),
            Err(AccountError::TenantNotFound(_))
        ));
        assert!(matches!(
            accounts.create_user(FIRST_ADMIN, DEFAULT_TENANT, Role::Writer, None),
            Err(AccountError::UserExists)
        ));
        assert!(matches!(accounts.drop_user(FIRST_ADMIN), Err(AccountError::LastOperator)));
        assert!(matches!(accounts.set_role(FIRST_ADMIN, Role::Writer), Err(AccountError::LastOperator)));
        accounts.create_user("bob", DEFAULT_TENANT, Role::Writer, None).expect("user");
        accounts.grant("bob", "db", Grant::All).expect("grant");
        let bob = accounts.revoke("bob", "db", Grant::Read).expect("revoke");
        assert_eq!(bob.grants.get("db"), Some(&Grant::Write), "ALL minus READ");
        let bob = accounts.revoke("bob", "db", Grant::Write).expect("revoke");
        assert!(bob.grants.is_empty());
    }
}

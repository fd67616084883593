//! Where webhooks may be delivered: the guard against server-side request
//! forgery (SSRF), and the HTTP clients that enforce it.
//!
//! Why: a tenant admin chooses a subscription's URL, and Augur then sends
//! requests to it from inside the operator's network. Without a guard, a
//! tenant of a shared Augur could reach the loopback interface, the
//! private network or a cloud metadata endpoint (`169.254.169.254`) and
//! read the answers in the delivery log. So, by default
//! ([`PrivateTargets::Operators`]), only the operators' subscriptions (those
//! of the default tenant) may target internal addresses; every other
//! tenant's may reach public addresses and the networks listed in
//! `[webhooks] allowed_networks`.
//!
//! The check runs twice: when a subscription is created or changed (an IP
//! literal or a name whose every address is internal is refused with a 400
//! naming `url`), and at every connection, through a DNS resolver that
//! drops internal addresses, so a name that later resolves elsewhere (DNS
//! rebinding) is refused too. Guarded deliveries also ignore proxy
//! settings, which would otherwise resolve names for them.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::subscription::InvalidField;
use crate::auth::model::DEFAULT_TENANT;

/// Who may deliver to internal addresses (`[webhooks] private_targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivateTargets {
    /// Only the operators' subscriptions (the default tenant's).
    #[default]
    Operators,
    /// Every tenant's (a single-tenant deployment).
    All,
    /// Nobody's: every subscription reaches public addresses only (plus
    /// `allowed_networks`).
    None,
}

impl FromStr for PrivateTargets {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "operators" => Ok(PrivateTargets::Operators),
            "all" => Ok(PrivateTargets::All),
            "none" => Ok(PrivateTargets::None),
            other => Err(format!("{other:?} is not one of \"operators\", \"all\", \"none\"")),
        }
    }
}

/// The delivery-target rules of `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    /// Who may target internal addresses.
    pub private_targets: PrivateTargets,
    /// Networks every subscription may target even though they are internal.
    pub allowed_networks: Vec<IpNet>,
}

impl TargetPolicy {
    /// Whether the subscriptions of `owner` (a tenant) are held to public
    /// addresses.
    pub fn restricts(&self, owner: &str) -> bool {
        match self.private_targets {
            PrivateTargets::All => false,
            PrivateTargets::None => true,
            PrivateTargets::Operators => owner != DEFAULT_TENANT,
        }
    }

    /// Whether a restricted subscription may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed_networks.iter().any(|net| net.contains(&canonical(ip)))
    }

    /// Checks a subscription's URL for `owner` when it is created or
    /// changed: an IP literal, `localhost`, or a name whose every address
    /// is internal is refused (a name that does not resolve now is
    /// accepted; the connection-time check still applies). Blocks on DNS.
    pub fn check_url(&self, owner: &str, url: &str) -> Result<(), InvalidField> {
        if !self.restricts(owner) {
            return Ok(());
        }
        let Ok(parsed) = reqwest::Url::parse(url) else { return Ok(()) };
        let refused = |what: String| InvalidField {
            field: "url".to_string(),
            reason: format!(
                "{what} is an internal address, which this tenant's webhooks may not reach \
                 (webhooks.private_targets, webhooks.allowed_networks)"
            ),
        };
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) if !self.permits(IpAddr::V4(ip)) => Err(refused(ip.to_string())),
            Some(url::Host::Ipv6(ip)) if !self.permits(IpAddr::V6(ip)) => Err(refused(ip.to_string())),
            Some(url::Host::Domain(name)) => {
                let port = parsed.port_or_known_default().unwrap_or(443);
                let mut addresses: Vec<IpAddr> =
                    (name, port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
                if addresses.is_empty() && name.eq_ignore_ascii_case("localhost") {
                    addresses = vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)];
                }
                if !addresses.is_empty() && addresses.iter().all(|ip| !self.permits(*ip)) {
                    Err(refused(name.to_string()))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// The reason a restricted delivery to `url` is refused before any
    /// connection (an IP literal that is internal), if it is.
    pub fn refuses_literal(&self, owner: &str, url: &str) -> Option<String> {
        if !self.restricts(owner) {
            return None;
        }
        let parsed = reqwest::Url::parse(url).ok()?;
        let ip = match parsed.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        (!self.permits(ip)).then(|| format!("target address {ip} is internal (webhooks.private_targets)"))
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is not a public unicast address: loopback, private,
/// link-local (cloud metadata), shared (CGNAT), unspecified, broadcast,
/// multicast, documentation or unique-local.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// A resolver that keeps only the addresses a restricted subscription may
/// reach, and fails when none is left.
struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                let reason = if found.is_empty() {
                    format!("{host} has no address")
                } else {
                    format!("{host} resolves only to internal addresses (webhooks.private_targets)")
                };
                return Err(reason.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The two delivery clients: open (operators, or everyone with
/// `private_targets = "all"`) and guarded.
pub struct Clients {
    policy: Arc<TargetPolicy>,
    open: reqwest::Client,
    guarded: reqwest::Client,
}

impl Clients {
    /// Builds both clients with `timeout` and the extra trusted roots.
    pub fn new(policy: TargetPolicy, timeout: Duration, roots: &[reqwest::Certificate]) -> reqwest::Result<Clients> {
        let policy = Arc::new(policy);
        let open = super::sender::client_builder(timeout, roots).build()?;
        let guarded = super::sender::client_builder(timeout, roots)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy: Arc::clone(&policy) }))
            .build()?;
        Ok(Clients { policy, open, guarded })
    }

    /// The rules.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// The client for the subscriptions of `owner`.
    pub fn for_owner(&self, owner: &str) -> &reqwest::Client {
        if self.policy.restricts(owner) {
            &self.guarded
        } else {
            &self.open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn internal_addresses() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn who_is_restricted_and_what_is_allowed() {
        let policy = TargetPolicy {
            private_targets: PrivateTargets::Operators,
            allowed_networks: vec!["10.20.0.0/16".parse().expect("net")],
        };
        assert!(!policy.restricts(DEFAULT_TENANT));
        assert!(policy.restricts("acme"));
        assert!(policy.permits(ip("10.20.3.4")));
        assert!(policy.permits(ip("::ffff:10.20.3.4")));
        assert!(!policy.permits(ip("10.21.0.1")));
        assert!(policy.check_url(DEFAULT_TENANT, "http://127.0.0.1:9/").is_ok());
        let refused = policy.check_url("acme", "http://127.0.0.1:9/").expect_err("loopback");
        assert_eq!(refused.field, "url");
        assert!(refused.reason.contains("127.0.0.1 is an internal address"), "{}", refused.reason);
        assert!(policy.check_url("acme", "http://[::1]:9/").is_err());
        assert!(policy.check_url("acme", "http://localhost:9/").is_err());
        assert!(policy.check_url("acme", "http://10.20.0.5/hook").is_ok());
        assert!(policy.check_url("acme", "https://203.0.113.9/").is_err(), "documentation range");
        assert!(policy.check_url("acme", "https://8.8.8.8/").is_ok());
        assert_eq!(policy.refuses_literal("acme", "http://8.8.8.8/"), None);
        assert!(policy.refuses_literal("acme", "http://169.254.169.254/latest/meta-data").is_some());
        assert_eq!(policy.refuses_literal(DEFAULT_TENANT, "http://169.254.169.254/"), None);
        let everyone = TargetPolicy { private_targets: PrivateTargets::All, ..TargetPolicy::default() };
        assert!(everyone.check_url("acme", "http://127.0.0.1:9/").is_ok());
        let nobody = TargetPolicy { private_targets: PrivateTargets::None, ..TargetPolicy::default() };
        assert!(nobody.check_url(DEFAULT_TENANT, "http://127.0.0.1:9/").is_err());
        assert_eq!("none".parse::<PrivateTargets>(), Ok(PrivateTargets::None));
        assert!("some".parse::<PrivateTargets>().is_err());
    }

    #[tokio::test]
    async fn the_guarded_resolver_drops_internal_addresses() {
        let resolver = GuardedResolver { policy: Arc::new(TargetPolicy::default()) };
        let name = Name::from_str("localhost").expect("name");
        let error = resolver.resolve(name).await.err().expect("localhost is internal");
        assert!(error.to_string().contains("resolves only to internal addresses"), "{error}");
        let allowed = GuardedResolver {
            policy: Arc::new(TargetPolicy {
                allowed_networks: vec!["127.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")],
                ..TargetPolicy::default()
            }),
        };
        let addrs: Vec<SocketAddr> =
            allowed.resolve(Name::from_str("localhost").expect("name")).await.expect("allowed").collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty(), "{addrs:?}");
    }
}

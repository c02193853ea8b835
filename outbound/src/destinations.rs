//! Which addresses outbound connections may reach: the guard against
//! server-side request forgery. By default a node may call public addresses
//! only — not loopback, private, link-local (where cloud metadata services
//! live), unique-local, shared (CGNAT), multicast, broadcast, unspecified
//! or reserved ones — unless the deployment allows them
//! (`FLOWFORGE_OUTBOUND_ALLOW`: CIDRs, addresses, host names, `*.suffix`).
//!
//! A host name is checked where it is resolved: the HTTP client's resolver
//! answers only the addresses that pass, and the client connects to exactly
//! those, so a name cannot resolve to a public address for the check and a
//! private one for the connection. An address written into a URL is checked
//! before the request, and every redirect hop is checked again.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The setting that opens addresses, named in refusals.
pub const ALLOW_SETTING: &str = "FLOWFORGE_OUTBOUND_ALLOW";

/// An allow-list entry that is not a CIDR, an address or a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ALLOW_SETTING}: {0:?} is not a CIDR (10.0.0.0/8), an address, a host name or *.suffix")]
pub struct InvalidAllowEntry(pub String);

/// A destination the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} is refused: {address} is {range}; allow it with {ALLOW_SETTING}")]
pub struct Refused {
    /// The host as the request named it.
    pub host: String,
    /// The address it is, or resolved to.
    pub address: IpAddr,
    /// What kind of address that is.
    pub range: &'static str,
}

/// Why a host cannot be connected to.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// The name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Lookup {
        /// The host.
        host: String,
        /// What the resolver said.
        #[source]
        source: std::io::Error,
    },
    /// Every address it resolved to is refused.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// A host name the allow-list names, exactly or by suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Suffix(String),
}

/// Which destinations outbound connections may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    nets: Vec<IpNet>,
    hosts: Vec<HostPattern>,
}

impl OutboundPolicy {
    /// Public addresses only.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses plus what `list` (comma-separated CIDRs, addresses,
    /// host names and `*.suffix` patterns) allows.
    ///
    /// # Errors
    /// [`InvalidAllowEntry`] naming the entry.
    pub fn allowing(list: &str) -> Result<Self, InvalidAllowEntry> {
        let mut policy = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                policy.nets.push(IpNet::from(address));
            } else if let Some(suffix) = entry.strip_prefix("*.").filter(|s| is_host_name(s)) {
                policy.hosts.push(HostPattern::Suffix(format!(
                    ".{}",
                    suffix.to_ascii_lowercase()
                )));
            } else if is_host_name(entry) {
                policy
                    .hosts
                    .push(HostPattern::Exact(entry.to_ascii_lowercase()));
            } else {
                return Err(InvalidAllowEntry(entry.to_owned()));
            }
        }
        Ok(policy)
    }

    /// Whether the allow-list names `host`, so whatever it resolves to is
    /// reachable.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|pattern| match pattern {
            HostPattern::Exact(name) => *name == host,
            HostPattern::Suffix(suffix) => host.ends_with(suffix.as_str()),
        })
    }

    /// Refuses `address` (which `host` is or resolved to) unless it is
    /// public or allowed.
    ///
    /// # Errors
    /// [`Refused`] saying what kind of address it is.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), Refused> {
        let Some(range) = special_range(address) else {
            return Ok(());
        };
        if self.host_allowed(host) || self.nets.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        Err(Refused {
            host: host.to_owned(),
            address,
            range,
        })
    }

    /// Refuses a URL whose host is an address the policy refuses; a host
    /// name is checked when it is resolved.
    ///
    /// # Errors
    /// [`Refused`].
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check(&v4.to_string(), IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check(&v6.to_string(), IpAddr::V6(v6)),
            _ => Ok(()),
        }
    }

    /// The addresses `host` resolves to (with `port`) that this policy lets
    /// through: what a connection may go to.
    ///
    /// # Errors
    /// [`Unreachable::Lookup`] if the name does not resolve, and
    /// [`Unreachable::Refused`] (the first refusal) if it resolves only to
    /// refused addresses.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Unreachable> {
        let resolved = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| Unreachable::Lookup {
                host: host.to_owned(),
                source,
            })?;
        let mut refusal = None;
        let allowed: Vec<SocketAddr> = resolved
            .filter(|address| match self.check(host, address.ip()) {
                Ok(()) => true,
                Err(refused) => {
                    refusal.get_or_insert(refused);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refusal) {
            (true, Some(refused)) => Err(refused.into()),
            _ => Ok(allowed),
        }
    }

    /// A resolver for HTTP clients that answers only the addresses this
    /// policy lets through (refusing a name that has none).
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }

    /// A redirect policy that follows up to `max` redirects, each to a URL
    /// this policy lets through.
    pub fn redirects(self: &Arc<Self>, max: usize) -> reqwest::redirect::Policy {
        let policy = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max {
                return attempt.error(format!("more than {max} redirects"));
            }
            match policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        })
    }
}

/// The resolver of [`OutboundPolicy::resolver`].
#[derive(Debug)]
pub struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            match policy.resolve(name.as_str(), 0).await {
                Ok(allowed) => Ok(Box::new(allowed.into_iter()) as Addrs),
                Err(Unreachable::Refused(refused)) => Err(Box::new(refused) as Box<_>),
                Err(Unreachable::Lookup { source, .. }) => Err(Box::new(source) as Box<_>),
            }
        })
    }
}

/// What kind of non-public address `address` is, if it is one.
pub fn special_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

fn special_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    Some(if v4.is_loopback() {
        "a loopback address"
    } else if v4.is_private() {
        "a private address"
    } else if v4.is_link_local() {
        "a link-local address (where cloud metadata services answer)"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if v4.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if v4.is_broadcast() {
        "the broadcast address"
    } else if v4.is_multicast() {
        "a multicast address"
    } else if a >= 240 {
        "a reserved address"
    } else {
        return None;
    })
}

fn special_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    Some(if v6.is_loopback() {
        "a loopback address"
    } else if v6.is_unspecified() {
        "an unspecified address"
    } else if v6.is_multicast() {
        "a multicast address"
    } else if first & 0xfe00 == 0xfc00 {
        "a unique-local address"
    } else if first & 0xffc0 == 0xfe80 {
        "a link-local address"
    } else {
        return None;
    })
}

/// Whether `name` looks like a DNS host name.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn only_public_addresses_pass_by_default() {
        let policy = OutboundPolicy::public_only();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            let error = policy.check("h", ip(refused)).expect_err(refused);
            assert!(error.to_string().contains(ALLOW_SETTING), "{error}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "100.128.0.1",
        ] {
            assert!(policy.check("h", ip(public)).is_ok(), "{public}");
        }
    }

    #[test]
    fn the_allow_list_opens_nets_addresses_and_hosts() {
        let policy =
            OutboundPolicy::allowing("127.0.0.0/8, ::1, 10.0.0.5, db.internal, *.corp.example")
                .expect("list");
        assert!(policy.check("x", ip("127.0.0.2")).is_ok());
        assert!(policy.check("x", ip("::1")).is_ok());
        assert!(policy.check("x", ip("10.0.0.5")).is_ok());
        assert!(policy.check("x", ip("10.0.0.6")).is_err());
        assert!(policy.check("DB.internal", ip("10.9.9.9")).is_ok());
        assert!(policy.check("api.corp.example", ip("192.168.0.1")).is_ok());
        assert!(policy
            .check("corp.example.evil", ip("192.168.0.1"))
            .is_err());
        for bad in ["10.0.0.0/33", "exa mple", "*.", "http://x"] {
            assert_eq!(
                OutboundPolicy::allowing(bad),
                Err(InvalidAllowEntry(bad.to_owned()))
            );
        }
        assert_eq!(
            OutboundPolicy::allowing(" , ").expect("empty"),
            OutboundPolicy::public_only()
        );
    }

    #[test]
    fn a_url_with_an_address_is_checked_and_a_name_waits_for_resolution() {
        let policy = OutboundPolicy::public_only();
        let url = |u: &str| reqwest::Url::parse(u).expect("url");
        assert!(policy.check_url(&url("http://127.0.0.1:8080/x")).is_err());
        assert!(policy.check_url(&url("http://[::1]/x")).is_err());
        assert!(policy.check_url(&url("http://localhost/x")).is_ok());
        assert!(policy.check_url(&url("https://1.1.1.1/")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_answers_only_allowed_addresses() {
        let guarded = Arc::new(OutboundPolicy::public_only()).resolver();
        let name: Name = "localhost".parse().expect("name");
        let error = guarded
            .resolve(name)
            .await
            .err()
            .expect("localhost is loopback");
        assert!(error.to_string().contains("loopback"), "{error}");
        let open = Arc::new(OutboundPolicy::allowing("localhost").expect("list")).resolver();
        let name: Name = "localhost".parse().expect("name");
        let addresses: Vec<SocketAddr> = open.resolve(name).await.expect("resolves").collect();
        assert!(addresses.iter().all(|a| a.ip().is_loopback()) && !addresses.is_empty());
    }
}

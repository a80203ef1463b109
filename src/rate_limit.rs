//! Per-process rate limits (GCRA, from `governor`): per credential once a request is
//! authenticated (reads and writes counted apart), and per client IP for requests
//! without a valid credential. Each limit is a rate per second with bursts of twice
//! the rate; 0 turns it off. Over the limit: 429 `rate_limited` with `Retry-After`.
//!
//! Each key (credential, or client address) has its own limiter in a bounded cache
//! that forgets keys idle for a minute (a full bucket carries no state worth keeping),
//! so memory stays bounded however many addresses a client uses.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use moka::sync::Cache;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::Caller;
use crate::error::ApiError;

/// Keys remembered per limiter; beyond this the least recently used are forgotten.
const MAX_KEYS: u64 = 100_000;
/// A key unused this long is forgotten (its bucket has long refilled).
const IDLE: Duration = Duration::from_secs(60);

/// Whose requests one limiter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Identity(Uuid, Class),
    ApiKey(Uuid, Class),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    Read,
    Write,
}

/// The client IP of a request, as the request-id middleware worked it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

pub struct RateLimits {
    reads: Option<Quota>,
    writes: Option<Quota>,
    anonymous: Option<Quota>,
    credentials: Cache<Key, Arc<DefaultDirectRateLimiter>>,
    clients: Cache<IpAddr, Arc<DefaultDirectRateLimiter>>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(settings: &Settings) -> RateLimits {
        RateLimits {
            reads: quota(settings.rate_limit_reads),
            writes: quota(settings.rate_limit_writes),
            anonymous: quota(settings.rate_limit_anonymous),
            credentials: limiter_cache(),
            clients: limiter_cache(),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of an authenticated caller.
    pub fn check_caller(&self, caller: &Caller, method: &Method) -> Result<(), ApiError> {
        let (class, quota) = if matches!(*method, Method::GET | Method::HEAD) {
            (Class::Read, self.reads)
        } else {
            (Class::Write, self.writes)
        };
        let Some(quota) = quota else {
            return Ok(());
        };
        let key = match caller {
            Caller::Identity(identity) => Key::Identity(identity.id, class),
            Caller::ApiKey(key) => Key::ApiKey(key.id, class),
        };
        self.check(&self.credentials, key, quota)
    }

    /// Counts one request without a valid credential from `client` (`None`: the
    /// address is unknown, and all such requests share one limiter).
    pub fn check_client(&self, client: ClientIp) -> Result<(), ApiError> {
        let Some(quota) = self.anonymous else {
            return Ok(());
        };
        let address = client.0.map_or(IpAddr::from([0, 0, 0, 0]), network_of);
        self.check(&self.clients, address, quota)
    }

    fn check<K>(
        &self,
        limiters: &Cache<K, Arc<DefaultDirectRateLimiter>>,
        key: K,
        quota: Quota,
    ) -> Result<(), ApiError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
    {
        let limiter = limiters.get_with(key, || Arc::new(DefaultDirectRateLimiter::direct(quota)));
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up: a client that waits that long gets through.
            ApiError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }
}

fn limiter_cache<K>() -> Cache<K, Arc<DefaultDirectRateLimiter>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(MAX_KEYS)
        .time_to_idle(IDLE)
        .build()
}

/// `rate` per second with bursts of `2 × rate`; `None` for 0 (unlimited).
fn quota(rate: u32) -> Option<Quota> {
    let per_second = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(rate.saturating_mul(2))?;
    Some(Quota::per_second(per_second).allow_burst(burst))
}

/// One IPv6 host usually holds a whole /64, so that is what one limiter counts.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The client's address: the TCP peer, or with `trusted_proxies` > 0 the entry of
/// `X-Forwarded-For` that the outermost trusted proxy appended (that many from the
/// right). A header with fewer entries or an unparseable one falls back to the peer.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: u8) -> Option<IpAddr> {
    if trusted_proxies == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    entries
        .len()
        .checked_sub(usize::from(trusted_proxies))
        .and_then(|index| entries[index].parse().ok())
        .or(peer)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use clap::Parser;

    use super::*;
    use crate::domain::caller::IdentityCaller;

    fn limits(reads: u32, writes: u32, anonymous: u32) -> RateLimits {
        let mut settings = Settings::parse_from(["polis"]);
        settings.rate_limit_reads = reads;
        settings.rate_limit_writes = writes;
        settings.rate_limit_anonymous = anonymous;
        RateLimits::new(&settings)
    }

    fn identity() -> Caller {
        Caller::Identity(IdentityCaller {
            id: Uuid::now_v7(),
            verified_emails: vec![],
            via_cookie: false,
            credential: crate::domain::caller::IdentityCredential::Session(
                crate::domain::caller::SessionRef {
                    id: Uuid::now_v7(),
                    expires_at: None,
                },
            ),
        })
    }

    #[test]
    fn bursts_reach_twice_the_rate_then_stop() {
        let limits = limits(5, 1, 0);
        let caller = identity();
        let allowed = (0..20)
            .filter(|_| limits.check_caller(&caller, &Method::GET).is_ok())
            .count();
        assert_eq!(allowed, 10);
        let refused = limits.check_caller(&caller, &Method::GET).unwrap_err();
        assert_eq!(refused.code(), crate::error::ErrorCode::RateLimited);
        // Writes have their own bucket (burst 2), other callers their own.
        assert!(limits.check_caller(&caller, &Method::POST).is_ok());
        assert!(limits.check_caller(&caller, &Method::DELETE).is_ok());
        assert!(limits.check_caller(&caller, &Method::PATCH).is_err());
        assert!(limits.check_caller(&identity(), &Method::GET).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = limits(0, 0, 0);
        let caller = identity();
        for _ in 0..1000 {
            assert!(limits.check_caller(&caller, &Method::POST).is_ok());
            assert!(limits.check_client(ClientIp(None)).is_ok());
        }
    }

    #[test]
    fn one_ipv6_network_shares_a_limiter() {
        let limits = limits(0, 0, 1);
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limits.check_client(ClientIp(Some(first))).is_ok());
        assert!(limits.check_client(ClientIp(Some(same_net))).is_ok());
        assert!(limits.check_client(ClientIp(Some(first))).is_err());
        assert!(limits.check_client(ClientIp(Some(other_net))).is_ok());
    }

    #[test]
    fn forwarded_for_is_read_only_as_far_as_proxies_are_trusted() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        assert_eq!(client_ip(Some(peer), &headers, 0), Some(peer));
        assert_eq!(
            client_ip(Some(peer), &headers, 1),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(Some(peer), &headers, 2),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(client_ip(Some(peer), &headers, 5), Some(peer));
    }
}

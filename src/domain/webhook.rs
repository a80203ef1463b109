//! Webhook rules without I/O: which URLs an endpoint may have, which addresses Polis
//! refuses to call, and when a failed delivery is tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::TimeDelta;

/// Svix's schedule: after the first attempt (immediately) fails, the next comes 5 s
/// later, then 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; after the eighth the delivery is
/// given up.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The longest `Retry-After` honoured: a longer one would hold a delivery past the
/// whole schedule.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// An endpoint whose every delivery failed for this long is disabled.
pub const DISABLE_AFTER_FAILING: TimeDelta = TimeDelta::days(5);

/// The longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// How long to wait before the next attempt after `attempts` failed ones, honouring the
/// endpoint's `Retry-After` when it asks for longer; `None`: give up.
pub fn next_retry_delay(attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
    let scheduled = *RETRY_DELAYS.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let asked = retry_after.map_or(Duration::ZERO, |d| d.min(MAX_RETRY_AFTER));
    Some(scheduled.max(asked))
}

/// Checks an endpoint URL as written: `https` (or `http` when private URLs are
/// allowed), a host, no credentials, and — when the host is an address — a public one.
/// Host names are checked again after each DNS resolution, at delivery time.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must be an https:// URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (user info)".into());
    }
    let refused = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => is_local_name(name),
    };
    if refused && !allow_private {
        return Err("must not point at a loopback, private, link-local or metadata address".into());
    }
    Ok(url)
}

/// Names that always resolve to this machine or the local network.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
        || name.ends_with(".internal")
}

/// Whether Polis may call `ip`: not loopback, private, link-local (cloud metadata lives
/// at 169.254.169.254 and fd00:ec2::254), shared CGNAT space, unspecified, multicast,
/// broadcast or reserved, nor an IPv6 form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || first == 0x2001 && ip.segments()[1] == 0x0db8;
    !refused
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address, which reach that IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_svixs_and_retry_after_only_lengthens_it() {
        assert_eq!(next_retry_delay(1, None), Some(Duration::from_secs(5)));
        assert_eq!(next_retry_delay(2, None), Some(Duration::from_secs(300)));
        assert_eq!(next_retry_delay(7, None), Some(Duration::from_secs(36_000)));
        assert_eq!(
            next_retry_delay(8, None),
            None,
            "eight attempts, then given up"
        );
        assert_eq!(next_retry_delay(0, None), None);
        let asked = Some(Duration::from_secs(120));
        assert_eq!(next_retry_delay(1, asked), Some(Duration::from_secs(120)));
        assert_eq!(next_retry_delay(2, asked), Some(Duration::from_secs(300)));
        let huge = Some(Duration::from_secs(10 * 86_400));
        assert_eq!(next_retry_delay(1, huge), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!is_public(ip), "{refused} was allowed");
        }
        for allowed in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert!(is_public(ip), "{allowed} was refused");
        }
    }

    #[test]
    fn urls_must_be_https_to_public_hosts_unless_private_ones_are_allowed() {
        assert!(check_url("https://hooks.example.com/polis", false).is_ok());
        for refused in [
            "http://hooks.example.com/",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://169.254.169.254/latest",
            "https://localhost/",
            "https://metadata.google.internal/",
            "https://user:pass@hooks.example.com/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(check_url(refused, false).is_err(), "{refused} was allowed");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
    }
}

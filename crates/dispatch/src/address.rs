//! `allowed_addresses` entries: IP literals, CIDR prefixes and From-URI host names (SPEC §3).
//!
//! Unlike LiveKit, an entry that is none of these is an error when the trunk is written
//! (never silently ignored), a source IP that cannot be parsed matches no IP entry (fail
//! closed), host names compare case-insensitively, and IPv4-mapped IPv6 addresses are
//! treated as the IPv4 address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One parsed `allowed_addresses` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressFilter {
    Ip(IpAddr),
    /// A network: the address with host bits cleared, and the prefix length.
    Cidr(IpAddr, u8),
    /// A host name, lower-cased, compared with the From-URI host.
    Host(String),
}

impl AddressFilter {
    /// Parses an entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<AddressFilter, String> {
        if entry.is_empty() {
            return Err("an empty entry is not an address".into());
        }
        if let Some((addr, len)) = entry.split_once('/') {
            let ip = parse_ip(addr).ok_or_else(|| {
                format!("{entry:?} is not a CIDR prefix: {addr:?} is not an IP address")
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len: u8 = len.parse().ok().filter(|l| *l <= max).ok_or_else(|| {
                format!("{entry:?} is not a CIDR prefix: the length must be 0 to {max}")
            })?;
            return Ok(AddressFilter::Cidr(mask(ip, len), len));
        }
        if let Some(ip) = parse_ip(entry) {
            return Ok(AddressFilter::Ip(ip));
        }
        let host_chars = entry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let has_letter = entry.bytes().any(|b| b.is_ascii_alphabetic());
        if host_chars && has_letter && !entry.starts_with('.') && !entry.ends_with('.') {
            return Ok(AddressFilter::Host(entry.to_ascii_lowercase()));
        }
        Err(format!(
            "{entry:?} is neither an IP address, a CIDR prefix (e.g. 203.0.113.0/24) nor a host name (letters, digits, '-' and '.')"
        ))
    }

    /// Whether a call from `source` (if known) with this From host matches the entry.
    /// `from_host_lower` must already be lower-cased.
    pub fn matches(&self, source: Option<IpAddr>, from_host_lower: &str) -> bool {
        match self {
            AddressFilter::Ip(ip) => source == Some(*ip),
            AddressFilter::Cidr(net, len) => source.is_some_and(|s| contains(*net, *len, s)),
            AddressFilter::Host(h) => !from_host_lower.is_empty() && h == from_host_lower,
        }
    }

    /// Whether some call could match both entries. A host entry and an IP entry can be
    /// matched by the same call (one by From host, one by source address), so they overlap.
    pub fn overlaps(&self, other: &AddressFilter) -> bool {
        use AddressFilter::*;
        match (self, other) {
            (Host(a), Host(b)) => a == b,
            (Host(_), _) | (_, Host(_)) => true,
            (Ip(a), Ip(b)) => a == b,
            (Ip(a), Cidr(n, l)) | (Cidr(n, l), Ip(a)) => contains(*n, *l, *a),
            (Cidr(n1, l1), Cidr(n2, l2)) => {
                let l = (*l1).min(*l2);
                n1.is_ipv4() == n2.is_ipv4() && mask(*n1, l) == mask(*n2, l)
            }
        }
    }
}

impl fmt::Display for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressFilter::Ip(ip) => write!(f, "{ip}"),
            AddressFilter::Cidr(ip, len) => write!(f, "{ip}/{len}"),
            AddressFilter::Host(h) => f.write_str(h),
        }
    }
}

/// Parses an IP literal (IPv6 optionally in brackets), mapping IPv4-mapped IPv6 to IPv4.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    let ip: IpAddr = inner.parse().ok()?;
    if s.starts_with('[') && ip.is_ipv4() {
        return None;
    }
    Some(ip.to_canonical())
}

/// Clears the host bits of `ip` beyond `len`.
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && mask(ip, len) == net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        parse_ip(s)
    }

    #[test]
    fn parse_table() {
        let ok = [
            ("10.0.0.1", AddressFilter::Ip("10.0.0.1".parse().unwrap())),
            ("::1", AddressFilter::Ip("::1".parse().unwrap())),
            ("[::1]", AddressFilter::Ip("::1".parse().unwrap())),
            (
                "::ffff:10.0.0.1",
                AddressFilter::Ip("10.0.0.1".parse().unwrap()),
            ),
            (
                "10.0.0.5/24",
                AddressFilter::Cidr("10.0.0.0".parse().unwrap(), 24),
            ),
            (
                "0.0.0.0/0",
                AddressFilter::Cidr("0.0.0.0".parse().unwrap(), 0),
            ),
            (
                "2001:db8::1/32",
                AddressFilter::Cidr("2001:db8::".parse().unwrap(), 32),
            ),
            (
                "SIP.Twilio.com",
                AddressFilter::Host("sip.twilio.com".into()),
            ),
            ("pbx-1", AddressFilter::Host("pbx-1".into())),
        ];
        for (entry, want) in ok {
            assert_eq!(AddressFilter::parse(entry), Ok(want), "{entry}");
        }
        let bad = [
            "",
            "10.0.0.1/33",
            "::1/129",
            "10.0.0.300",
            "10.0.0.0/x",
            "sip://host",
            "a b",
            "host;x",
            "+1555",
            "*",
            "[10.0.0.1]",
            ".example.com",
            "1.2.3.4/",
            "(x)",
        ];
        for entry in bad {
            assert!(AddressFilter::parse(entry).is_err(), "{entry} should fail");
        }
    }

    #[test]
    fn matching() {
        let cidr = AddressFilter::parse("10.1.0.0/16").unwrap();
        assert!(cidr.matches(ip("10.1.2.3"), ""));
        assert!(!cidr.matches(ip("10.2.0.1"), ""));
        assert!(!cidr.matches(None, ""), "unknown source fails closed");
        assert!(cidr.matches(ip("::ffff:10.1.9.9"), ""), "v4-mapped v6");
        let v6 = AddressFilter::parse("2001:db8::/32").unwrap();
        assert!(v6.matches(ip("2001:db8:1::5"), ""));
        assert!(!v6.matches(ip("10.1.2.3"), ""));
        let all4 = AddressFilter::parse("0.0.0.0/0").unwrap();
        assert!(all4.matches(ip("8.8.8.8"), ""));
        assert!(!all4.matches(ip("::2"), ""));
        let host = AddressFilter::parse("Sip.Example.com").unwrap();
        assert!(host.matches(None, "sip.example.com"));
        assert!(!host.matches(ip("10.0.0.1"), "other"));
        let exact = AddressFilter::parse("[2001:db8::7]").unwrap();
        assert!(exact.matches(ip("2001:db8::7"), ""));
    }

    #[test]
    fn overlaps() {
        let p = |s: &str| AddressFilter::parse(s).unwrap();
        assert!(p("10.0.0.0/8").overlaps(&p("10.1.0.0/16")));
        assert!(p("10.1.0.0/16").overlaps(&p("10.0.0.0/8")));
        assert!(!p("10.1.0.0/16").overlaps(&p("10.2.0.0/16")));
        assert!(p("10.1.2.3").overlaps(&p("10.1.0.0/16")));
        assert!(!p("10.1.2.3").overlaps(&p("10.1.2.4")));
        assert!(!p("10.0.0.0/8").overlaps(&p("::/0")));
        assert!(p("a.example").overlaps(&p("A.example")));
        assert!(!p("a.example").overlaps(&p("b.example")));
        assert!(p("a.example").overlaps(&p("10.0.0.1")));
    }
}

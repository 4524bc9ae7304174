//! Which IP addresses outgoing HTTP may reach without an explicit operator exception.
//!
//! Written here rather than taken from a crate because the list is a security decision we must
//! own and test: the std `is_global` family is still unstable, and the cloud-metadata endpoints
//! are not in any standard list.

use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::LazyLock;

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    /// A cloud instance-metadata endpoint (AWS, GCP, Azure, Alibaba, ECS...).
    Metadata,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, unique-local IPv6, carrier-grade NAT.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// Anything else that is not routable on the public internet: unspecified, broadcast,
    /// multicast, documentation and benchmarking ranges, reserved space.
    Reserved,
}

impl std::fmt::Display for NonPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Metadata => "a cloud metadata address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private-network address",
            Self::LinkLocal => "a link-local address",
            Self::Reserved => "a reserved, non-public address",
        })
    }
}

static RANGES: LazyLock<Vec<(IpNet, NonPublic)>> = LazyLock::new(|| {
    use NonPublic::*;
    [
        // Metadata first: these sit inside link-local / private ranges and need the sharper label.
        ("169.254.169.254/32", Metadata),
        ("169.254.170.2/32", Metadata),
        ("100.100.100.200/32", Metadata),
        ("fd00:ec2::254/128", Metadata),
        ("127.0.0.0/8", Loopback),
        ("::1/128", Loopback),
        ("10.0.0.0/8", Private),
        ("172.16.0.0/12", Private),
        ("192.168.0.0/16", Private),
        ("100.64.0.0/10", Private),
        ("fc00::/7", Private),
        ("169.254.0.0/16", LinkLocal),
        ("fe80::/10", LinkLocal),
        ("0.0.0.0/8", Reserved),
        ("192.0.0.0/24", Reserved),
        ("192.0.2.0/24", Reserved),
        ("198.18.0.0/15", Reserved),
        ("198.51.100.0/24", Reserved),
        ("203.0.113.0/24", Reserved),
        ("224.0.0.0/4", Reserved),
        ("240.0.0.0/4", Reserved),
        ("::/128", Reserved),
        ("100::/64", Reserved),
        ("2001:db8::/32", Reserved),
        ("ff00::/8", Reserved),
        ("fec0::/10", Reserved),
    ]
    .into_iter()
    .map(|(net, class)| (net.parse().expect("static network literal"), class))
    .collect()
});

/// Classifies `ip`; `None` means public. IPv6 forms that embed an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by the embedded address, so `::ffff:127.0.0.1` cannot
/// sneak past as "IPv6".
pub fn classify(ip: IpAddr) -> Option<NonPublic> {
    if let Some(embedded) = embedded_ipv4(ip) {
        return classify(IpAddr::V4(embedded));
    }
    RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, class)| *class)
}

fn embedded_ipv4(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = |hi: u16, lo: u16| {
        std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
    };
    match s {
        // ::a.b.c.d (deprecated IPv4-compatible), but not :: or ::1
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(tail(hi, lo)),
        // 64:ff9b::/96 NAT64
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(tail(hi, lo)),
        // 2002::/16 6to4
        [0x2002, hi, lo, ..] => Some(tail(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<NonPublic> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "8.8.8.8",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn non_public_addresses_are_named() {
        let cases = [
            ("127.0.0.1", NonPublic::Loopback),
            ("127.255.0.9", NonPublic::Loopback),
            ("::1", NonPublic::Loopback),
            ("10.1.2.3", NonPublic::Private),
            ("172.16.0.1", NonPublic::Private),
            ("192.168.1.1", NonPublic::Private),
            ("100.64.0.1", NonPublic::Private),
            ("fd12::1", NonPublic::Private),
            ("169.254.169.254", NonPublic::Metadata),
            ("fd00:ec2::254", NonPublic::Metadata),
            ("100.100.100.200", NonPublic::Metadata),
            ("169.254.1.1", NonPublic::LinkLocal),
            ("fe80::1", NonPublic::LinkLocal),
            ("0.0.0.0", NonPublic::Reserved),
            ("::", NonPublic::Reserved),
            ("255.255.255.255", NonPublic::Reserved),
            ("224.0.0.1", NonPublic::Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_wrappers_of_ipv4_are_unwrapped() {
        assert_eq!(class("::ffff:127.0.0.1"), Some(NonPublic::Loopback));
        assert_eq!(class("::ffff:169.254.169.254"), Some(NonPublic::Metadata));
        assert_eq!(class("64:ff9b::a00:1"), Some(NonPublic::Private));
        assert_eq!(class("2002:a9fe:a9fe::"), Some(NonPublic::Metadata));
        assert_eq!(class("::7f00:1"), Some(NonPublic::Loopback));
        assert_eq!(class("::ffff:8.8.8.8"), None);
    }
}

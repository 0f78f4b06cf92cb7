//! The client network a limit counts by: an IPv4 address, or the /64 an IPv6 address lies in
//! (a subscriber is usually given a whole /64, so counting each /128 would give one client
//! 2^64 buckets). An IPv4-mapped IPv6 address counts as the IPv4 address.

use std::fmt;
use std::net::IpAddr;

use ipnet::Ipv6Net;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientNetwork(String);

impl ClientNetwork {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientNetwork(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientNetwork(v4.to_string()),
                None => ClientNetwork(
                    Ipv6Net::new(v6, 64)
                        .map(|net| net.trunc().to_string())
                        .unwrap_or_else(|_| v6.to_string()),
                ),
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn net(ip: &str) -> String {
        ClientNetwork::of(ip.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv6_counts_by_its_64_and_ipv4_by_its_address() {
        assert_eq!(net("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(net("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(net("2001:db8:1:3::1"), net("2001:db8:1:2::1"));
        assert_eq!(net("2001:db8:5:7:1:1eef::1"), "2001:db8:5:7::/64");
        assert_eq!(net("203.0.113.9"), "203.0.113.9");
        assert_eq!(net("::ffff:203.0.113.9"), "203.0.113.9");
        assert_ne!(net("203.0.113.9"), net("203.0.113.10"));
    }
}

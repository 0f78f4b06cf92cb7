//! The client's address: the TCP peer, or — only when the peer is a trusted proxy — the
//! nearest untrusted address in `X-Forwarded-For` (read right to left, so a client cannot
//! spoof it by sending its own header).

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    resolve(
        peer,
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok()),
        trusted,
    )
}

fn resolve<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = forwarded
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Direct client: its own header is ignored.
        assert_eq!(
            resolve(ip("1.2.3.4"), ["9.9.9.9"].into_iter(), &trusted),
            Some(ip("1.2.3.4"))
        );
        // Through the proxy: the right-most untrusted hop.
        assert_eq!(
            resolve(
                ip("10.0.0.5"),
                ["6.6.6.6, 1.2.3.4, 10.0.0.7"].into_iter(),
                &trusted
            ),
            Some(ip("1.2.3.4"))
        );
        // No usable header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.5"), std::iter::empty(), &trusted),
            Some(ip("10.0.0.5"))
        );
        // Nothing trusted: always the peer.
        assert_eq!(
            resolve(ip("10.0.0.5"), ["1.2.3.4"].into_iter(), &[]),
            Some(ip("10.0.0.5"))
        );
    }
}

//! The URL under load: `http://host[:port][/path]`, resolved once before the run.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::LoadError;

/// Where requests go: the addresses to connect to and what goes in the request line and `Host` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, for messages.
    pub url: String,
    /// `host:port` as written in the URL (the port only when the URL has one).
    pub host_header: String,
    /// The path with its query, `/` when the URL has none.
    pub path: String,
    /// Host name or address literal (IPv6 without brackets) and port, for resolution.
    host: String,
    port: u16,
}

impl Target {
    /// Parses `url`. Only `http://` is accepted: see [`LoadError::Https`].
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let invalid = |reason: &'static str| LoadError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(invalid("no scheme"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(LoadError::Https {
                url: url.to_owned(),
            });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid("the scheme is not http"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest.as_bytes()[at] == b'/' => (&rest[..at], rest[at..].to_owned()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or(invalid("bad host or port"))?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        Ok(Target {
            url: url.to_owned(),
            host_header: authority.to_owned(),
            path,
            host: host.to_owned(),
            port,
        })
    }

    /// Resolves the host; addresses in the resolver's order.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, LoadError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|source| LoadError::Resolve {
                url: self.url.clone(),
                source,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(LoadError::Resolve {
                url: self.url.clone(),
                source: std::io::Error::other("no addresses"),
            });
        }
        Ok(addrs)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; port 80 when absent.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, 80)),
            _ => Some((host, after.strip_prefix(':')?.parse().ok()?)),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok()?)),
        None => Some((authority, 80)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_host_header_path_and_port() {
        let t = Target::parse("http://127.0.0.1:18080/webhook?x=1").unwrap();
        assert_eq!(t.host_header, "127.0.0.1:18080");
        assert_eq!(t.path, "/webhook?x=1");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 18080));
    }

    #[test]
    fn a_url_without_path_or_port_posts_to_slash_on_port_80() {
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!((t.path.as_str(), t.port), ("/", 80));
        assert_eq!(t.host_header, "localhost");
    }

    #[test]
    fn an_ipv6_literal_keeps_its_brackets_in_the_host_header_only() {
        let t = Target::parse("http://[::1]:8080/webhook").unwrap();
        assert_eq!(t.host_header, "[::1]:8080");
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
    }

    #[test]
    fn https_is_refused_with_its_own_error() {
        let err = Target::parse("https://example.com/webhook").unwrap_err();
        assert!(matches!(err, LoadError::Https { .. }), "{err}");
        assert!(err.to_string().contains("plain HTTP"), "{err}");
    }

    #[test]
    fn malformed_urls_are_refused() {
        for url in [
            "127.0.0.1:80/x",
            "ftp://h/x",
            "http://:80/",
            "http://h:port/",
            "http://u@h/",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }
}

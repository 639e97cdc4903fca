//! The one rule for URLs zt sends tokens to or fetches keys from: HTTPS, or plain HTTP on
//! loopback only (development). Services the broker talks to or advertises must also not be
//! link-local (where cloud metadata answers) nor carry credentials, a query or a fragment.

use std::net::IpAddr;

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{what} {text:?} is not a URL: {reason}")]
    NotAUrl {
        what: String,
        text: String,
        reason: String,
    },
    #[error("{what} {text:?} must use https (plain http is allowed only on loopback)")]
    NotHttps { what: String, text: String },
    #[error(
        "{what} {text:?} is a link-local address (cloud metadata, not an identity provider); refused"
    )]
    LinkLocal { what: String, text: String },
    #[error("{what} {text:?} must not carry credentials, a query or a fragment")]
    ExtraParts { what: String, text: String },
}

/// Whether `host` names the loopback interface.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Whether `ip` is link-local (169.254.0.0/16, fe80::/10, or either mapped
/// into IPv6): where cloud metadata services answer, never an IdP.
pub fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_link_local(),
            None => v6.segments()[0] & 0xffc0 == 0xfe80,
        },
    }
}

/// `text` parsed, if it is HTTPS, or HTTP on loopback. `what` names it in the error.
pub fn https_or_loopback(what: &str, text: &str) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(|e| UrlError::NotAUrl {
        what: what.to_owned(),
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    let loopback = url.host().is_some_and(|h| is_loopback_host(&h));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(UrlError::NotHttps {
            what: what.to_owned(),
            text: text.to_owned(),
        }),
    }
}

/// An http(s) URL the broker may talk to or advertise: [`https_or_loopback`], never a
/// link-local address, and no credentials, query or fragment.
pub fn service_url(what: &str, text: &str) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(|e| UrlError::NotAUrl {
        what: what.to_owned(),
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    let link_local = match url.host() {
        Some(Host::Ipv4(ip)) => is_link_local(ip.into()),
        Some(Host::Ipv6(ip)) => is_link_local(ip.into()),
        _ => false,
    };
    if link_local {
        return Err(UrlError::LinkLocal {
            what: what.to_owned(),
            text: text.to_owned(),
        });
    }
    let url = https_or_loopback(what, text)?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(UrlError::ExtraParts {
            what: what.to_owned(),
            text: text.to_owned(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        for good in [
            "https://broker.example",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:1",
        ] {
            assert!(https_or_loopback("broker URL", good).is_ok(), "{good}");
        }
        for bad in [
            "http://broker.example",
            "http://10.0.0.1",
            "file:///etc/passwd",
            "ftp://broker.example",
            "broker.example",
            "",
        ] {
            assert!(https_or_loopback("broker URL", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn service_urls_must_be_https_except_loopback() {
        assert!(service_url("x", "https://idp.example").is_ok());
        assert!(service_url("x", "http://127.0.0.1:9000").is_ok());
        assert!(service_url("x", "http://localhost:9000/realm").is_ok());
        assert!(service_url("x", "http://idp.example").is_err());
        assert!(service_url("x", "file:///etc/passwd").is_err());
        assert!(service_url("x", "https://user:pw@idp.example").is_err());
        assert!(service_url("x", "https://idp.example/?q=1").is_err());
    }

    #[test]
    fn link_local_urls_are_refused() {
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "http://169.254.0.1",
            "https://[fe80::1]/",
            "https://[febf::1]/",
            "https://[::ffff:169.254.169.254]/",
        ] {
            let err = service_url("issuer", url).unwrap_err();
            assert!(matches!(err, UrlError::LinkLocal { .. }), "{url}: {err}");
            assert!(err.to_string().contains("link-local"), "{url}: {err}");
        }
        assert!(service_url("x", "https://[fec0::1]/").is_ok());
        assert!(service_url("x", "https://169.253.0.1/").is_ok());
    }
}

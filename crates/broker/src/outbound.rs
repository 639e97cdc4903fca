//! The HTTP client the broker uses to reach the identity provider: no
//! redirects (a redirect could point it at another host or downgrade the
//! scheme), bounded time, and no connection to a link-local address
//! whatever a host name resolves to (cloud metadata services live there).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use zt_core::urls::is_link_local;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .dns_resolver(Arc::new(NoLinkLocal))
        .build()
        .expect("HTTP client builds")
}

/// The system resolver, minus link-local answers.
struct NoLinkLocal;

impl Resolve for NoLinkLocal {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(without_link_local(&host, found)?.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolved addresses minus link-local ones; an error if none is left.
fn without_link_local(host: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    let any = !found.is_empty();
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| !is_link_local(a.ip()))
        .collect();
    if allowed.is_empty() && any {
        return Err(format!(
            "{host} resolves only to link-local addresses, which the broker never contacts"
        ));
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn link_local_answers_are_dropped() {
        let found = addrs(&[
            "169.254.169.254:0",
            "192.0.2.1:0",
            "[fe80::1]:0",
            "[2001:db8::1]:0",
        ]);
        assert_eq!(
            without_link_local("idp.example", found),
            Ok(addrs(&["192.0.2.1:0", "[2001:db8::1]:0"]))
        );
        let only = addrs(&["169.254.169.254:0", "[fe80::1%2]:0"]);
        let err = without_link_local("metadata.example", only).unwrap_err();
        assert!(err.contains("link-local"), "{err}");
    }
}

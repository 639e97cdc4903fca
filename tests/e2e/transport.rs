//! The broker over HTTPS (rustls): zt verifies its certificate and sends
//! nothing to a broker it cannot verify.

use super::certificates_issued;
use super::fixture::{Broker, POLICY, TlsFiles, User};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

#[test]
fn login_over_https_verifies_the_broker_certificate() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let tls = TlsFiles::new();
    let broker = Broker::start_tls(&idp.issuer, POLICY, &tls);
    assert!(broker.url.starts_with("https://"), "{}", broker.url);

    // A client that does not trust the broker's CA stops at discovery.
    let stranger = User::new();
    let run = stranger.run(&["login", "--json", "--broker", &broker.url]);
    assert_eq!(run.code, Some(6), "{run:?}");
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
    assert!(
        run.stderr.contains("SSL_CERT_FILE"),
        "the TLS hint: {}",
        run.stderr
    );
    // No device prompt: the one JSON document is the failure.
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert_eq!(lines[0]["error"]["code"], "unreachable", "{run:?}");
    assert_eq!(lines[0]["error"]["exit_code"], 6, "{run:?}");

    // Trusting the CA (SSL_CERT_FILE), the whole login runs over HTTPS.
    let user = User::new().with_env("SSL_CERT_FILE", tls.path("ca.pem"));
    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(login.code, Some(0), "{login:?}\nbroker:\n{}", broker.log());
    let issued = certificates_issued(&broker);
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0]["identity"]["subject"], "sub-alice");
}

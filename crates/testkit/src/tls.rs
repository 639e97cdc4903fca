//! Throwaway TLS material for the in-process and real peers that speak TLS (the kubectl
//! check server, PostgreSQL): a CA, and a server certificate it signed for 127.0.0.1 and
//! localhost. A separate CA rather than a self-signed leaf: verifiers (Go's, rustls with
//! `verify-full`) want a proper chain.

/// A CA and the server certificate and key it signed.
pub struct LocalhostCertificates {
    /// The CA certificate (PEM): what a client trusts.
    pub ca_pem: String,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// The server's private key, PKCS#8 (PEM and DER).
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

/// A new CA named `ca_name` and a server certificate for 127.0.0.1 and localhost.
pub fn localhost_certificates(ca_name: &str) -> LocalhostCertificates {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    let cert = leaf.signed_by(&key, &issuer).expect("server certificate");
    LocalhostCertificates {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}

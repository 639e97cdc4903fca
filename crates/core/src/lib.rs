//! zt-core: the wire types shared by `zt` and `zt-broker` ([`proto`]) and the pure domain
//! under both: who may have which certificate ([`policy`]), building and checking certificates
//! ([`ca`]), JOSE, DPoP and token checks, the audit chain, revocations and the KRL.
//!
//! Nothing here does I/O: no clock (every check takes `now`), no disk, no network, no
//! terminal. The operating system's CSPRNG is the one outside source the domain draws on, for
//! nonces, serials and signatures (docs/architecture.md, "Who may touch what").

pub mod access_token;
pub mod audit;
pub mod ca;
pub mod device;
pub mod dpop;
pub mod host_layout;
pub mod id_token;
pub mod jose;
pub mod krl;
pub mod nonce;
pub mod policy;
pub mod posture;
pub mod proto;
pub mod requests;
pub mod revocation;
pub mod service_token;
pub mod text;
pub mod time;
pub mod urls;
pub mod workload_token;

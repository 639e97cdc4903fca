//! zt: zero-trust SSH access. Library behind the `zt` and `zt-broker` binaries.
//!
//! Import direction (see `docs/architecture.md`): binaries → `cli`/`broker`;
//! `cli` → `client`, `posture`; `client` and `broker` → `proto` and the domain
//! modules (`ca`, `policy`, `jose`, `dpop`, `id_token`, `access_token`,
//! `audit`). Domain modules do no I/O and read no clock.
#![forbid(unsafe_code)]

pub mod access_token;
pub mod audit;
pub mod broker;
pub mod ca;
pub mod cli;
pub mod client;
pub mod dev_issuer;
pub mod dpop;
pub mod exit;
pub mod files;
pub mod id_token;
pub mod jose;
pub mod krl;
pub mod policy;
pub mod posture;
pub mod process_hygiene;
pub mod proto;
pub mod revocation;

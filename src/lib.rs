//! zt: zero-trust SSH access. Library behind the `zt` and `zt-broker` binaries.
//!
//! Import direction (see `docs/architecture.md`): binaries → `cli`/`broker`;
//! `cli` → `client`, `posture`; `client` and `broker` → `proto` and the domain
//! modules (`ca`, `policy`, `jose`, `audit`, `timefmt`). Domain modules do no I/O.
#![forbid(unsafe_code)]

pub mod ca;
pub mod policy;

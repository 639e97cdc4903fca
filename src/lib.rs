//! zt: the client behind the `zt` binary.
//!
//! `cli` (one file per subcommand) is the command layer: it parses, calls into the modules
//! below, and alone maps their errors to exit codes. `client` is the I/O a developer's machine
//! does (broker client, OIDC device flow, credentials, ssh-agent, ssh). `host` is the
//! target-side half (`zt host enroll|renew|krl-sync`). `posture` collects the local device
//! report. Wire types and domain rules come from `zt-core`; files, clock and exit statuses
//! from `zt-os`. See docs/architecture.md.

pub mod cli;
pub mod client;
pub mod host;
pub mod posture;

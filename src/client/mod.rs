//! Client-side I/O: the broker client, the OIDC device flow, credential
//! storage, ssh-agent, paths and the login session.

pub mod agent;
pub mod broker;
pub mod ci;
pub mod credentials;
pub mod error;
pub mod http;
pub mod identity_links;
pub mod oidc;
pub mod paths;
pub mod permissions;
pub mod posture_gate;
pub mod profile;
pub mod renewal;
pub mod retry;
pub mod session;
pub mod ssh_args;
pub mod ssh_config;
pub mod workload;

//! zt-broker: HTTP handlers (thin) → service (logic) → store.

pub mod cli;
pub mod config;
pub mod connections;
pub mod http;
pub mod idp;
pub mod keys;
pub mod limits;
pub mod outbound;
pub mod service;
pub mod store;

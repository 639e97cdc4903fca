//! zt's integration tests: one binary (`cargo test --test tests`), one module per area.
//! See tests/README.md for the real peers these tests start and what is skipped when.

#![forbid(unsafe_code)]

mod assets;
mod attacks;
mod audit;
mod cluster;
mod e2e;
mod golden;
mod hosts;
mod layers;
mod manual;
mod peers;

//! Self-tests of the harness: they prove the peers in `support` are the real programs and
//! behave as the rest of the tests assume, without any of zt's code.

mod idp;
mod sshd;

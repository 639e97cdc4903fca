//! Host enrolment, revocation and the KRL, against the real OpenSSH.

pub mod admin;
mod krl;
mod sshd;

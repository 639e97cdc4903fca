//! Host enrolment, revocation and the KRL, against the real OpenSSH.

mod admin;
mod krl;
mod sshd;

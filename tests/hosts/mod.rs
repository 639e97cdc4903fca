//! Host enrolment, revocation and the KRL, against the real OpenSSH.

mod krl;

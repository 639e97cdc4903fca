//! `zt status`: identity, broker, certificate expiry. Exits 3 when not
//! logged in or when the certificate has expired. Offline.

use clap::Args;

use super::Ctx;
use crate::client::session::{Session, remaining};
use zt_core::text::{Printable, PrintableList};
use zt_os::clock::unix_now;
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_args: StatusArgs, ctx: &Ctx) -> Result<(), Failure> {
    let session = Session::load(&ctx.paths)?.ok_or_else(|| {
        Failure::login_required(format!("profile {:?} is not logged in", ctx.profile))
    })?;
    let now = unix_now();
    let cert = session.certificate.as_ref();
    let left = cert
        .map(|c| c.valid_before as i64 - now as i64)
        .unwrap_or(0);
    if ctx.json {
        super::json::emit(&serde_json::json!({
            "profile": ctx.profile,
            "broker": session.broker,
            "identity": super::json::identity(&session),
            "device": { "id": session.device },
            "certificate": cert.map(|c| super::json::certificate(c, now)),
        }));
    } else {
        eprintln!("profile:      {}", ctx.profile);
        // Everything in session.json came from the broker or the IdP: escaped.
        eprintln!("broker:       {}", Printable(&session.broker));
        eprintln!(
            "identity:     {} ({})",
            Printable(session.email.as_deref().unwrap_or(&session.subject)),
            Printable(&session.issuer)
        );
        if session.groups.is_empty() {
            eprintln!("groups:       (none)");
        } else {
            eprintln!("groups:       {}", PrintableList(&session.groups));
        }
        match &session.device {
            Some(device) => eprintln!("device:       {}", Printable(device)),
            None => eprintln!("device:       (log in again to see it)"),
        }
        match cert {
            Some(c) => {
                eprintln!("principals:   {}", PrintableList(&c.principals));
                eprintln!(
                    "certificate:  serial {} (rule {}), {}",
                    c.serial,
                    Printable(&c.rule),
                    if left > 0 {
                        format!("{} left", remaining(left))
                    } else {
                        "expired".into()
                    }
                );
                if let Some(p) = &c.posture {
                    eprintln!(
                        "posture:      {} (report {})",
                        Printable(&p.requirements.to_string()),
                        Printable(&p.digest)
                    );
                    for w in &p.warnings {
                        eprintln!(
                            "              in grace: {}: {}",
                            Printable(&w.requirement),
                            Printable(&w.evidence)
                        );
                    }
                }
                eprintln!(
                    "key:          {}",
                    if c.in_agent {
                        "in ssh-agent"
                    } else {
                        "0600 file in the runtime directory"
                    }
                );
            }
            None => eprintln!("certificate:  none"),
        }
    }
    if left <= 0 {
        return Err(Failure::login_required("the certificate has expired")
            .hint("`zt ssh` renews it silently, or run `zt login`"));
    }
    Ok(())
}

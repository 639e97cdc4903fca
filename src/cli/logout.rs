//! `zt logout`: revoke the refresh token at the IdP (when it offers
//! revocation), remove the agent entry, delete local state and secrets.

use clap::Args;

use super::Ctx;
use crate::client::credentials::{DEVICE_KEY, REFRESH_TOKEN};
use crate::client::oidc::Idp;
use crate::client::session::{self, Session};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct LogoutArgs {}

pub fn run(_args: LogoutArgs, ctx: &Ctx) -> Result<(), Failure> {
    let secrets = ctx.secrets()?;
    let session = Session::load(&ctx.paths).ok().flatten();
    let mut revoked = false;
    if let (Some(session), Some(token)) = (&session, secrets.get(REFRESH_TOKEN)?) {
        let result = super::runtime()?.block_on(async {
            let idp = Idp::discover(
                crate::client::http::client()?,
                &session.issuer,
                &session.client_id,
            )
            .await?;
            idp.revoke(&token).await
        });
        match result {
            Ok(done) => revoked = done,
            // Local cleanup still happens; say that the IdP session may live on.
            Err(e) => eprintln!(
                "zt: could not revoke the session at the identity provider ({e}); removing local state anyway"
            ),
        }
    }
    if session
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| c.in_agent)
    {
        if let Some(cert) = ctx
            .paths
            .existing_runtime()?
            .as_ref()
            .and_then(session::installed_certificate)
        {
            let _ = crate::client::agent::remove(&cert);
        }
    }
    crate::client::identity_links::remove(&ctx.paths)?;
    secrets.delete(REFRESH_TOKEN)?;
    secrets.delete(DEVICE_KEY)?;
    session::remove_files(&ctx.paths)?;
    if ctx.json {
        super::json::emit(
            &serde_json::json!({ "event": "logout", "profile": ctx.profile, "revoked_at_idp": revoked }),
        );
    }
    eprintln!(
        "Logged out of profile {}{}.",
        ctx.profile,
        if revoked {
            " (session revoked at the identity provider)"
        } else {
            ""
        }
    );
    Ok(())
}

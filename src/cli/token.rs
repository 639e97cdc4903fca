//! `zt token`: a fresh DPoP-bound broker access token on stdout, for
//! scripts that call the broker themselves. It is bound to this device's
//! key, so on its own it is useless to anyone who copies it.

use clap::Args;

use super::Ctx;
use crate::client::session::{self, Session};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct TokenArgs {}

pub fn run(_args: TokenArgs, ctx: &Ctx) -> Result<(), Failure> {
    let session = Session::load(&ctx.paths)?.ok_or_else(|| {
        Failure::login_required(format!("profile {:?} is not logged in", ctx.profile))
    })?;
    let secrets = ctx.secrets()?;
    let token = super::runtime()?.block_on(async {
        let (broker, config, idp) = session::connect(&session.broker).await?;
        let device = session::device_key(&secrets)?;
        session::with_fresh_id_token(&idp, &secrets, async |id_token: &str| {
            broker.exchange(&config, &device, id_token).await
        })
        .await
    })?;
    if ctx.json {
        super::json::emit(&serde_json::json!({ "access_token": token, "token_type": "DPoP" }));
    } else {
        zt_os::stdout::println(&token)?;
    }
    Ok(())
}

//! `zt token`: a fresh DPoP-bound broker access token on stdout, for
//! scripts that call the broker themselves. It is bound to this device's
//! key, so on its own it is useless to anyone who copies it.

use clap::Args;

use super::Ctx;
use crate::client::broker::BrokerClient;
use crate::client::credentials::REFRESH_TOKEN;
use crate::client::oidc::Idp;
use crate::client::session::{self, Session};
use crate::exit::Failure;

#[derive(Debug, Args)]
pub struct TokenArgs {}

pub fn run(_args: TokenArgs, ctx: &Ctx) -> Result<(), Failure> {
    let session = Session::load(&ctx.paths)?.ok_or_else(|| {
        Failure::login_required(format!("profile {:?} is not logged in", ctx.profile))
    })?;
    let secrets = ctx.secrets()?;
    let refresh = secrets
        .get(REFRESH_TOKEN)?
        .ok_or_else(|| Failure::login_required("no saved session to mint a token from"))?;
    let token = super::runtime()?.block_on(async {
        let http = crate::client::http::client()?;
        let broker = BrokerClient::new(http.clone(), &session.broker)?;
        let config = broker.configuration().await?;
        let idp = Idp::discover(
            http,
            &config.identity_provider.issuer,
            &config.identity_provider.client_id,
        )
        .await?;
        let tokens = idp.refresh(&refresh).await?;
        if let Some(rotated) = &tokens.refresh_token {
            secrets.set(REFRESH_TOKEN, rotated)?;
        }
        broker
            .exchange(&config, &session::device_key(&secrets)?, &tokens.id_token)
            .await
    })?;
    if ctx.json {
        super::print_json(&serde_json::json!({ "access_token": token, "token_type": "DPoP" }));
    } else {
        println!("{token}");
    }
    Ok(())
}

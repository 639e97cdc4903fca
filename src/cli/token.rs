//! `zt token`: a fresh broker token on stdout, for scripts that call the broker themselves
//! (bound to this device's key, so on its own it is useless to anyone who copies it); or, with
//! `--audience A`, a short-lived token for service A, as the raw JWT, an `Authorization:`
//! header line for curl, or a Kubernetes `ExecCredential` for kubectl.

use clap::{Args, ValueEnum};

use super::Ctx;
use crate::client::session::{self, Session};
use zt_core::proto::TokenExchangeResponse;
use zt_os::clock::unix_now;
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Get a token for this service instead of a broker token (the policy rule must list it
    /// in `audiences`)
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// How to print the token
    #[arg(long, value_enum, default_value_t = Format::Jwt)]
    pub format: Format,
    #[command(flatten)]
    pub ci: super::ci::CiArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The token alone, one line
    Jwt,
    /// `Authorization: Bearer <token>`, for `curl -H @-`
    Header,
    /// A client.authentication.k8s.io/v1 ExecCredential, for kubectl's exec credential plugin
    Kubectl,
}

pub fn run(args: TokenArgs, ctx: &Ctx) -> Result<(), Failure> {
    if args.audience.is_none() && args.format != Format::Jwt {
        return Err(Failure::new(
            Exit::Usage,
            "--format header and kubectl are for tokens for other services",
        )
        .hint("add --audience SERVICE"));
    }
    let ci = args.ci.active(ctx);
    if ci && args.audience.is_none() {
        return Err(Failure::new(
            Exit::Usage,
            "a CI job's broker token is bound to a key that lives only inside this zt run, so printing it is of no use",
        )
        .hint("ask for a token for the service with --audience SERVICE"));
    }
    let runtime = super::runtime()?;
    let Some(audience) = args.audience.as_deref() else {
        let token = runtime.block_on(broker_token(ctx))?;
        if ctx.json {
            super::json::emit(&serde_json::json!({ "access_token": token, "token_type": "DPoP" }));
        } else {
            zt_os::stdout::println(&token)?;
        }
        return Ok(());
    };
    let response = runtime.block_on(async {
        if ci {
            let login = args.ci.login(ctx, None, false).await?;
            Ok::<_, Failure>(login.token_for_audience(audience).await?)
        } else {
            Ok(service_token(ctx, audience).await?)
        }
    })?;
    let expires_at = unix_now() + response.expires_in;
    if ctx.json {
        let mut value = serde_json::json!({
            "token": response.access_token,
            "token_type": "Bearer",
            "audience": audience,
        });
        super::json::insert_time(&mut value, "expires_at", expires_at);
        super::json::emit(&value);
        return Ok(());
    }
    zt_os::stdout::println(&render(args.format, &response, expires_at))?;
    Ok(())
}

/// The token as `format` prints it. Pure.
fn render(format: Format, response: &TokenExchangeResponse, expires_at: u64) -> String {
    match format {
        Format::Jwt => response.access_token.clone(),
        Format::Header => format!("Authorization: Bearer {}", response.access_token),
        Format::Kubectl => serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {
                "token": response.access_token,
                "expirationTimestamp": zt_core::time::rfc3339(expires_at),
            },
        })
        .to_string(),
    }
}

fn logged_in(ctx: &Ctx) -> Result<Session, Failure> {
    Session::load(&ctx.paths)?.ok_or_else(|| {
        Failure::login_required(format!("profile {:?} is not logged in", ctx.profile))
    })
}

/// A fresh broker token of the profile's session.
async fn broker_token(ctx: &Ctx) -> Result<String, Failure> {
    let session = logged_in(ctx)?;
    let secrets = ctx.secrets()?;
    let (broker, config, idp) = session::connect(&session.broker).await?;
    let device = session::device_key(&secrets)?;
    Ok(
        session::with_fresh_id_token(&idp, &secrets, async |id_token: &str| {
            broker.exchange(&config, &device, id_token).await
        })
        .await?,
    )
}

/// A token for `audience`, from a fresh broker token of the profile's session.
async fn service_token(ctx: &Ctx, audience: &str) -> Result<TokenExchangeResponse, Failure> {
    let session = logged_in(ctx)?;
    let secrets = ctx.secrets()?;
    let (broker, config, idp) = session::connect(&session.broker).await?;
    let device = session::device_key(&secrets)?;
    Ok(
        session::with_fresh_id_token(&idp, &secrets, async |id_token: &str| {
            let access = broker.exchange(&config, &device, id_token).await?;
            broker
                .token_for_audience(&config, &device, &access, audience)
                .await
        })
        .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_print_what_curl_and_kubectl_read() {
        let response = TokenExchangeResponse {
            access_token: "aaa.bbb.ccc".into(),
            issued_token_type: zt_core::proto::TOKEN_TYPE_JWT.into(),
            token_type: "Bearer".into(),
            expires_in: 300,
        };
        assert_eq!(render(Format::Jwt, &response, 0), "aaa.bbb.ccc");
        assert_eq!(
            render(Format::Header, &response, 0),
            "Authorization: Bearer aaa.bbb.ccc"
        );
        let credential: serde_json::Value =
            serde_json::from_str(&render(Format::Kubectl, &response, 1_800_000_000)).unwrap();
        assert_eq!(
            credential,
            serde_json::json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": "aaa.bbb.ccc", "expirationTimestamp": "2027-01-15T08:00:00Z"},
            })
        );
    }
}

//! `zt login`: broker discovery → OIDC discovery → device authorization
//! (prompt, QR, spinner) → verified ID token → token exchange → first
//! certificate. Secrets go to the credential store; nothing else secret
//! is written.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::Ctx;
use crate::client::broker::BrokerClient;
use crate::client::credentials::REFRESH_TOKEN;
use crate::client::oidc::{DevicePrompt, Idp};
use crate::client::profile::{ClientConfig, Profile};
use crate::client::session::{self, Session};
use zt_core::text::{Printable, PrintableList};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Broker URL (saved in the profile for later commands)
    #[arg(long, env = "ZT_BROKER")]
    pub broker: Option<String>,
    #[command(flatten)]
    pub ci: super::ci::CiArgs,
}

pub fn run(args: LoginArgs, ctx: &Ctx) -> Result<(), Failure> {
    if args.ci.active(ctx) {
        return ci_login(&args, ctx);
    }
    let mut config = ClientConfig::load(&ctx.paths.config_file)?;
    let broker_url = match args
        .broker
        .or_else(|| config.profiles.get(&ctx.profile).map(|p| p.broker.clone()))
    {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            return Err(Failure::config(format!(
                "no broker configured for profile {:?}",
                ctx.profile
            ))
            .hint("run `zt login --broker https://broker.example.com`"));
        }
    };
    // zt's directories are checked (and made) before the prompt, not after the sign-in.
    ctx.paths.prepare()?;
    let secrets = ctx.secrets()?;
    super::runtime()?.block_on(async {
        let http = crate::client::http::client()?;
        let broker = BrokerClient::new(http.clone(), &broker_url)?;
        let broker_config = broker.configuration().await?;
        let idp_info = &broker_config.identity_provider;
        let idp = Idp::discover(http, &idp_info.issuer, &idp_info.client_id).await?;
        let prompt = idp.start_device_flow(&idp_info.scopes).await?;
        show_prompt(&prompt, ctx.json);
        let tokens = wait_for_approval(&idp, &prompt, ctx.json).await?;
        match &tokens.refresh_token {
            Some(token) => secrets.set(REFRESH_TOKEN, token)?,
            None => {
                secrets.delete(REFRESH_TOKEN)?;
                eprintln!("zt: the identity provider issued no refresh token; certificates cannot be renewed silently");
            }
        }
        // A device belongs to the identity that registered it: logging in as someone else in
        // this profile starts a new device.
        let before = Session::load(&ctx.paths).ok().flatten();
        let someone_else = before
            .as_ref()
            .is_some_and(|s| s.issuer != idp_info.issuer || s.subject != tokens.subject);
        if someone_else {
            session::forget_device_key(&secrets)?;
        }
        let device = session::device_key(&secrets)?;
        let previous = before.and_then(|s| s.certificate);
        let cert = session::obtain_certificate(&broker, &broker_config, &device, &tokens.id_token, &ctx.paths, previous.as_ref()).await?;
        let session = Session {
            broker: broker_url.clone(),
            issuer: idp_info.issuer.clone(),
            client_id: idp_info.client_id.clone(),
            subject: tokens.subject.clone(),
            email: tokens.email.clone(),
            groups: tokens.groups.clone(),
            certificate: Some(cert.clone()),
            device: Some(device.thumbprint()),
        };
        session.save(&ctx.paths)?;
        config.profiles.insert(ctx.profile.clone(), Profile { broker: broker_url.clone() });
        config.save(&ctx.paths.config_file)?;
        let who = tokens.email.clone().unwrap_or_else(|| tokens.subject.clone());
        if ctx.json {
            super::json::emit(&serde_json::json!({
                "event": "login",
                "profile": ctx.profile,
                "broker": broker_url,
                "identity": super::json::identity(&session),
                "certificate": super::json::certificate(&cert, zt_os::clock::unix_now()),
            }));
        }
        eprintln!(
            "Logged in as {}. Certificate for {} valid for {} (rule {}).",
            Printable(&who),
            PrintableList(&cert.principals),
            session::remaining(cert.valid_before as i64 - zt_os::clock::unix_now() as i64),
            Printable(&cert.rule)
        );
        super::posture::warn_grace(&cert);
        Ok(())
    })
}

/// `zt login --ci`: the whole path a job takes (workload token, exchange, certificate), with
/// nothing kept: each later command of the job logs in the same way. Says who the job is and
/// what it gets.
fn ci_login(args: &LoginArgs, ctx: &Ctx) -> Result<(), Failure> {
    super::runtime()?.block_on(async {
        let login = args.ci.login(ctx, args.broker.as_deref(), true).await?;
        let dir = crate::client::ci::CiDir::create()?;
        let cert = login.certificate(&dir).await?;
        drop(dir);
        let now = zt_os::clock::unix_now();
        if ctx.json {
            super::json::emit(&serde_json::json!({
                "event": "login",
                "mode": "ci",
                "profile": ctx.profile,
                "broker": login.config.broker,
                "source": login.source,
                "identity": login.identity(),
                "certificate": super::json::certificate(&cert, now),
            }));
        }
        let subject = login.identity()["subject"].as_str().unwrap_or("?").to_owned();
        eprintln!(
            "CI job {} may log in: certificate for {} valid for {} (rule {}). Nothing was kept; `zt ssh --ci` and `zt token --ci` log in the same way.",
            Printable(&subject),
            PrintableList(&cert.principals),
            session::remaining(cert.valid_before as i64 - now as i64),
            Printable(&cert.rule)
        );
        Ok(())
    })
}

fn show_prompt(prompt: &DevicePrompt, json: bool) {
    let complete = prompt.verification_uri_complete();
    if json {
        super::json::emit(&serde_json::json!({
            "event": "device_authorization",
            "verification_uri": prompt.verification_uri(),
            "verification_uri_complete": complete,
            "user_code": prompt.user_code(),
            "expires_in": prompt.expires_in().as_secs(),
        }));
    }
    let uri = complete
        .clone()
        .unwrap_or_else(|| prompt.verification_uri());
    eprintln!(
        "To sign in, open {} and enter the code {}",
        Printable(&prompt.verification_uri()),
        Printable(&prompt.user_code())
    );
    if std::io::stderr().is_terminal() {
        if let Some(art) = super::qr::render(&uri) {
            eprint!("{art}");
        }
    }
}

async fn wait_for_approval(
    idp: &Idp,
    prompt: &DevicePrompt,
    json: bool,
) -> Result<crate::client::oidc::Tokens, Failure> {
    let deadline = Instant::now() + prompt.expires_in();
    let spinner = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let left = |spinner: &ProgressBar| {
        let secs = deadline.saturating_duration_since(Instant::now()).as_secs() as i64;
        spinner.set_message(format!(
            "Waiting for approval… code expires in {}",
            session::remaining(secs)
        ));
    };
    left(&spinner);
    let sleep = |wait: Duration| {
        let spinner = spinner.clone();
        async move {
            left(&spinner);
            tokio::time::sleep(wait).await;
            left(&spinner);
        }
    };
    let result = idp.finish_device_flow(prompt, sleep).await;
    spinner.finish_and_clear();
    Ok(result?)
}

//! The `--ci` flags that `zt login`, `zt ssh`, `zt forward` and `zt token` share, and when a
//! command takes the CI path: with `--ci`, or on its own when the profile has no session and
//! zt runs non-interactively in a CI environment (a job never waits for a person).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::Ctx;
use crate::client::ci::{self, CiLogin};
use crate::client::profile::ClientConfig;
use crate::client::session::Session;
use crate::client::workload::{self, CiOptions, KUBERNETES_TOKEN_PATH, SourceKind};
use zt_core::text::Printable;
use zt_os::exit::Failure;

#[derive(Debug, Clone, Args)]
pub struct CiArgs {
    /// Log in as this CI job with its workload identity (GitHub Actions, GitLab CI,
    /// Kubernetes, client credentials): nothing stored, nothing prompted
    #[arg(long)]
    pub ci: bool,
    /// Use this workload identity source only (implies --ci)
    #[arg(long, value_name = "SOURCE")]
    pub ci_source: Option<SourceKind>,
    /// The variable that holds the job's ID token, e.g. a GitLab CI `id_tokens` entry
    /// (implies --ci)
    #[arg(long, value_name = "NAME")]
    pub id_token_env: Option<String>,
    /// A file that holds the job's ID token, e.g. a Kubernetes projected service-account
    /// token (implies --ci; also ZT_ID_TOKEN_FILE)
    #[arg(long, value_name = "PATH")]
    pub id_token_file: Option<PathBuf>,
}

impl CiArgs {
    fn options(&self) -> CiOptions {
        CiOptions {
            source: self.ci_source,
            id_token_env: self.id_token_env.clone(),
            id_token_file: self.id_token_file.clone(),
        }
    }

    fn explicit(&self) -> bool {
        self.ci
            || self.ci_source.is_some()
            || self.id_token_env.is_some()
            || self.id_token_file.is_some()
    }

    /// Whether this command runs as a CI job: asked for, or no session for the profile while
    /// zt runs in a CI environment with no terminal to prompt on.
    pub fn active(&self, ctx: &Ctx) -> bool {
        if self.explicit() {
            return true;
        }
        // Cheapest first: most commands run on a person's machine, outside CI, and then the
        // session file is never read here.
        let active = workload::is_ci_environment(
            &workload::process_env,
            std::path::Path::new(KUBERNETES_TOKEN_PATH),
        ) && !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
            && Session::load(&ctx.paths).ok().flatten().is_none();
        if active && !ctx.json {
            eprintln!(
                "zt: no login session and no terminal in a CI job: logging in with the job's workload identity (--ci)"
            );
        }
        active
    }

    /// Log the job in at `broker` (or the broker from `ZT_BROKER` or the profile), saying so
    /// on stderr when `announce` (not for `zt token`, whose stderr is kubectl's).
    pub async fn login(
        &self,
        ctx: &Ctx,
        broker: Option<&str>,
        announce: bool,
    ) -> Result<CiLogin, Failure> {
        let url = broker_url(ctx, broker)?;
        let login = ci::login(&url, &self.options()).await.map_err(|e| {
            let failure = Failure::from(e);
            if failure.exit == zt_os::exit::Exit::LoginRequired {
                // There is no session to log in again with: the job's token itself was refused.
                failure.hint("the job's identity token was refused; check that the broker lists its issuer under [[workload_issuers]] and that the token is fresh and for the broker's audience")
            } else {
                failure
            }
        })?;
        if announce && !ctx.json {
            eprintln!(
                "zt: logged in at {} as a CI job ({})",
                Printable(&url),
                Printable(&login.source)
            );
        }
        Ok(login)
    }
}

/// The broker a job logs in to: `--broker`, else `ZT_BROKER`, else the profile's.
fn broker_url(ctx: &Ctx, explicit: Option<&str>) -> Result<String, Failure> {
    let from_env = std::env::var("ZT_BROKER").ok().filter(|v| !v.is_empty());
    let url = match explicit.map(str::to_owned).or(from_env) {
        Some(url) => url,
        None => ClientConfig::load(&ctx.paths.config_file)?
            .profiles
            .get(&ctx.profile)
            .map(|p| p.broker.clone())
            .ok_or_else(|| {
                Failure::config("no broker for the CI job")
                    .hint("set ZT_BROKER=https://broker.example.com in the job's environment")
            })?,
    };
    Ok(url.trim_end_matches('/').to_owned())
}

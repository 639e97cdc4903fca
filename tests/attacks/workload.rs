//! Attacks on workload identity and on tokens for other services (issue 13), each next to
//! an honest control: forged and confused workload tokens, floods of unknown keys, issuers
//! the broker does not trust, claims shaped to slip past `match.claims`, service tokens
//! presented where a broker token belongs, replays (concurrent ones too) and `aud` arrays.
//! The real broker trusts a GitHub-shaped [`WorkloadIssuer`] and a [`HostileIdp`] (which
//! signs what a real issuer never would); every refusal is checked on the audit record.

mod claims;
mod keys;
mod replay;
mod service_tokens;

// What the files above share: they `use super::*`.
use std::sync::Barrier;

use serde_json::{Value, json};
use zt_core::jose::{SigningKey, b64, random_id};
use zt_core::proto::{self, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT};
use zt_core::requests::{audience_form, exchange_form, workload_exchange_form};
use zt_core::text::needs_escape;

use super::{Caller, assert_refused, with, without};
use crate::e2e::fixture::{Broker, User};
use zt_testkit::broker_client::ssh_key;
use zt_testkit::hostile_idp::{EC_KID, HostileIdp, RSA_KID, sign_raw_rs256};
use zt_testkit::http::{JsonResponse, get_json};
use zt_testkit::workload_api::{Unanswered, jws_part};
use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};

const REPO: &str = "acme/app";
const MAIN: &str = "refs/heads/main";
const API: &str = "https://api.internal";
const KUBERNETES: &str = "kubernetes";
const REFUSED: &str = "token_exchange_refused";

/// People in `sre` may get tokens for two services; a job on acme/app's main branch (from
/// either workload issuer) for one; the other workload rules test one shape of claim each.
fn policy(github: &str, forger: &str) -> String {
    format!(
        r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
audiences = ["{API}", "{KUBERNETES}"]

[[rules]]
name = "everyone"
match.everyone = true
principals = ["guest"]

[[rules]]
name = "deploy-from-main"
match.issuers = ["{github}", "{forger}"]
match.claims.repository = "{REPO}"
match.claims.ref = "{MAIN}"
principals = ["deploy"]
audiences = ["{KUBERNETES}"]

[[rules]]
name = "ci-namespace"
match.issuers = ["{github}"]
match.claims."kubernetes.io.namespace" = "ci"
match.claims."kubernetes.io.serviceaccount.name" = "deployer"
principals = ["deploy"]

[[rules]]
name = "tools"
match.issuers = ["{github}"]
match.claims.repository = "acme/tools*"
principals = ["tools"]

[[rules]]
name = "deep"
match.issuers = ["{github}"]
match.claims."d1.d2.d3.d4" = "ok"
principals = ["deep"]

[[rules]]
name = "too-deep"
match.issuers = ["{github}"]
match.claims."e1.e2.e3.e4.e5" = "ok"
principals = ["deep"]
"#
    )
}

/// The people's IdP, a GitHub-shaped issuer (ES256), a hostile issuer the broker also
/// trusts for workloads (RS256 `rsa-1` and ES256 `ec-1`), and the broker.
struct World {
    idp: HostileIdp,
    github: WorkloadIssuer,
    forger: HostileIdp,
    broker: Broker,
}

fn world() -> World {
    let idp = HostileIdp::start();
    let forger = HostileIdp::start();
    let github = WorkloadIssuer::start(Alg::Es256);
    let policy = policy(&github.issuer(), &forger.issuer);
    let broker = Broker::start_with(&idp.issuer, &policy, |config| {
        let issuers = [github.issuer(), forger.issuer.clone()].map(|issuer| {
            let mut table = toml::Table::new();
            table.insert("issuer".into(), issuer.into());
            toml::Value::from(table)
        });
        config.insert("workload_issuers".into(), issuers.to_vec().into());
    });
    World {
        idp,
        github,
        forger,
        broker,
    }
}

impl World {
    /// A push to acme/app's main branch, for this broker, as GitHub issues it.
    fn job(&self) -> Value {
        self.github.github_claims(REPO, MAIN, &self.broker.url)
    }

    /// The same job, issued by the hostile issuer.
    fn forger_job(&self) -> Value {
        with(self.job(), "iss", self.forger.issuer.clone().into())
    }

    /// A job no rule admits as it is (another repository).
    fn plain(&self) -> Value {
        with(self.job(), "repository", "acme/none".into())
    }

    fn exchange(&self, token: &str) -> JsonResponse {
        Caller::new(&self.broker.url).workload_exchange(token)
    }

    fn records(&self, kind: &str) -> Vec<Value> {
        let all = self.broker.audit().into_iter();
        all.filter(|r| r["kind"] == kind).collect()
    }

    /// The record of the request just answered: the broker writes it before answering.
    fn last_record(&self) -> Value {
        self.broker.audit().pop().expect("an audit record")
    }

    /// A refusal, and its record: `kind`, the status and the code the client got.
    #[track_caller]
    fn refused(&self, reply: &JsonResponse, kind: &str, status: u16, code: &str, case: &str) {
        assert_refused(reply, status, code, case, "");
        let record = self.last_record();
        assert_eq!(record["kind"], kind, "{case}: {record}");
        assert_eq!(record["outcome"]["status"], status, "{case}: {record}");
        assert_eq!(record["outcome"]["error"], code, "{case}: {record}");
    }

    /// A success, and its record naming `rule`.
    #[track_caller]
    fn granted(&self, reply: &JsonResponse, kind: &str, rule: &str, case: &str) {
        assert_eq!(reply.status, 200, "{case}: {}", reply.body);
        let record = self.last_record();
        assert_eq!(record["kind"], kind, "{case}: {record}");
        assert_eq!(record["rule"], rule, "{case}: {record}");
    }
}

fn object(key: &str, value: Value) -> Value {
    Value::Object([(key.to_owned(), value)].into_iter().collect())
}

fn unsigned(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| b64(serde_json::to_vec(v).unwrap());
    format!("{}.{}", part(header), part(claims))
}

fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let input = unsigned(&json!({"alg": "HS256", "kid": kid}), claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// `f` over every item at once (all threads released together); the results in order.
fn concurrently<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let barrier = Barrier::new(items.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| {
                let (barrier, f) = (&barrier, &f);
                scope.spawn(move || {
                    barrier.wait();
                    f(item)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

//! The audit log (issue 4) and the store failing under the broker (issue
//! 3): `zt-broker audit verify` against many tampered copies of a real log,
//! 503 and no certificate when the log cannot be written, and no lost
//! record of a certificate a client received across `kill -9`.

mod crash;
mod export;
mod keys;
mod mutations;
mod store_failure;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::e2e::fixture::{Broker, POLICY, ZT_BROKER};
use zt_testkit::api::{self, Answer, Client, IdTokens};
use zt_testkit::dev_idp::DevIdp;

/// `zt-broker audit verify --json`: the exit code and the verdict (the summary when intact,
/// the failure's `error.details` when not).
pub fn verify(config: &Path) -> (Option<i32>, Value) {
    verify_with(config, &[])
}

/// `verify` with extra arguments.
pub fn verify_with(config: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(ZT_BROKER)
        .args(["audit", "verify", "--json", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .expect("run zt-broker audit verify");
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        Value::String(format!(
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    });
    let verdict = match verdict.pointer("/error/details") {
        Some(details) => details.clone(),
        None => verdict,
    };
    (out.status.code(), verdict)
}

/// A broker (initialised, not started) trusting `idp`, with its database at
/// `db` and checkpoints every `checkpoint_records` records.
pub fn broker_with_store(idp: &DevIdp, db: &Path, checkpoint_records: u64) -> Broker {
    Broker::init_with(&idp.issuer, POLICY, |config| {
        config["store"]["sqlite"] = db.to_str().unwrap().into();
        config["audit"]["checkpoint_records"] = (checkpoint_records as i64).into();
        config["audit"]["checkpoint_secs"] = 3600.into();
        // These tests load one identity from one address on purpose.
        config["limits"]["per_address_per_minute"] = 0.into();
        config["limits"]["per_identity_per_minute"] = 0.into();
    })
}

/// Drives one broker's API from the test: ID tokens from the development
/// issuer, token exchanges, certificate requests.
pub struct Driver {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    tokens: IdTokens,
    pub token_endpoint: String,
    pub certificate_endpoint: String,
}

impl Driver {
    pub fn new(broker: &Broker, idp: &DevIdp) -> Driver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        let (tokens, config) = runtime.block_on(async {
            let (tokens, _) = IdTokens::login(&http, &idp.issuer).await.unwrap();
            let config = api::configuration(&http, &broker.url).await.unwrap();
            (tokens, config)
        });
        Driver {
            runtime,
            http,
            tokens,
            token_endpoint: config.token_endpoint,
            certificate_endpoint: config.certificate_endpoint,
        }
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A token exchange with a fresh ID token: the answer, and the client
    /// when it succeeded.
    pub fn exchange(&mut self) -> (Answer, Option<Client>) {
        let (http, endpoint) = (&self.http, &self.token_endpoint);
        let tokens = &mut self.tokens;
        self.runtime.block_on(async {
            let id_token = tokens.fresh().await.unwrap();
            api::exchange(http, endpoint, &id_token).await.unwrap()
        })
    }

    /// A logged-in client; panics unless the exchange succeeds.
    pub fn client(&mut self) -> Client {
        match self.exchange() {
            (_, Some(client)) => client,
            (answer, None) => panic!("token exchange failed: {answer:?}"),
        }
    }

    pub fn certificate(&self, client: &Client) -> Answer {
        let request = api::prepare(client, &self.certificate_endpoint).unwrap();
        self.runtime
            .block_on(api::send_certificate_request(
                &self.http,
                &self.certificate_endpoint,
                request,
            ))
            .unwrap()
    }
}

/// Serials of every `certificate_issued` record in the database at `db`.
pub fn recorded_serials(db: &Path) -> std::collections::BTreeSet<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT record FROM audit ORDER BY seq")
        .unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(|r| serde_json::from_str::<Value>(&r.unwrap()).unwrap())
        .filter(|r| r["kind"] == "certificate_issued")
        .map(|r| zt_testkit::serial(&r["certificate"]["serial"]))
        .collect()
}

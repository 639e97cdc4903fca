//! Tokens for other services (issue 13): `zt token --audience` through the real broker,
//! checked by an independent verifier (docs/examples/verify_token.mjs: jose under Node,
//! with the keys of `/v1/jwks`) before and after a token-key rotation, and used by the real
//! kubectl as its exec credential plugin.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::fixture::{Broker, User, ZT};
use crate::hosts::admin::{text, zt_broker};
use zt_testkit::idp::{ALICE, IDP_DIR, IdpOptions, TestIdp};
use zt_testkit::kube::{KubeCheck, require_kubectl};
use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};
use zt_testkit::{Peer, require_peers};

const VERIFY_TOKEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docs/examples/verify_token.mjs"
);

fn policy(github: &str) -> String {
    format!(
        r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
audiences = ["https://api.internal", "kubernetes"]

[[rules]]
name = "deploy-from-main"
match.issuers = ["{github}"]
match.claims.repository = "acme/app"
principals = ["deploy"]
audiences = ["kubernetes"]
"#
    )
}

/// The independent verifier's verdict: the claims, or its refusal on stderr.
fn verify(broker: &Broker, token: &str, audience: &str) -> Result<Value, String> {
    let mut child = Command::new("node")
        .arg(VERIFY_TOKEN)
        .args(["--jwks-uri", &format!("{}/v1/jwks", broker.url)])
        .args(["--issuer", &broker.url, "--audience", audience])
        .env(
            "NODE_PATH",
            std::path::Path::new(IDP_DIR).join("node_modules"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[test]
fn a_person_gets_tokens_for_listed_services_that_verify_before_and_after_a_key_rotation() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let mut broker = Broker::start(&idp.issuer, &policy("https://github.invalid"));
    let user = User::new();
    user.login_as(&broker, &idp, ALICE);

    let run = user.run(&["token", "--audience", "https://api.internal"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let before = run.stdout.trim().to_owned();
    let claims = verify(&broker, &before, "https://api.internal").unwrap();
    assert_eq!(claims["zt_kind"], "person");
    assert_eq!(claims["zt_rule"], "sre");
    assert_eq!(claims["idp_sub"], "sub-alice");
    assert_eq!(claims["zt_device"], user.session()["device"]);
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 300);
    // The verifier is no rubber stamp: another audience is refused.
    assert!(verify(&broker, &before, "kubernetes").is_err());

    // curl's format, and the audit record.
    let header = user.run(&["token", "--audience", "kubernetes", "--format", "header"]);
    assert_eq!(header.code, Some(0), "{header:?}");
    assert!(
        header.stdout.starts_with("Authorization: Bearer ey"),
        "{}",
        header.stdout
    );
    let issued: Vec<Value> = broker
        .audit()
        .into_iter()
        .filter(|r| r["kind"] == "service_token_issued")
        .collect();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0]["audience"], "https://api.internal");

    // A service the rule does not list: exit 4, naming the rule.
    let refused = user.run(&["token", "--audience", "https://payroll.internal"]);
    assert_eq!(refused.code, Some(4), "{refused:?}");
    assert!(
        refused.stderr.contains("\"sre\"") && refused.stderr.contains("payroll"),
        "{}",
        refused.stderr
    );

    // Rotate the token key and restart: the token minted before still verifies (the old key
    // stays published), and new tokens carry the new key.
    let out = zt_broker(&broker, &["token-key", "rotate", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rotation: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotation["previous"], kid(&before).as_str());
    broker.kill();
    broker.serve();
    let jwks = zt_testkit::http::get_json(&format!("{}/v1/jwks", broker.url)).body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    verify(&broker, &before, "https://api.internal").expect("the old token still verifies");
    let run = user.run(&["token", "--audience", "https://api.internal"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let after = run.stdout.trim().to_owned();
    assert_eq!(kid(&after), rotation["current"].as_str().unwrap());
    assert_ne!(kid(&after), kid(&before));
    verify(&broker, &after, "https://api.internal").expect("the new token verifies");
}

#[test]
fn kubectl_uses_zt_as_its_credential_plugin_in_a_ci_job() {
    if !require_peers(&[Peer::Idp]) || !require_kubectl() {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let github = WorkloadIssuer::start(Alg::Rs256);
    let broker =
        Broker::start_trusting(&idp.issuer, &policy(&github.issuer()), &[&github.issuer()]);
    github.set_job_claims(github.github_claims("acme/app", "refs/heads/main", "unused"));
    let job = User::new();
    let home = job.home.path().to_str().unwrap().to_owned();
    let url = github.request_url();
    let request_token = github.request_token();
    let env = [
        ("HOME", home.as_str()),
        ("XDG_RUNTIME_DIR", home.as_str()),
        ("ZT_CREDENTIAL_STORE", "file"),
        ("CI", "true"),
        ("ZT_BROKER", broker.url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.as_str()),
    ];
    let kube = KubeCheck::start();
    let seen = kube
        .run(
            std::path::Path::new(ZT),
            &[
                "token",
                "--ci",
                "--audience",
                "kubernetes",
                "--format",
                "kubectl",
            ],
            &env,
        )
        .unwrap_or_else(|stderr| panic!("kubectl refused zt's credential: {stderr}"));
    let token = seen
        .first()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_else(|| panic!("kubectl sent no bearer token: {seen:?}"));
    let claims = verify(&broker, token, "kubernetes").unwrap();
    assert_eq!(claims["zt_kind"], "workload");
    assert_eq!(claims["zt_rule"], "deploy-from-main");
    assert_eq!(claims["zt_workload"]["repository"], "acme/app");
    // The job's own run asked for a token the rule does not list: exit 4.
    let refused = job
        .zt()
        .args(["token", "--ci", "--audience", "https://api.internal"])
        .env("CI", "true")
        .env("ZT_BROKER", &broker.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
}

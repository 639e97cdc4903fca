//! CI jobs and workload identity (issue 13), end to end: the real `zt` in a job's
//! environment, the real broker trusting a loopback workload issuer (GitHub-Actions-shaped
//! token endpoint, Kubernetes-shaped token file, real JWKS with RS256 and ES256 keys) and the
//! real oidc-provider's client-credentials grant, and the real sshd.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::fixture::{Broker, User, listing, trust_workloads};
use super::target;
use zt_testkit::idp::{CI_CLIENT_ID, CI_CLIENT_SECRET, DEFAULT_CI_RESOURCE, IdpOptions, TestIdp};
use zt_testkit::sshd::current_login;
use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};
use zt_testkit::{Peer, require_peers, tempdir};

const REPO: &str = "acme/app";
const MAIN: &str = "refs/heads/main";

/// A rule for the main branch of acme/app, one for a Kubernetes service account, and one for
/// people that must never let a job in.
fn policy(github: &str, kubernetes: &str) -> String {
    format!(
        r#"
[[rules]]
name = "deploy-from-main"
match.issuers = ["{github}"]
match.claims.repository = "{REPO}"
match.claims.ref = "{MAIN}"
principals = ["deploy"]
audiences = ["kubernetes"]

[[rules]]
name = "ci-namespace"
match.issuers = ["{kubernetes}"]
match.claims."kubernetes.io.namespace" = "ci"
match.claims."kubernetes.io.serviceaccount.name" = "deployer"
principals = ["deploy"]

[[rules]]
name = "everyone"
match.everyone = true
principals = ["guest"]
"#
    )
}

/// A job's environment on a GitHub Actions runner.
fn github_job(broker: &Broker, issuer: &WorkloadIssuer) -> User {
    User::new()
        .with_env("CI", "true")
        .with_env("GITHUB_ACTIONS", "true")
        .with_env("ACTIONS_ID_TOKEN_REQUEST_URL", issuer.request_url())
        .with_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", issuer.request_token())
        .with_env("ZT_BROKER", broker.url.clone())
}

fn ssh_ci(port: u16) -> Vec<String> {
    [
        "ssh",
        "--ci",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-p",
        &port.to_string(),
        "--",
        &format!("{}@127.0.0.1", current_login()),
        "id",
        "-un",
    ]
    .map(String::from)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_github_actions_job_runs_a_command_as_its_principal_and_leaves_nothing_behind() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let github = WorkloadIssuer::start(Alg::Rs256);
    let broker = Broker::start_trusting(
        &idp.issuer,
        &policy(&github.issuer(), "https://k8s.invalid"),
        &[&github.issuer()],
    );
    github.set_job_claims(github.github_claims(REPO, MAIN, "unused"));
    let sshd = target(&broker, &["deploy"], true);
    let job = github_job(&broker, &github);
    job.zt(); // makes the runtime dir, as the runner's session would have it
    let before = listing(job.home.path());

    let run = job.run(&strs(&ssh_ci(sshd.port)));
    assert_eq!(run.code, Some(0), "{run:?}\nbroker log:\n{}", broker.log());
    assert_eq!(run.stdout.trim(), current_login());
    assert_eq!(
        listing(job.home.path()),
        before,
        "the job left files behind"
    );
    assert_eq!(github.token_requests(), 1);

    // The broker's record names the run.
    let issued = super::certificates_issued(&broker).pop().unwrap();
    assert_eq!(issued["rule"], "deploy-from-main");
    assert_eq!(issued["workload"]["repository"], REPO);
    assert_eq!(issued["workload"]["ref"], MAIN);
    assert_eq!(issued["workload"]["run_id"], "42");
    assert_eq!(
        issued["certificate"]["principals"],
        serde_json::json!(["deploy"])
    );
    let life = issued["certificate"]["valid_before"].as_u64().unwrap()
        - issued["certificate"]["valid_after"].as_u64().unwrap();
    assert!(
        life <= 5 * 60 + 60,
        "a job's certificate lives minutes: {life}"
    );

    // Without --ci, a job with no session and no terminal takes the same path.
    let mut args = ssh_ci(sshd.port);
    args.remove(1);
    let run = job.run(&strs(&args));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("workload identity"), "{}", run.stderr);
    assert_eq!(listing(job.home.path()), before);
}

#[test]
fn another_repository_a_fork_pull_request_or_another_branch_is_denied() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let github = WorkloadIssuer::start(Alg::Es256);
    let broker = Broker::start_trusting(
        &idp.issuer,
        &policy(&github.issuer(), "https://k8s.invalid"),
        &[&github.issuer()],
    );
    let job = github_job(&broker, &github);
    for (repository, git_ref, failing) in [
        ("acme/other", MAIN, "repository"),
        (REPO, "refs/pull/7/merge", "ref"),
        (REPO, "refs/heads/feature", "ref"),
    ] {
        github.set_job_claims(github.github_claims(repository, git_ref, "unused"));
        let run = job.run(&["login", "--ci"]);
        assert_eq!(run.code, Some(4), "{repository} {git_ref}: {run:?}");
        assert!(
            run.stderr.contains("deploy-from-main") && run.stderr.contains(failing),
            "{}",
            run.stderr
        );
    }
    // Refusals are audited with the claims that identify the run.
    let refused: Vec<_> = broker
        .audit()
        .into_iter()
        .filter(|r| r["kind"] == "token_exchange_refused")
        .collect();
    assert_eq!(refused.len(), 3);
    assert_eq!(refused[1]["workload"]["ref"], "refs/pull/7/merge");

    // The allowed job, for contrast, with --json.
    github.set_job_claims(github.github_claims(REPO, MAIN, "unused"));
    let run = job.run(&["login", "--ci", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let done = run.json_lines().pop().unwrap();
    assert_eq!(done["mode"], "ci");
    assert_eq!(done["certificate"]["rule"], "deploy-from-main");
    assert_eq!(done["identity"]["claims"]["repository"], REPO);
}

#[test]
fn wrong_audience_expired_replayed_and_foreign_tokens_are_refused() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let kubernetes = WorkloadIssuer::start(Alg::Es256);
    let foreign = WorkloadIssuer::start(Alg::Es256);
    let broker = Broker::start_trusting(
        &idp.issuer,
        &policy("https://github.invalid", &kubernetes.issuer()),
        &[&kubernetes.issuer()],
    );
    let dir = tempdir();
    let job = User::new().with_env("ZT_BROKER", broker.url.clone());
    let login = |file: &Path| {
        job.run(&[
            "login",
            "--ci",
            "--json",
            "--id-token-file",
            file.to_str().unwrap(),
        ])
    };

    // A Kubernetes projected service-account token for the broker's audience works once.
    let claims = kubernetes.kubernetes_claims("ci", "deployer", &broker.url);
    let good = kubernetes.write_token_file(dir.path(), claims.clone());
    let run = login(&good);
    assert_eq!(run.code, Some(0), "{run:?}\n{}", broker.log());
    assert_eq!(
        run.json_lines().pop().unwrap()["certificate"]["rule"],
        "ci-namespace"
    );
    let replayed = login(&good);
    assert_eq!(replayed.code, Some(3), "{replayed:?}");
    assert!(
        replayed.stderr.contains("already exchanged"),
        "{}",
        replayed.stderr
    );

    // A GitLab CI `id_tokens` variable, named with --id-token-env.
    let mut gitlab = claims.clone();
    gitlab["jti"] = "gitlab-job".into();
    let run = job
        .zt()
        .args(["login", "--ci", "--id-token-env", "CI_JOB_ZT_TOKEN"])
        .env("GITLAB_CI", "true")
        .env("CI_JOB_ZT_TOKEN", kubernetes.mint(gitlab))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let mut cases = Vec::new();
    let mut wrong_audience =
        kubernetes.kubernetes_claims("ci", "deployer", "https://kubernetes.default.svc");
    wrong_audience["aud"] = serde_json::json!(["https://kubernetes.default.svc"]);
    cases.push(("audience", kubernetes.mint(wrong_audience), "not meant"));
    let mut expired = claims.clone();
    let now = zt_os::clock::unix_now();
    expired["iat"] = (now - 7200).into();
    expired["exp"] = (now - 3600).into();
    cases.push(("expired", kubernetes.mint(expired), "expired"));
    let mut forged = claims.clone();
    forged["jti"] = "another".into();
    cases.push(("forged", foreign.mint(forged), "does not publish"));
    let mut other = foreign.kubernetes_claims("ci", "deployer", &broker.url);
    other["jti"] = "yet-another".into();
    cases.push(("foreign", foreign.mint(other), "[[workload_issuers]]"));
    for (name, token, needle) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, token).unwrap();
        let run = login(&file);
        assert_eq!(run.code, Some(3), "{name}: {run:?}");
        assert!(run.stderr.contains(needle), "{name}: {}", run.stderr);
    }
    // The foreign issuer was never asked for keys: nothing it says is fetched.
    assert_eq!(foreign.jwks_fetches(), 0);
}

#[test]
fn a_client_credentials_job_logs_in_at_the_real_idp_and_a_bad_secret_is_a_setup_error() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions {
        ci_resource: Some(DEFAULT_CI_RESOURCE.into()),
        ..IdpOptions::default()
    });
    let policy = format!(
        r#"
[[rules]]
name = "ci-client"
match.issuers = ["{}"]
match.claims.client_id = "{CI_CLIENT_ID}"
principals = ["deploy"]
"#,
        idp.issuer
    );
    let mut broker = Broker::init_with(&idp.issuer, &policy, |config| {
        trust_workloads(config, &[&idp.issuer]);
        config["tokens"]
            .as_table_mut()
            .unwrap()
            .insert("workload_audience".into(), DEFAULT_CI_RESOURCE.into());
    });
    broker.serve();
    let secret_file = tempdir();
    let secret_path = secret_file.path().join("secret");
    zt_os::files::write_private(&secret_path, CI_CLIENT_SECRET.as_bytes()).unwrap();
    let job = User::new()
        .with_env("CI", "true")
        .with_env("ZT_BROKER", broker.url.clone())
        .with_env("ZT_CLIENT_ID", CI_CLIENT_ID)
        .with_env("ZT_CLIENT_SECRET_FILE", secret_path.to_str().unwrap());
    let run = job.run(&["login", "--ci", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}\n{}", broker.log());
    let done = run.json_lines().pop().unwrap();
    assert_eq!(done["certificate"]["rule"], "ci-client");
    assert_eq!(done["identity"]["subject"], CI_CLIENT_ID);

    let wrong = User::new()
        .with_env("ZT_BROKER", broker.url.clone())
        .with_env("ZT_CLIENT_ID", CI_CLIENT_ID)
        .with_env("ZT_CLIENT_SECRET", "not-the-secret");
    let run = wrong.run(&["login", "--ci"]);
    assert_eq!(run.code, Some(7), "{run:?}");
    assert!(run.stderr.contains("invalid_client"), "{}", run.stderr);
    assert!(!run.stderr.contains("not-the-secret"), "{}", run.stderr);
}

#[test]
fn a_ci_login_never_waits_for_a_person() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, super::fixture::POLICY);
    // A CI job with no workload identity at all, no terminal and stdin closed: `zt login`
    // must not start a device flow that nobody will ever approve.
    let job = User::new()
        .with_env("CI", "true")
        .with_env("ZT_BROKER", broker.url.clone());
    for args in [&["login"][..], &["login", "--ci"]] {
        let mut child = job
            .zt()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("zt {args:?} waited for a person");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // This broker trusts no workload issuer: a configuration error, said plainly.
        assert_eq!(status.code(), Some(7), "{args:?}: {stderr}");
        assert!(stderr.contains("workload"), "{stderr}");
    }
}

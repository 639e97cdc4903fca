use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine;
use zt_core::jose::b64;

use super::fetch::read_token_file;
use super::*;
use crate::client::error::OAuthError;

const ISSUER: &str = "https://idp.example";
const NOWHERE: &str = "/nonexistent/zt-token";

fn jwt() -> String {
    format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(r#"{"sub":"repo:acme/app"}"#)
    )
}

fn detect_in(pairs: &[(&str, &str)], options: &CiOptions) -> Result<Source, Error> {
    detect_with(pairs, options, Path::new(NOWHERE))
}

fn detect_with(
    pairs: &[(&str, &str)],
    options: &CiOptions,
    kubernetes: &Path,
) -> Result<Source, Error> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    detect(options, &|name| map.get(name).cloned(), kubernetes, ISSUER)
}

fn auto(pairs: &[(&str, &str)]) -> Result<Source, Error> {
    detect_in(pairs, &CiOptions::default())
}

fn explicit(kind: SourceKind) -> CiOptions {
    CiOptions {
        source: Some(kind),
        ..CiOptions::default()
    }
}

/// The message and hint of a configuration error (exit 7); anything else fails the test.
fn config<T: std::fmt::Debug>(result: Result<T, Error>) -> (String, String) {
    match result {
        Err(Error::Config { message, hint }) => (message, hint.unwrap_or_default()),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

const GITHUB: [(&str, &str); 2] = [
    (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "https://token.actions.example/x?api-version=2.0",
    ),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
];
const GITLAB: [(&str, &str); 2] = [("GITLAB_CI", "true"), ("ZT_ID_TOKEN", "gitlab.jwt.x")];
const CLIENT: [(&str, &str); 2] = [("ZT_CLIENT_ID", "ci-bot"), ("ZT_CLIENT_SECRET", "hunter2")];

#[test]
fn sources_are_detected_in_the_documented_order() {
    let file = [("ZT_ID_TOKEN_FILE", "/run/token")];
    let all: Vec<_> = [&GITHUB[..], &GITLAB, &file, &CLIENT].concat();
    assert_eq!(auto(&all).unwrap().kind(), SourceKind::GithubActions);
    let all: Vec<_> = [&GITLAB[..], &file, &CLIENT].concat();
    assert_eq!(
        auto(&all).unwrap(),
        Source::EnvVar {
            name: "ZT_ID_TOKEN".into(),
            token: Secret::new("gitlab.jwt.x")
        }
    );
    let all: Vec<_> = [&file[..], &CLIENT].concat();
    assert_eq!(auto(&all).unwrap(), Source::File("/run/token".into()));
    assert_eq!(
        auto(&CLIENT).unwrap(),
        Source::ClientCredentials {
            issuer: ISSUER.into(),
            client_id: "ci-bot".into(),
            secret: ClientSecret::Value(Secret::new("hunter2")),
            scope: None,
        }
    );
}

#[test]
fn zt_id_token_alone_is_gitlab_only() {
    // Outside GitLab CI the default variable is not guessed at; --ci-source gitlab takes it.
    assert!(auto(&[("ZT_ID_TOKEN", "a.b.c")]).is_err());
    assert_eq!(
        detect_in(&[("ZT_ID_TOKEN", "a.b.c")], &explicit(SourceKind::Gitlab))
            .unwrap()
            .kind(),
        SourceKind::Gitlab
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let github = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://t.example/"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""),
    ];
    let env: Vec<_> = [&github[..], &CLIENT].concat();
    assert_eq!(auto(&env).unwrap().kind(), SourceKind::ClientCredentials);
}

#[test]
fn the_kubernetes_token_is_used_when_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zt-token");
    let none = CiOptions::default();
    assert!(detect_with(&CLIENT, &none, &path).unwrap().kind() == SourceKind::ClientCredentials);
    std::fs::write(&path, jwt()).unwrap();
    assert_eq!(
        detect_with(&CLIENT, &none, &path).unwrap(),
        Source::File(path.clone())
    );
    // ZT_ID_TOKEN_FILE and the flag come before the default path.
    let env = [("ZT_ID_TOKEN_FILE", "/env/token")];
    assert_eq!(
        detect_with(&env, &none, &path).unwrap(),
        Source::File("/env/token".into())
    );
    let flag = CiOptions {
        id_token_file: Some("/flag/token".into()),
        ..CiOptions::default()
    };
    assert_eq!(
        detect_with(&env, &flag, &path).unwrap(),
        Source::File("/flag/token".into())
    );
}

#[test]
fn flags_and_explicit_sources_override_the_order() {
    let everything: Vec<_> = [&GITHUB[..], &GITLAB, &CLIENT, &[("MY_TOKEN", "x.y.z")]].concat();
    let named = CiOptions {
        id_token_env: Some("MY_TOKEN".into()),
        ..CiOptions::default()
    };
    assert_eq!(
        detect_in(&everything, &named).unwrap(),
        Source::EnvVar {
            name: "MY_TOKEN".into(),
            token: Secret::new("x.y.z")
        }
    );
    assert_eq!(
        detect_in(&everything, &explicit(SourceKind::ClientCredentials))
            .unwrap()
            .kind(),
        SourceKind::ClientCredentials
    );
    let issuer: Vec<_> = [
        &CLIENT[..],
        &[
            ("ZT_CLIENT_ISSUER", "https://other.example/realm"),
            ("ZT_CLIENT_SCOPE", "api://zt/.default"),
        ],
    ]
    .concat();
    match auto(&issuer).unwrap() {
        Source::ClientCredentials { issuer, scope, .. } => {
            assert_eq!(issuer, "https://other.example/realm");
            assert_eq!(scope.as_deref(), Some("api://zt/.default"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_explicit_source_says_what_is_missing() {
    let (message, hint) = config(detect_in(&[], &explicit(SourceKind::GithubActions)));
    assert_eq!(
        message,
        "--ci-source github-actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"
    );
    assert!(hint.contains("permissions: id-token: write"), "{hint}");
    let (message, _) = config(detect_in(
        &GITHUB[..1],
        &explicit(SourceKind::GithubActions),
    ));
    assert_eq!(
        message,
        "--ci-source github-actions: ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set"
    );

    let (message, hint) = config(detect_in(&[], &explicit(SourceKind::Gitlab)));
    assert_eq!(
        message,
        "--ci-source gitlab: ZT_ID_TOKEN is not set or empty"
    );
    assert!(hint.contains("id_tokens: ZT_ID_TOKEN: aud:"), "{hint}");
    let named = CiOptions {
        id_token_env: Some("CI_JOB_JWT_ZT".into()),
        ..CiOptions::default()
    };
    let (message, hint) = config(detect_in(&[], &named));
    assert_eq!(
        message,
        "CI_JOB_JWT_ZT (named by --id-token-env) is not set or empty"
    );
    assert!(hint.contains("id_tokens: CI_JOB_JWT_ZT:"), "{hint}");

    let (message, hint) = config(detect_in(&[], &explicit(SourceKind::File)));
    assert_eq!(
        message,
        format!(
            "--ci-source file: no token file: --id-token-file and ZT_ID_TOKEN_FILE are not set, and {NOWHERE} does not exist"
        )
    );
    assert!(hint.contains("--id-token-file PATH"), "{hint}");

    let (message, _) = config(detect_in(&[], &explicit(SourceKind::ClientCredentials)));
    assert_eq!(
        message,
        "--ci-source client-credentials: ZT_CLIENT_ID is not set"
    );
}

#[test]
fn half_set_client_credentials_are_refused_by_name() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("ZT_CLIENT_ID", "bot")],
            "ZT_CLIENT_ID is set but neither ZT_CLIENT_SECRET nor ZT_CLIENT_SECRET_FILE",
        ),
        (
            &[("ZT_CLIENT_SECRET", "s")],
            "a client secret is set but ZT_CLIENT_ID is not",
        ),
        (
            &[
                ("ZT_CLIENT_ID", "bot"),
                ("ZT_CLIENT_SECRET", "s"),
                ("ZT_CLIENT_SECRET_FILE", "/f"),
            ],
            "both ZT_CLIENT_SECRET and ZT_CLIENT_SECRET_FILE are set",
        ),
        (
            &[
                ("ZT_CLIENT_ID", "bot"),
                ("ZT_CLIENT_SECRET", "s"),
                ("ZT_CLIENT_ISSUER", "http://idp.example"),
            ],
            "ZT_CLIENT_ISSUER",
        ),
    ];
    for (env, expected) in cases {
        let (message, _) = config(auto(env));
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("hunter2"));
    }
    let map: HashMap<&str, &str> = CLIENT.into_iter().collect();
    let lookup = |name: &str| map.get(name).map(|v| v.to_string());
    let (message, _) = config(detect(
        &CiOptions::default(),
        &lookup,
        Path::new(NOWHERE),
        "",
    ));
    assert!(message.contains("ZT_CLIENT_ISSUER is not set"), "{message}");
}

#[test]
fn conflicting_flags_are_refused() {
    let both = CiOptions {
        id_token_env: Some("A".into()),
        id_token_file: Some("/b".into()),
        ..CiOptions::default()
    };
    assert!(
        config(detect_in(&[], &both))
            .0
            .contains("--id-token-env and --id-token-file")
    );
    let env_for_file = CiOptions {
        source: Some(SourceKind::File),
        id_token_env: Some("A".into()),
        ..CiOptions::default()
    };
    assert_eq!(
        config(detect_in(&[], &env_for_file)).0,
        "--id-token-env applies only to --ci-source gitlab"
    );
    let file_for_github = CiOptions {
        source: Some(SourceKind::GithubActions),
        id_token_file: Some("/b".into()),
        ..CiOptions::default()
    };
    assert_eq!(
        config(detect_in(&GITHUB, &file_for_github)).0,
        "--id-token-file applies only to --ci-source file"
    );
}

#[test]
fn nothing_detected_lists_every_source() {
    let (message, hint) = config(auto(&[]));
    for needed in [
        "github-actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "gitlab: GITLAB_CI and ZT_ID_TOKEN, or the variable named by --id-token-env",
        "file: --id-token-file, ZT_ID_TOKEN_FILE, or /nonexistent/zt-token",
        "client-credentials: ZT_CLIENT_ID and ZT_CLIENT_SECRET or ZT_CLIENT_SECRET_FILE",
    ] {
        assert!(message.contains(needed), "{needed} missing from {message}");
    }
    assert!(hint.contains("zt login"), "{hint}");
    assert!(hint.contains("CI and workload identity"), "{hint}");

    let (_, hint) = config(auto(&[("GITHUB_ACTIONS", "true")]));
    assert!(hint.contains("permissions: id-token: write"), "{hint}");
    let (_, hint) = config(auto(&[("GITLAB_CI", "true")]));
    assert!(hint.contains("id_tokens: ZT_ID_TOKEN: aud:"), "{hint}");
    let (_, hint) = config(auto(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]));
    assert!(hint.contains("projected service-account token"), "{hint}");
}

#[test]
fn ci_environments_are_recognised() {
    let ci = |pairs: &[(&str, &str)], kubernetes: &Path| {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        is_ci_environment(&|name| map.get(name).map(|v| v.to_string()), kubernetes)
    };
    let nowhere = Path::new(NOWHERE);
    assert!(ci(&[("CI", "true")], nowhere));
    assert!(ci(&[("GITLAB_CI", "true")], nowhere));
    assert!(ci(&[("ZT_CLIENT_ID", "bot")], nowhere));
    assert!(!ci(&[], nowhere));
    assert!(!ci(&[("CI", "false")], nowhere));
    assert!(!ci(&[("CI", "")], nowhere));
    assert!(!ci(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")], nowhere));
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("zt-token");
    std::fs::write(&token, jwt()).unwrap();
    assert!(ci(&[], &token));
}

/// The integration tests strip `zt_testkit::process::CI_VARIABLES` from a person's zt (CI
/// runners set `CI=true` for the tests too). Every variable this check reads must be on that
/// list, or a new one would turn the tests' logins into CI logins on some runner.
#[test]
fn every_variable_that_makes_a_ci_environment_is_one_the_tests_strip() {
    let read = Mutex::new(Vec::new());
    let recording = |name: &str| {
        read.lock().unwrap().push(name.to_owned());
        None
    };
    assert!(!is_ci_environment(&recording, Path::new(NOWHERE)));
    let read = read.into_inner().unwrap();
    assert!(read.contains(&"CI".to_owned()), "{read:?}");
    for name in &read {
        assert!(
            zt_testkit::process::CI_VARIABLES.contains(&name.as_str()),
            "{name} is not in zt_testkit::process::CI_VARIABLES"
        );
    }
}

#[test]
fn source_names_and_descriptions() {
    use clap::ValueEnum;
    let names: Vec<String> = SourceKind::value_variants()
        .iter()
        .map(|k| k.to_possible_value().unwrap().get_name().to_owned())
        .collect();
    assert_eq!(
        names,
        ["github-actions", "gitlab", "file", "client-credentials"]
    );
    for kind in SourceKind::value_variants() {
        assert_eq!(kind.to_possible_value().unwrap().get_name(), kind.as_str());
    }
    let described: Vec<String> = [
        auto(&GITHUB).unwrap(),
        auto(&GITLAB).unwrap(),
        Source::File("/run/t".into()),
        auto(&CLIENT).unwrap(),
    ]
    .iter()
    .map(Source::describe)
    .collect();
    assert_eq!(
        described,
        [
            "GitHub Actions OIDC",
            "GitLab CI id_token ZT_ID_TOKEN",
            "file /run/t",
            "client credentials for ci-bot at https://idp.example",
        ]
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let env: Vec<_> = [&GITHUB[..], &GITLAB, &CLIENT].concat();
    let sources = [
        auto(&env).unwrap(),
        auto(&GITLAB).unwrap(),
        auto(&CLIENT).unwrap(),
    ];
    let shown = format!("{sources:?}");
    for secret in ["request-token", "gitlab.jwt.x", "hunter2"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let token = WorkloadToken {
        token: jwt(),
        source: SourceKind::File,
    };
    assert!(!format!("{token:?}").contains(&jwt()));
}

#[test]
fn jwt_shape() {
    assert!(is_jwt(&jwt()));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "a..c",
        &format!("{}.", jwt().rsplit_once('.').unwrap().0),
        "e30.e30.c2ln\n",
        "bm90IGpzb24.e30.c2ln",
    ] {
        assert!(!is_jwt(bad), "{bad:?}");
    }
    let long = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256"}"#),
        "A".repeat(MAX_TOKEN)
    );
    assert!(!is_jwt(&long));
}

// --- I/O: canned loopback servers -------------------------------------------------------------

#[derive(Debug, Clone)]
struct Request {
    line: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A loopback HTTP/1.1 server answering one connection per canned answer, in order, and
/// recording each request. `answers` gets the server's base URL.
struct Canned {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Canned {
    fn start(answers: impl FnOnce(&str) -> Vec<(u16, String)>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answers = answers(&url);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut headers = HashMap::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let Some((name, value)) = header.trim_end().split_once(':') else {
                        break;
                    };
                    headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
                }
                let length = headers
                    .get("content-length")
                    .map_or(0, |n| n.parse().unwrap());
                let mut request_body = vec![0; length];
                reader.read_exact(&mut request_body).unwrap();
                recorded.lock().unwrap().push(Request {
                    line: line.trim_end().to_owned(),
                    headers,
                    body: String::from_utf8(request_body).unwrap(),
                });
                let answer = format!(
                    "HTTP/1.1 {status} Canned\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let mut stream = &stream;
                let _ = stream.write_all(answer.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Canned { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn http() -> reqwest::Client {
    crate::client::http::client().unwrap()
}

fn github(server: &Canned, query: &str) -> Source {
    Source::GithubActions {
        request_url: format!("{}/idtoken{query}", server.url),
        request_token: Secret::new("gh-request-token"),
    }
}

#[tokio::test]
async fn github_actions_sends_the_bearer_and_the_audience() {
    let token = jwt();
    let body = format!(r#"{{"count":1,"value":"{token}"}}"#);
    let server = Canned::start(|_| vec![(200, body.clone()), (200, body)]);
    let fetched = fetch(
        &http(),
        &github(&server, "?api-version=2.0"),
        "https://zt.example",
    )
    .await
    .unwrap();
    assert_eq!(fetched.token, token);
    assert_eq!(fetched.source, SourceKind::GithubActions);
    let request = &server.requests()[0];
    assert_eq!(
        request.line,
        "GET /idtoken?api-version=2.0&audience=https%3A%2F%2Fzt.example HTTP/1.1"
    );
    assert_eq!(request.headers["authorization"], "Bearer gh-request-token");
    assert_eq!(request.headers["accept"], "application/json");

    fetch(&http(), &github(&server, ""), "zt").await.unwrap();
    assert_eq!(
        server.requests()[1].line,
        "GET /idtoken?audience=zt HTTP/1.1"
    );
}

#[tokio::test]
async fn github_actions_refusals_are_explained() {
    let server =
        Canned::start(|_| vec![(401, r#"{"message":"nope"}"#.into()), (503, String::new())]);
    match fetch(&http(), &github(&server, "?api-version=2.0"), "zt").await {
        Err(Error::Config {
            message,
            hint: Some(hint),
        }) => {
            assert!(message.contains("GitHub Actions"), "{message}");
            assert!(message.contains("401"), "{message}");
            assert!(hint.contains("permissions: id-token: write"), "{hint}");
            assert!(!message.contains("gh-request-token"));
        }
        other => panic!("{other:?}"),
    }
    match fetch(&http(), &github(&server, "?api-version=2.0"), "zt").await {
        Err(e @ Error::Unreachable { .. }) => assert!(e.to_string().contains("503"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn github_actions_answers_that_are_not_one_token_are_refused() {
    let huge = format!(r#"{{"value":"{}"}}"#, "a".repeat(MAX_BODY));
    let long = format!(
        r#"{{"value":"{}.{}.c2ln"}}"#,
        b64(r#"{"alg":"RS256"}"#),
        "A".repeat(MAX_TOKEN)
    );
    let server = Canned::start(|_| {
        vec![
            (200, huge),
            (200, r#"{"value":"not a jwt"}"#.into()),
            (200, long),
            (200, r#"{"count":0}"#.into()),
        ]
    });
    for expected in [
        "more than 64 KiB",
        "not a JWT",
        "not a JWT",
        "without a token",
    ] {
        match fetch(&http(), &github(&server, "?api-version=2.0"), "zt").await {
            Err(Error::Protocol(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn github_actions_needs_https() {
    let source = Source::GithubActions {
        request_url: "http://token.example/idtoken".into(),
        request_token: Secret::new("t"),
    };
    assert!(matches!(
        fetch(&http(), &source, "zt").await,
        Err(Error::Config { .. })
    ));
}

fn discovery(base: &str) -> String {
    format!(r#"{{"issuer":"{base}","token_endpoint":"{base}/token"}}"#)
}

fn client_source(issuer: &str, secret: ClientSecret) -> Source {
    Source::ClientCredentials {
        issuer: issuer.into(),
        client_id: "ci bot:1".into(),
        secret,
        scope: None,
    }
}

#[tokio::test]
async fn client_credentials_authenticate_with_urlencoded_basic_auth() {
    let token = jwt();
    let answer = format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":300}}"#);
    let server = Canned::start(|base| vec![(200, discovery(base)), (200, answer)]);
    let source = client_source(&server.url, ClientSecret::Value(Secret::new("s3cr%t:+/")));
    let fetched = fetch(&http(), &source, "https://zt.example").await.unwrap();
    assert_eq!(fetched.token, token);
    assert_eq!(fetched.source, SourceKind::ClientCredentials);

    let requests = server.requests();
    assert_eq!(
        requests[0].line,
        "GET /.well-known/openid-configuration HTTP/1.1"
    );
    let token_request = &requests[1];
    assert_eq!(token_request.line, "POST /token HTTP/1.1");
    let expected = base64::engine::general_purpose::STANDARD.encode("ci+bot%3A1:s3cr%25t%3A%2B%2F");
    assert_eq!(
        token_request.headers["authorization"],
        format!("Basic {expected}")
    );
    assert_eq!(
        token_request.body,
        "grant_type=client_credentials&resource=https%3A%2F%2Fzt.example"
    );
}

#[tokio::test]
async fn client_credentials_refusals_keep_the_oauth_code() {
    let refusal = r#"{"error":"invalid_client","error_description":"bad\nsecret"}"#;
    let server = Canned::start(|base| vec![(200, discovery(base)), (401, refusal.into())]);
    let source = client_source(&server.url, ClientSecret::Value(Secret::new("hunter2")));
    match fetch(&http(), &source, "zt").await {
        Err(Error::Idp(refusal)) => {
            assert_eq!(refusal.code, OAuthError::Other("invalid_client".into()));
            assert_eq!(refusal.description.as_deref(), Some("bad\\nsecret"));
            assert!(!refusal.to_string().contains("hunter2"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn client_credentials_need_a_jwt_and_a_matching_issuer() {
    let opaque = r#"{"access_token":"opaque-token","token_type":"Bearer"}"#;
    let server = Canned::start(|base| vec![(200, discovery(base)), (200, opaque.into())]);
    let source = client_source(&server.url, ClientSecret::Value(Secret::new("s")));
    let (message, hint) = config(fetch(&http(), &source, "zt").await);
    assert!(message.contains("not a JWT"), "{message}");
    assert!(!message.contains("opaque-token"));
    assert!(hint.contains("resource"), "{hint}");

    let server = Canned::start(|_| vec![(200, discovery("https://elsewhere.example"))]);
    let source = client_source(&server.url, ClientSecret::Value(Secret::new("s")));
    let (message, _) = config(fetch(&http(), &source, "zt").await);
    assert!(
        message.contains("names the issuer https://elsewhere.example"),
        "{message}"
    );

    let plain = r#"{"issuer":"ISSUER","token_endpoint":"http://idp.example/token"}"#;
    let server = Canned::start(|base| vec![(200, plain.replace("ISSUER", base))]);
    let source = client_source(&server.url, ClientSecret::Value(Secret::new("s")));
    let (message, _) = config(fetch(&http(), &source, "zt").await);
    assert!(message.contains("token_endpoint"), "{message}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_client_secret_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "from-file\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Canned::start(|base| {
        vec![
            (200, discovery(base)),
            (200, format!(r#"{{"access_token":"{}"}}"#, jwt())),
        ]
    });
    let source = client_source(&server.url, ClientSecret::File(path.clone()));
    fetch(&http(), &source, "zt").await.unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode("ci+bot%3A1:from-file");
    assert_eq!(
        server.requests()[1].headers["authorization"],
        format!("Basic {expected}")
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (message, _) = config(fetch(&http(), &source, "zt").await);
    assert!(message.contains("open to other users"), "{message}");
}

fn read(path: &Path) -> Result<String, Error> {
    read_token_file(path)
}

#[tokio::test]
async fn a_token_file_is_read_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("  {}\n", jwt())).unwrap();
    let fetched = fetch(&http(), &Source::File(path), "ignored")
        .await
        .unwrap();
    assert_eq!(fetched.token, jwt());
    assert_eq!(fetched.source, SourceKind::File);
}

#[test]
fn token_files_that_are_not_one_token_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let large = dir.path().join("large");
    std::fs::write(&large, "a".repeat(MAX_TOKEN + 1)).unwrap();
    assert!(config(read(&large)).0.contains("larger than 16 KiB"));
    let text = dir.path().join("text");
    std::fs::write(&text, "password=hunter2\n").unwrap();
    let (message, _) = config(read(&text));
    assert!(message.contains("does not hold a JWT"), "{message}");
    assert!(!message.contains("hunter2"));
    assert!(
        config(read(&dir.path().join("absent")))
            .0
            .contains("does not exist")
    );
    assert!(config(read(dir.path())).0.contains("is not a regular file"));
}

#[cfg(unix)]
#[test]
fn a_token_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zt-token");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    assert!(config(read(&path)).0.contains("is not a regular file"));
}

#[cfg(unix)]
#[test]
fn a_token_file_anyone_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zt-token");
    std::fs::write(&path, jwt()).unwrap();
    // Group- and world-readable is how Kubernetes mounts it: accepted.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    read(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(config(read(&path)).0.contains("writable by every user"));
}

#[tokio::test]
async fn a_variable_must_hold_a_jwt() {
    let source = Source::EnvVar {
        name: "ZT_ID_TOKEN".into(),
        token: Secret::new("plain-secret"),
    };
    let result = fetch(&http(), &source, "zt").await;
    let (message, hint) = config(result);
    assert_eq!(message, "ZT_ID_TOKEN does not hold a JWT");
    assert!(hint.contains("id_tokens:"), "{hint}");
    let source = Source::EnvVar {
        name: "ZT_ID_TOKEN".into(),
        token: Secret::new(jwt()),
    };
    assert_eq!(fetch(&http(), &source, "zt").await.unwrap().token, jwt());
}

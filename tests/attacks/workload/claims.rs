//! What a workload token says: claims shaped to slip past `match.claims` (arrays, objects,
//! depth, size, dotted names that collide with nested ones), hostile characters in claim
//! values, and `aud` arrays.

use super::*;

/// What a claims case must come to.
enum Expect {
    Granted(&'static str),
    Refused(u16, &'static str),
    /// Refused one way or the other: a token that could mean two things grants neither.
    NotGranted,
}

#[test]
fn claims_shaped_to_slip_past_match_claims_do_not_match() {
    let w = world();
    let k8s = |namespace: &str, account: &str| {
        w.github
            .kubernetes_claims(namespace, account, &w.broker.url)
    };
    let nest = |names: &[&str], leaf: &str| {
        let inner = names[1..]
            .iter()
            .rev()
            .fold(json!(leaf), |v, n| object(n, v));
        with(w.plain(), names[0], inner)
    };
    let mut many = w.job();
    for i in 0..150 {
        many[format!("a{i:03}")] = "x".into();
    }
    let mut abyss = json!("acme/app");
    for _ in 0..300 {
        abyss = object("x", abyss);
    }
    use Expect::*;
    let cases = [
        ("GitHub control", w.job(), Granted("deploy-from-main")),
        (
            "Kubernetes control",
            k8s("ci", "deployer"),
            Granted("ci-namespace"),
        ),
        (
            "pattern control",
            with(w.plain(), "repository", "acme/tools-ci".into()),
            Granted("tools"),
        ),
        (
            "four levels control",
            nest(&["d1", "d2", "d3", "d4"], "ok"),
            Granted("deep"),
        ),
        (
            "another repository, everyone's rule",
            with(w.job(), "repository", "acme/other".into()),
            Refused(403, "access_denied"),
        ),
        (
            "repository as an array",
            with(w.job(), "repository", json!([REPO])),
            Refused(403, "access_denied"),
        ),
        (
            "repository as an object",
            with(w.job(), "repository", object(REPO, REPO.into())),
            Refused(403, "access_denied"),
        ),
        (
            "repository as an object, empty key",
            with(w.job(), "repository", object("", REPO.into())),
            Refused(403, "access_denied"),
        ),
        (
            "repository null",
            with(w.job(), "repository", Value::Null),
            Refused(403, "access_denied"),
        ),
        (
            "ref as an array",
            with(w.job(), "ref", json!([MAIN])),
            Refused(403, "access_denied"),
        ),
        (
            "five levels",
            nest(&["e1", "e2", "e3", "e4", "e5"], "ok"),
            Refused(403, "access_denied"),
        ),
        (
            "a value over 1 KiB",
            with(
                w.plain(),
                "repository",
                format!("acme/tools{}", "x".repeat(1100)).into(),
            ),
            Refused(403, "access_denied"),
        ),
        (
            "150 claims before repository",
            many,
            Refused(403, "access_denied"),
        ),
        (
            "300 levels of nesting",
            with(w.job(), "deep", abyss),
            Refused(400, "invalid_grant"),
        ),
        (
            "a dotted name over the nested namespace",
            with(
                k8s("other", "deployer"),
                "kubernetes.io.namespace",
                "ci".into(),
            ),
            NotGranted,
        ),
        (
            "a dotted name over the nested account",
            with(
                k8s("ci", "intruder"),
                "kubernetes.io.serviceaccount.name",
                "deployer".into(),
            ),
            NotGranted,
        ),
    ];
    let mut wrong = Vec::new();
    for (case, claims, expect) in cases {
        let reply = w.exchange(&w.github.mint(claims));
        let record = w.last_record();
        let ok = match expect {
            Granted(rule) => reply.status == 200 && record["rule"] == rule,
            Refused(status, code) => {
                reply.status == status
                    && reply.error() == Some(code)
                    && record["kind"] == REFUSED
                    && record["outcome"]["error"] == code
            }
            NotGranted => reply.status != 200 && reply.status < 500 && record["kind"] == REFUSED,
        };
        if !ok {
            let got = reply.error().unwrap_or("granted");
            let (rule, claims) = (&record["rule"], &record["workload"]);
            wrong.push(format!(
                "{case}: {} {got}, rule {rule}, {claims}",
                reply.status
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn hostile_claim_values_are_escaped_for_people_and_exact_on_the_record() {
    let w = world();
    let sub = "repo:acme/tools:ref:main\u{1b}[2J\u{202e}nimda\r\nzt: Logged in as admin";
    let granted = "acme/tools\u{1b}]0;pwned\u{7}\u{202e}ppa";
    let claims = |repository: &str| {
        let claims = with(w.plain(), "sub", sub.into());
        with(claims, "repository", repository.into())
    };
    let escaped = |text: &str| !text.chars().any(|c| c != '\n' && needs_escape(c));

    // Granted through `acme/tools*`: the record keeps both values exactly.
    let reply = w.exchange(&w.github.mint(claims(granted)));
    w.granted(&reply, "token_exchange", "tools", "hostile values, granted");
    let record = w.last_record();
    assert_eq!(record["identity"]["subject"], sub);
    assert_eq!(record["workload"]["repository"], granted);
    // Refused: the description names the workload, escaped; the record keeps it exact.
    let refused = "acme/evil\u{1b}[31m\u{2066}";
    let reply = w.exchange(&w.github.mint(claims(refused)));
    // Not `assert_refused`: its length bound does not hold for a workload denial, which
    // traces every workload rule (five here).
    assert_eq!((reply.status, reply.error()), (403, Some("access_denied")));
    let description = reply.str("error_description");
    assert!(escaped(description), "{description:?}");
    assert!(description.contains(r"\u{202e}"), "{description:?}");
    let record = w.last_record();
    assert_eq!(record["kind"], REFUSED);
    assert_eq!(record["outcome"]["error"], "access_denied");
    assert_eq!(record["outcome"]["reason"], description);
    assert_eq!(record["identity"]["subject"], sub);
    assert_eq!(record["workload"]["sub"], sub);
    assert_eq!(record["workload"]["repository"], refused);
    // Stored records are one line each, whatever a claim holds.
    for raw in w.broker.audit_raw() {
        assert!(!raw.chars().any(char::is_control), "{raw:?}");
    }
    let log = w.broker.log();
    for c in ['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{2066}'] {
        assert!(!log.contains(c), "raw claim text reached the log:\n{log}");
    }

    // `zt login --ci` names the job, escaped; its JSON carries the values unchanged.
    let job = User::new().with_env("ZT_BROKER", w.broker.url.clone());
    let dir = zt_testkit::tempdir();
    let file = dir.path().join("token");
    let login = |json: bool| {
        std::fs::write(&file, w.github.mint(claims(granted))).unwrap();
        let path = file.to_str().unwrap();
        let mut args = vec!["login", "--ci", "--id-token-file", path];
        args.extend(json.then_some("--json"));
        job.run(&args)
    };
    let run = login(false);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(escaped(&run.stderr), "{:?}", run.stderr);
    assert!(run.stderr.contains(r"\u{202e}"), "{:?}", run.stderr);
    let run = login(true);
    assert_eq!(run.code, Some(0), "{run:?}");
    let done = run.json_lines().pop().unwrap();
    assert_eq!(done["identity"]["subject"], sub);
    assert_eq!(done["identity"]["claims"]["repository"], granted);
}

#[test]
fn a_workload_token_may_name_several_audiences_but_must_name_the_broker() {
    let w = world();
    let url = w.broker.url.as_str();
    // RFC 7519 §4.1.3: `aud` may be an array; the broker must be in it. Unlike an ID token
    // (OIDC wants `azp` then), a workload token needs nothing more.
    for (case, aud) in [
        (
            "the broker among others",
            json!(["https://other.example", url, KUBERNETES]),
        ),
        ("the broker alone, in an array", json!([url])),
    ] {
        let reply = w.exchange(&w.github.mint(with(w.job(), "aud", aud)));
        w.granted(&reply, "token_exchange", "deploy-from-main", case);
    }
    let cases = [
        ("an empty array", json!([])),
        ("others only", json!(["https://other.example", KUBERNETES])),
        (
            "the broker with a trailing slash",
            json!([format!("{url}/")]),
        ),
        ("the broker in upper case", json!(url.to_uppercase())),
        ("the broker's access-token audience", json!("zt-broker")),
        ("the broker, nested", json!([[url]])),
        ("the broker and a number", json!([url, 1])),
        ("an object", json!({ "aud": url })),
        ("null", Value::Null),
    ];
    for (case, aud) in cases {
        let reply = w.exchange(&w.github.mint(with(w.job(), "aud", aud)));
        w.refused(&reply, REFUSED, 400, "invalid_grant", case);
    }
    let reply = w.exchange(&w.github.mint(without(w.job(), "aud")));
    w.refused(&reply, REFUSED, 400, "invalid_grant", "no aud");
}

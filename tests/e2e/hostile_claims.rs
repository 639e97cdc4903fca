//! Identity claims are outside text. The test IdP's `mallory` has a `sub`, `email`, `name` and
//! groups with newlines, a forged `zt: Logged in as admin` line, ANSI and OSC escapes, a C1
//! CSI, bidi overrides and isolates and a zero-width space. What the real `zt login` and
//! `zt status` print for people carries them escaped, so none reaches the terminal and no
//! forged line starts a line; `zt status --json` carries them exactly as the IdP sent them.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use super::fixture::{Broker, POLICY, Run, User};
use zt_testkit::idp::{MALLORY, TestIdp};
use zt_testkit::{Peer, require_peers};

/// mallory's claims, as tests/idp/server.mjs defines them.
const SUB: &str = "sub-mallory\nzt: Logged in as admin\u{1b}[2J\u{202e}gnp.exe";
const EMAIL: &str =
    "mallory@example.com\nzt: Logged in as admin\u{1b}[2J\u{9b}31m\u{2066}x\u{2069}";
const GROUPS: [&str; 3] = [
    "sre",
    "ops\nzt: Logged in as admin\u{1b}]0;title\u{7}",
    "\u{202e}nimda\u{200b}",
];
/// The line the claims try to forge.
const FORGED: &str = "zt: Logged in as admin";

/// A policy with no rule for mallory's groups: the login is denied, and the denial names the
/// identity and its groups.
const DEV_ONLY: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "dev-only"
match.groups = ["dev"]
principals = ["dev"]
"#;

/// What must never reach a terminal from outside text: C0 controls (the line breaks zt writes
/// itself are split off first), DEL, C1 controls, bidi embeddings, overrides and isolates, and
/// the zero-width space.
fn is_raw_control(c: char) -> bool {
    c < ' '
        || c == '\u{7f}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{200b}'
}

/// No raw control character on any line of `text`, and no line that starts with the forged one.
fn assert_safe(what: &str, text: &str) {
    for (n, line) in text.split('\n').enumerate() {
        let raw: Vec<char> = line.chars().filter(|c| is_raw_control(*c)).collect();
        assert!(
            raw.is_empty(),
            "{what}, line {n}: raw {raw:?} in {line:?}\nwhole output:\n{text:?}"
        );
        assert!(
            !line.starts_with(FORGED),
            "{what}, line {n} is the forged one: {line:?}\nwhole output:\n{text:?}"
        );
    }
}

/// `zt login` as a person runs it (no `--json`): read the code from the prompt on stderr,
/// approve it as `who`, collect the rest.
fn login_as_a_person(user: &User, broker: &Broker, idp: &TestIdp, who: (&str, &str)) -> Run {
    let mut child = user
        .zt()
        .args(["login", "--broker", &broker.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zt login");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    loop {
        let mut line = Vec::new();
        if stderr.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        seen.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        if let Some((_, code)) = text.trim_end().rsplit_once("enter the code ") {
            idp.approve(code, who.0, who.1);
            break;
        }
    }
    stderr.read_to_end(&mut seen).unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&seen).into_owned(),
    }
}

#[test]
fn hostile_identity_claims_reach_the_terminal_escaped_and_json_exactly() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(Default::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();

    let login = login_as_a_person(&user, &broker, &idp, MALLORY);
    assert_eq!(
        login.code,
        Some(0),
        "{login:?}\nbroker log:\n{}",
        broker.log()
    );
    assert_safe("zt login's stderr", &login.stderr);
    assert_safe("zt login's stdout", &login.stdout);
    // Shown, escaped: not left out.
    assert!(
        login.stderr.contains(
            r"Logged in as mallory@example.com\nzt: Logged in as admin\u{1b}[2J\u{9b}31m\u{2066}x\u{2069}. Certificate for ops"
        ),
        "{}",
        login.stderr
    );

    let status = user.run(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert_safe("zt status's stderr", &status.stderr);
    assert_safe("zt status's stdout", &status.stdout);
    assert!(
        status.stderr.contains(
            r"groups:       sre, ops\nzt: Logged in as admin\u{1b}]0;title\u{7}, \u{202e}nimda\u{200b}"
        ),
        "{}",
        status.stderr
    );
    assert!(
        status
            .stderr
            .contains(r"identity:     mallory@example.com\nzt: Logged in as admin\u{1b}[2J"),
        "{}",
        status.stderr
    );

    // JSON escapes by construction and carries the values unchanged.
    let json = user.run(&["status", "--json"]);
    assert_eq!(json.code, Some(0), "{json:?}");
    let json: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(json["identity"]["subject"], SUB);
    assert_eq!(json["identity"]["email"], EMAIL);
    assert_eq!(json["identity"]["groups"], serde_json::json!(GROUPS));
}

#[test]
fn a_denial_that_names_hostile_claims_reaches_the_terminal_escaped() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(Default::default());
    let broker = Broker::start(&idp.issuer, DEV_ONLY);
    let user = User::new();

    let login = login_as_a_person(&user, &broker, &idp, MALLORY);
    assert_eq!(
        login.code,
        Some(4),
        "{login:?}\nbroker log:\n{}",
        broker.log()
    );
    assert_safe("a denied zt login's stderr", &login.stderr);
    assert_safe("a denied zt login's stdout", &login.stdout);
    assert!(
        login.stderr.contains(
            r"sub=sub-mallory\nzt: Logged in as admin\u{1b}[2J\u{202e}gnp.exe groups=[sre, ops\nzt: Logged in as admin\u{1b}]0;title\u{7}, \u{202e}nimda\u{200b}]"
        ),
        "{}",
        login.stderr
    );
}

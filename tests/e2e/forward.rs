//! `zt forward` and forwarding through `zt ssh`, with real traffic: an HTTP
//! server on the target side reached through `-L`, a SOCKS5 request through
//! `-D`, a reconnect after the tunnel's ssh is killed, a clean stop on
//! SIGINT; and the refusals (exit 4, before ssh runs) when the policy does
//! not grant `permit-port-forwarding` or `permit-agent-forwarding`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::fixture::{Broker, POLICY, User};
use super::target;
use zt_testkit::agent::TestAgent;
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::process::{GroupChild, wait_until};
use zt_testkit::sshd::current_login;
use zt_testkit::{Peer, free_port, require_peers};

/// Like `POLICY`, but the sre rule also grants forwarding.
const FORWARDING_POLICY: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "tunnels"
match.groups = ["sre"]
principals = ["ops"]
extensions = ["permit-pty", "permit-port-forwarding", "permit-agent-forwarding"]
"#;

/// The forwarding rule with the shortest TTL the broker allows.
const SHORT_FORWARDING_POLICY: &str = r#"
[defaults]
ttl = "1m"
max_ttl = "8h"

[[rules]]
name = "tunnels"
match.groups = ["sre"]
principals = ["ops"]
extensions = ["permit-port-forwarding"]
"#;

const BODY: &str = "hello from the target side";

/// A tiny HTTP server on 127.0.0.1 (the target is loopback too); returns its port.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{BODY}",
                BODY.len()
            );
        }
    });
    port
}

fn connect(port: u16) -> Option<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(stream)
}

/// GET / on an open stream; the body, if the answer is a 200.
fn get(mut stream: TcpStream) -> Option<String> {
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: target\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
}

fn http_through(port: u16) -> Option<String> {
    get(connect(port)?)
}

/// SOCKS5 (RFC 1928), no authentication, CONNECT to 127.0.0.1:`target`.
fn socks_through(socks: u16, target: u16) -> Option<String> {
    let mut stream = connect(socks)?;
    stream.write_all(&[5, 1, 0]).ok()?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).ok()?;
    if choice != [5, 0] {
        return None;
    }
    let [hi, lo] = target.to_be_bytes();
    stream.write_all(&[5, 1, 0, 1, 127, 0, 0, 1, hi, lo]).ok()?;
    let mut reply = [0u8; 10];
    stream.read_exact(&mut reply).ok()?;
    if reply[..2] != [5, 0] {
        return None;
    }
    get(stream)
}

/// `zt forward --json …` running, with its events collected as they come.
struct Forward {
    child: GroupChild,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Forward {
    fn start(user: &User, args: &[String]) -> Forward {
        let mut command = user.zt();
        command
            .arg("forward")
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = GroupChild::spawn(command).unwrap();
        let stdout = child.stdout().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Forward { child, events }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    fn ssh_pids(&self) -> Vec<u64> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "ssh_started")
            .filter_map(|e| e["pid"].as_u64())
            .collect()
    }
}

fn signal(pid: u64, name: &str) -> bool {
    Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn logged_in(policy: &str) -> (TestIdp, Broker, User) {
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, policy);
    let user = User::new();
    user.login_as(&broker, &idp, ALICE);
    (idp, broker, user)
}

#[test]
fn zt_forward_carries_http_and_socks_reconnects_and_stops_on_ctrl_c() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let (_idp, broker, user) = logged_in(FORWARDING_POLICY);
    let sshd = target(&broker, &["ops"], true);
    let http = http_server();
    let (local, socks) = (free_port(), free_port());
    let forward = Forward::start(
        &user,
        &[
            "-F".into(),
            "/dev/null".into(),
            "-p".into(),
            sshd.port.to_string(),
            format!("{}@127.0.0.1", current_login()),
            "-L".into(),
            format!("127.0.0.1:{local}:127.0.0.1:{http}"),
            "-D".into(),
            format!("127.0.0.1:{socks}"),
        ],
    );
    let mut forward = forward;
    let up = wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    });
    assert!(
        up,
        "no HTTP through -L; events {:?}\nsshd:\n{}",
        forward.events(),
        sshd.log()
    );
    assert_eq!(socks_through(socks, http).as_deref(), Some(BODY));

    // Kill the tunnel's ssh: zt starts a new one and traffic flows again.
    let first = forward.ssh_pids();
    assert_eq!(first.len(), 1, "{:?}", forward.events());
    assert!(signal(first[0], "KILL"));
    let restarted = wait_until(Duration::from_secs(30), || forward.ssh_pids().len() == 2);
    assert!(restarted, "no reconnect: {:?}", forward.events());
    let second = forward.ssh_pids()[1];
    assert_ne!(second, first[0]);
    assert!(
        forward.events().iter().any(|e| e["event"] == "ssh_exited"),
        "{:?}",
        forward.events()
    );
    let back = wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    });
    assert!(back, "no HTTP after the reconnect; {:?}", forward.events());
    assert_eq!(
        sshd.log().matches("Accepted publickey").count(),
        2,
        "{}",
        sshd.log()
    );

    // Ctrl-C: zt stops its ssh and exits 0.
    assert!(signal(u64::from(forward.child.id()), "INT"));
    assert!(
        wait_until(Duration::from_secs(15), || forward
            .child
            .try_exited()
            .is_some()),
        "zt forward did not stop on SIGINT"
    );
    let status = forward.child.try_exited().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", forward.events());
    assert!(
        wait_until(Duration::from_secs(10), || !signal(second, "0")),
        "ssh {second} outlived zt forward"
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            forward
                .events()
                .last()
                .is_some_and(|e| e["event"] == "stopped")
        }),
        "{:?}",
        forward.events()
    );
    assert!(connect(local).is_none(), "the -L port is still open");
}

#[test]
fn zt_forward_reconnects_with_a_fresh_certificate_before_the_old_one_expires() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let (_idp, broker, user) = logged_in(SHORT_FORWARDING_POLICY);
    let sshd = target(&broker, &["ops"], true);
    let http = http_server();
    let local = free_port();
    let forward = Forward::start(
        &user,
        &[
            "-F".into(),
            "/dev/null".into(),
            "-p".into(),
            sshd.port.to_string(),
            format!("{}@127.0.0.1", current_login()),
            "-L".into(),
            format!("127.0.0.1:{local}:127.0.0.1:{http}"),
        ],
    );
    let serials = || -> Vec<u64> {
        forward
            .events()
            .iter()
            .filter(|e| e["event"] == "ssh_started")
            .map(|e| zt_testkit::serial(&e["serial"]))
            .collect()
    };
    // A 60 s certificate is renewed with 20 s left: the second tunnel
    // starts about 40 s in, on a new certificate.
    let renewed = wait_until(Duration::from_secs(90), || serials().len() >= 2);
    assert!(
        renewed,
        "no reconnect before expiry: {:?}",
        forward.events()
    );
    let serials = serials();
    assert_ne!(serials[0], serials[1], "{:?}", forward.events());
    assert!(
        forward
            .events()
            .iter()
            .any(|e| e["event"] == "certificate_expiring"),
        "{:?}",
        forward.events()
    );
    let back = wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    });
    assert!(
        back,
        "no HTTP on the new certificate; {:?}",
        forward.events()
    );
    assert!(
        sshd.log().contains(&format!("serial {}", serials[1])),
        "{}",
        sshd.log()
    );
}

#[test]
fn zt_ssh_dash_l_forwards_when_the_policy_permits_and_dash_a_forwards_the_agent() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, FORWARDING_POLICY);
    let agent = TestAgent::start();
    let user = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    user.login_as(&broker, &idp, ALICE);
    let sshd = target(&broker, &["ops"], true);
    let port = sshd.port.to_string();
    let destination = format!("{}@127.0.0.1", current_login());

    let http = http_server();
    let local = free_port();
    let mut command = user.zt();
    command
        .args([
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-p",
            &port,
            "-N",
        ])
        .arg("-L")
        .arg(format!("127.0.0.1:{local}:127.0.0.1:{http}"))
        .arg(&destination)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut tunnel = GroupChild::spawn(command).unwrap();
    let up = wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    });
    tunnel.kill();
    assert!(up, "no HTTP through zt ssh -L\nsshd:\n{}", sshd.log());

    // -A: the remote side sees the forwarded agent and its zt certificate.
    let run = user.run(&[
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-p",
        &port,
        "-A",
        &destination,
        "--",
        "ssh-add",
        "-L",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}\nsshd:\n{}", sshd.log());
    assert!(run.stdout.contains("-cert-v01@openssh.com"), "{run:?}");
}

#[test]
fn forwarding_the_policy_does_not_grant_is_refused_before_ssh_runs() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    // POLICY's sre rule grants permit-pty only.
    let (_idp, broker, user) = logged_in(POLICY);
    let sshd = target(&broker, &["ops"], true);
    let port = sshd.port.to_string();
    let destination = format!("{}@127.0.0.1", current_login());
    let attempts: [(&str, Vec<&str>); 4] = [
        (
            "permit-port-forwarding",
            vec![
                "forward",
                "-p",
                &port,
                &destination,
                "-L",
                "8080:127.0.0.1:80",
            ],
        ),
        (
            "permit-port-forwarding",
            vec!["ssh", "-p", &port, "-D", "1080", &destination],
        ),
        (
            "permit-port-forwarding",
            vec![
                "ssh",
                "-p",
                &port,
                "-oLocalForward=8080 127.0.0.1:80",
                &destination,
            ],
        ),
        (
            "permit-agent-forwarding",
            vec!["ssh", "-p", &port, "-A", &destination, "true"],
        ),
    ];
    // The harness's banner probe is the only connection so far.
    let connections = || sshd.log().matches("Connection from").count();
    let before = connections();
    for (extension, args) in attempts {
        let run = user.run(&args);
        assert_eq!(run.code, Some(4), "{args:?}: {run:?}");
        assert!(run.stderr.contains(extension), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("\"sre\""), "{args:?}: {}", run.stderr);
    }
    assert_eq!(connections(), before, "ssh ran anyway:\n{}", sshd.log());
    // Control: without forwarding the same user gets in.
    let run = user.run(&[
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-p",
        &port,
        &destination,
        "true",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(wait_until(Duration::from_secs(5), || connections() > before));
}

/// Issue 13: a CI job keeps a tunnel up with its workload identity. A reconnect reuses the
/// job's certificate while it is valid (no new token), and on Ctrl-C nothing is left behind.
#[test]
fn zt_forward_ci_carries_a_tunnel_for_a_job_and_leaves_nothing_behind() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};
    let idp = TestIdp::start(IdpOptions::default());
    let github = WorkloadIssuer::start(Alg::Es256);
    let policy = format!(
        r#"
[[rules]]
name = "job-tunnels"
match.issuers = ["{}"]
match.claims.repository = "acme/app"
principals = ["ops"]
extensions = ["permit-port-forwarding"]
"#,
        github.issuer()
    );
    let broker = Broker::start_trusting(&idp.issuer, &policy, &[&github.issuer()]);
    github.set_job_claims(github.github_claims("acme/app", "refs/heads/main", "unused"));
    let job = User::new()
        .with_env("CI", "true")
        .with_env("ZT_BROKER", broker.url.clone())
        .with_env("ACTIONS_ID_TOKEN_REQUEST_URL", github.request_url())
        .with_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", github.request_token());
    job.zt();
    let before = super::fixture::listing(job.home.path());
    let sshd = target(&broker, &["ops"], true);
    let http = http_server();
    let local = free_port();
    let mut forward = Forward::start(
        &job,
        &[
            "--ci".into(),
            "-F".into(),
            "/dev/null".into(),
            "-p".into(),
            sshd.port.to_string(),
            format!("{}@127.0.0.1", current_login()),
            "-L".into(),
            format!("127.0.0.1:{local}:127.0.0.1:{http}"),
        ],
    );
    let up = wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    });
    assert!(
        up,
        "no HTTP through -L; {:?}\n{}",
        forward.events(),
        broker.log()
    );
    let first = forward.ssh_pids();
    assert!(signal(first[0], "KILL"));
    assert!(wait_until(Duration::from_secs(30), || forward
        .ssh_pids()
        .len()
        == 2));
    assert!(wait_until(Duration::from_secs(30), || {
        http_through(local).as_deref() == Some(BODY)
    }));
    assert_eq!(
        github.token_requests(),
        1,
        "the valid certificate was not reused"
    );

    assert!(signal(u64::from(forward.child.id()), "INT"));
    assert!(wait_until(Duration::from_secs(15), || forward
        .child
        .try_exited()
        .is_some()));
    assert_eq!(forward.child.try_exited().unwrap().code(), Some(0));
    assert_eq!(
        super::fixture::listing(job.home.path()),
        before,
        "the job left files behind"
    );
}

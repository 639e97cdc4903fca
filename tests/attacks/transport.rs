//! Transport and resources: oversized and malformed bodies, clients that trickle
//! their headers, and connection floods. The limits live in the server layer
//! (`crates/broker/src/http.rs`, `crates/broker/src/connections.rs`); each test keeps an honest
//! client working next to the attack.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::json;

use super::{Caller, POLICY, assert_refused, honest_certificate, setup};
use crate::e2e::fixture::Broker;
use zt_testkit::broker_client::ssh_key;
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::http::block_on;

fn addr(broker: &Broker) -> SocketAddr {
    let url = broker.url.trim_start_matches("http://");
    url.trim_start_matches("https://").parse().unwrap()
}

/// The status line of the answer on `stream` (or "" if the broker closed first).
fn status_line(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).trim().to_owned()
}

#[test]
fn a_content_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let (idp, broker) = setup();
    for path in [zt_core::proto::TOKEN_PATH, zt_core::proto::CERTIFICATE_PATH] {
        let mut stream = TcpStream::connect(addr(&broker)).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: broker\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        // Not one byte of the body is sent: the answer must come anyway.
        let status = status_line(&mut stream);
        assert!(status.starts_with("HTTP/1.1 413"), "{path}: {status:?}");
    }
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
}

#[test]
fn a_chunked_body_over_the_limit_is_cut_off() {
    let (idp, broker) = setup();
    const OFFERED: usize = 256 * 1024 * 1024;
    let mut stream = TcpStream::connect(addr(&broker)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let sender = std::thread::spawn(move || {
        let head = "POST /v1/ssh/certificates HTTP/1.1\r\nHost: broker\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        writer.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < OFFERED {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let status = status_line(&mut stream);
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
    drop(stream);
    let sent = sender.join().unwrap();
    assert!(sent < OFFERED, "the broker read all {sent} bytes");
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
}

#[test]
fn huge_nested_or_unknown_json_is_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    // (case, member, value, status): `member` set to `value` in an honest body.
    let cases = [
        (
            "huge body",
            "principals",
            json!(vec!["x".repeat(1000); 200]),
            413,
        ),
        ("unknown field", "admin", json!(true), 400),
        ("wrong type", "ttl_secs", json!("3600"), 400),
        ("negative ttl", "ttl_secs", json!(-1), 400),
    ];
    for (case, member, value, status) in cases {
        let reply = caller.certificate_with(&token, &ssh_key(), |b| b[member] = value);
        assert_refused(&reply, status, "invalid_request", case, &token);
    }
    // Raw bodies that are not JSON objects at all.
    let nested = format!("{}{}", "[".repeat(100_000 / 2), "]".repeat(100_000 / 2));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
    let deep_principals = format!(
        r#"{{"public_key":"k","possession_proof":"p","principals":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    for (case, body, status) in [
        ("nested arrays over the limit", nested, 413),
        ("deeply nested object", deep_object, 400),
        ("deeply nested principals", deep_principals, 400),
        ("not JSON", "public_key=x".to_owned(), 400),
    ] {
        let reply = block_on(async {
            let response = zt_testkit::http::client()
                .post(caller.certificate_url())
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            zt_testkit::http::into_json(response).await
        });
        assert_refused(&reply, status, "invalid_request", case, "");
    }
    // Unknown form fields at the token endpoint.
    let mut form = serde_json::to_value(zt_core::requests::exchange_form(
        &idp.id_token("alice", &["sre"]),
    ))
    .unwrap();
    form["scope"] = json!("admin");
    let reply = block_on(async {
        let response = zt_testkit::http::client()
            .post(caller.token_url())
            .header("DPoP", caller.token_proof())
            .form(&form)
            .send()
            .await
            .unwrap();
        zt_testkit::http::into_json(response).await
    });
    assert_refused(&reply, 400, "invalid_request", "unknown form field", "");
    assert_eq!(
        caller.certificate(&token, &ssh_key()).status,
        200,
        "positive control"
    );
}

#[test]
fn a_request_head_over_the_limit_is_refused_with_431() {
    let (idp, broker) = setup();
    let mut stream = TcpStream::connect(addr(&broker)).unwrap();
    // Over the default max_request_head_bytes (16 KiB): refused before it is all read.
    let big = "a".repeat(32 * 1024);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: broker\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let status = status_line(&mut stream);
    assert!(status.starts_with("HTTP/1.1 431"), "{status:?}");
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
}

/// Trickles a request head one header line per read timeout until the broker
/// closes the connection; true if it did within `ticks`.
fn trickle_until_closed(broker: SocketAddr, ticks: usize) -> bool {
    let mut stream = TcpStream::connect(broker).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let _ = stream.write_all(b"POST /v1/token HTTP/1.1\r\nHost: broker\r\n");
    let mut buf = [0u8; 256];
    for i in 0..ticks {
        match stream.read(&mut buf) {
            // Closed, or an error status (408) before closing.
            Ok(_) => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stream
                    .write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
                    .is_err()
                {
                    return true;
                }
            }
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn clients_trickling_headers_are_disconnected_while_honest_ones_are_served() {
    let idp = HostileIdp::start();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["header_read_timeout_secs"] = 2.into();
    });
    let target = addr(&broker);
    // 12 s of trickling at most; the broker's header timeout is 2 s.
    let slow: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || trickle_until_closed(target, 48)))
        .collect();
    for sub in ["alice", "bob", "carol"] {
        assert_eq!(
            honest_certificate(&idp, &broker, sub).status,
            200,
            "honest client"
        );
    }
    for handle in slow {
        assert!(
            handle.join().unwrap(),
            "a slow client was never disconnected"
        );
    }
}

/// Resident memory of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn a_connection_flood_is_bounded_and_the_broker_stays_responsive() {
    const PER_ADDRESS: usize = 16;
    const PARKED: usize = 100;
    const FLOOD: usize = 400;
    let idp = HostileIdp::start();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["max_connections_per_address"] = (PER_ADDRESS as i64).into();
        config["limits"]["max_connections"] = 64.into();
        config["limits"]["max_parked_connections"] = (PARKED as i64).into();
        config["limits"]["header_read_timeout_secs"] = 60.into();
    });
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
    let pid = broker.pid().unwrap();
    let before = rss_kib(pid);
    let target = addr(&broker);
    let (open, during) = block_on(async {
        // The attacker comes from another loopback address than the honest client.
        let mut flood = Vec::with_capacity(FLOOD);
        for _ in 0..FLOOD {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            if let Ok(stream) = socket.connect(target).await {
                flood.push(stream);
            }
        }
        // Served while the flood holds its connections.
        let during = honest_certificate(&idp, &broker, "bob").status;
        let mut reads = tokio::task::JoinSet::new();
        for mut stream in flood {
            reads.spawn(async move {
                let mut buf = [0u8; 1];
                let read = tokio::io::AsyncReadExt::read(&mut stream, &mut buf);
                // Still open after a second of silence: the broker kept it.
                tokio::time::timeout(Duration::from_secs(1), read)
                    .await
                    .is_err()
            });
        }
        let open = reads
            .join_all()
            .await
            .into_iter()
            .filter(|&kept| kept)
            .count();
        (open, during)
    });
    assert_eq!(during, 200, "honest client during the flood");
    // Served, plus parked (held unread, no buffer) once pushed out; the rest closed.
    assert!(
        open <= PER_ADDRESS + PARKED,
        "{open} flood connections kept open"
    );
    assert!(open > PER_ADDRESS, "no connection was parked ({open} open)");
    let after = rss_kib(pid);
    assert!(
        after < before + 100 * 1024,
        "broker RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(honest_certificate(&idp, &broker, "carol").status, 200);
}

#[test]
fn idle_keep_alive_connections_do_not_hold_their_slot() {
    let idp = HostileIdp::start();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["header_read_timeout_secs"] = 1.into();
    });
    let mut stream = TcpStream::connect(addr(&broker)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: broker\r\n\r\n")
        .unwrap();
    assert!(status_line(&mut stream).starts_with("HTTP/1.1 200"));
    // Then silence: the broker must close the connection (read returns EOF) well
    // before the 20 s read timeout.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    let closed = stream.read_to_end(&mut rest);
    assert!(closed.is_ok(), "idle connection still open: {closed:?}");
}

#[test]
fn over_tls_the_same_bounds_hold_before_the_handshake() {
    let tls = crate::e2e::fixture::TlsFiles::new();
    let (cert, key) = (tls.path("cert.pem"), tls.path("key.pem"));
    let idp = HostileIdp::start();
    let mut public_url = String::new();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        let listen = config["server"]["listen"].as_str().unwrap().to_owned();
        public_url = format!("https://{listen}");
        let server = config["server"].as_table_mut().unwrap();
        server.insert("public_url".into(), public_url.clone().into());
        server.insert("tls_certificate".into(), cert.clone().into());
        server.insert("tls_key".into(), key.clone().into());
        config["limits"]["max_connections_per_address"] = 4.into();
        config["limits"]["max_parked_connections"] = 8.into();
        config["limits"]["header_read_timeout_secs"] = 60.into();
    });
    let target = addr(&broker);
    // Idle sockets that never start the TLS handshake, from another address.
    let open = block_on(async {
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            let mut stream = socket.connect(target).await.unwrap();
            reads.spawn(async move {
                let mut buf = [0u8; 1];
                let read = tokio::io::AsyncReadExt::read(&mut stream, &mut buf);
                tokio::time::timeout(Duration::from_secs(1), read)
                    .await
                    .is_err()
            });
        }
        reads
            .join_all()
            .await
            .into_iter()
            .filter(|&kept| kept)
            .count()
    });
    // Four served, eight parked.
    assert!(open <= 4 + 8, "{open} idle TLS connections kept");
    // An honest client over HTTPS, trusting the test certificate.
    let root = reqwest::Certificate::from_pem(&std::fs::read(tls.path("ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(root)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let caller = Caller::with_client(&public_url, http);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    assert_eq!(caller.certificate(&token, &ssh_key()).status, 200);
}

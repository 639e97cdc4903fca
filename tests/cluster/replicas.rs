//! What a client sends to one replica counts at all of them: single-use values, serials,
//! revocations, the KRL and the audit chain live in the one database.

use std::path::Path;
use std::process::Output;
use zt_core::requests::exchange_form;

use zt_testkit::broker_client::{Caller, ssh_key};
use zt_testkit::haproxy::Haproxy;
use zt_testkit::http::{JsonResponse, block_on, client};
use zt_testkit::ssh::{KeyPair, ssh_command};
use zt_testkit::sshd::{SshdBuilder, current_login};
use zt_testkit::{Peer, require_peers};

use super::Cluster;
use crate::hosts::admin::{Target, create_token, text};

/// `send(replica)` at every replica at once; the answers in replica order.
fn race(replicas: &[String], send: impl Fn(&str) -> JsonResponse + Sync) -> Vec<JsonResponse> {
    std::thread::scope(|scope| {
        let sent: Vec<_> = replicas
            .iter()
            .map(|replica| scope.spawn(|| send(replica)))
            .collect();
        sent.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Exactly one 200; every other answer has `status` and `code`.
#[track_caller]
fn accepted_once(replies: &[JsonResponse], status: u16, code: &str, case: &str) {
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{case}: {replies:?}");
    for refused in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(
            (refused.status, refused.error()),
            (status, Some(code)),
            "{case}: {}",
            refused.body
        );
    }
}

#[test]
fn a_value_raced_at_two_replicas_is_accepted_once_and_the_log_is_one_chain() {
    let Some(cluster) = Cluster::start(2) else {
        return;
    };
    for round in 0..5 {
        // A device per user: a device belongs to the user who first used it.
        let caller = Caller::new(&cluster.public_url);
        // One ID token, exchanged at both replicas at once (each with its own proof).
        let form = exchange_form(&cluster.idp.id_token(&format!("user-{round}"), &["sre"]));
        let replies = race(&cluster.replicas, |replica| {
            caller.exchange_at(replica, &form, Some(&caller.token_proof()))
        });
        accepted_once(&replies, 400, "id_token_reused", "ID token");
        let token = replies
            .iter()
            .find(|r| r.status == 200)
            .unwrap()
            .str("access_token")
            .to_owned();
        // One DPoP proof (one jti) with its certificate request, at both replicas at once.
        let (proof, body) = caller.certificate_body(&token, &ssh_key());
        let authorization = format!("DPoP {token}");
        let replies = race(&cluster.replicas, |replica| {
            caller.certificate_at(replica, Some(&authorization), Some(&proof), &body)
        });
        accepted_once(&replies, 401, "invalid_dpop_proof", "DPoP proof");
        // The token works at either replica with a fresh proof.
        for replica in &cluster.replicas {
            let (proof, body) = caller.certificate_body(&token, &ssh_key());
            let reply = caller.certificate_at(replica, Some(&authorization), Some(&proof), &body);
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    }
    // Every record of both replicas, in one chain that `audit verify` checks as it checks
    // one broker's: per round 2 exchanges (one refused), 2 raced requests (one refused) and 2
    // more certificates.
    assert_eq!(cluster.verified_records(), 30);
    let issued = cluster
        .exported()
        .iter()
        .filter(|r| r["kind"] == "certificate_issued")
        .count();
    assert_eq!(issued, 15);
}

/// A certificate for `subject` from `replica`: its serial, and the key pair in `dir` with the
/// certificate beside it.
fn certificate_from(cluster: &Cluster, replica: &str, subject: &str, dir: &Path) -> (u64, KeyPair) {
    let caller = Caller::new(&cluster.public_url);
    let token = access_token(cluster, &caller, subject);
    let key = ssh_key();
    let (proof, body) = caller.certificate_body(&token, &key);
    let reply = caller.certificate_at(replica, Some(&format!("DPoP {token}")), Some(&proof), &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let pair = KeyPair {
        private: dir.join("id"),
        public: dir.join("id.pub"),
    };
    zt_os::files::write_private(
        &pair.private,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(pair.certificate_path(), reply.str("certificate")).unwrap();
    (zt_testkit::serial(&reply.body["serial"]), pair)
}

/// `ssh` with `pair` to `port` as `login`, trusting `host_key` there; the output of `true`.
fn ssh_true(port: u16, login: &str, pair: &KeyPair, host_key: &str, dir: &Path) -> Output {
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}\n")).unwrap();
    ssh_command(port, login, pair, &pair.certificate_path(), &known_hosts)
        .arg("true")
        .output()
        .unwrap()
}

/// An access token for `subject` (group sre), exchanged at the first replica.
fn access_token(cluster: &Cluster, caller: &Caller, subject: &str) -> String {
    let form = exchange_form(&cluster.idp.id_token(subject, &["sre"]));
    let reply = caller.exchange_at(&cluster.replicas[0], &form, Some(&caller.token_proof()));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.str("access_token").to_owned()
}

/// The KRL at `replica`: status, ETag and body.
fn krl(replica: &str) -> (u16, String, Vec<u8>) {
    block_on(async {
        let response = client()
            .get(format!("{replica}{}", zt_core::proto::KRL_PATH))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, etag, response.bytes().await.unwrap().to_vec())
    })
}

/// The discovery document at `replica`, as text.
fn discovery(replica: &str) -> String {
    zt_testkit::http::get_text(&format!("{replica}{}", zt_core::proto::WELL_KNOWN_PATH))
}

#[test]
fn a_certificate_from_one_replica_is_refused_by_sshd_after_a_krl_sync_from_another() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let Some(cluster) = Cluster::start(2) else {
        return;
    };
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);
    assert_eq!(discovery(a), discovery(b), "one discovery document");

    // Replica A issues the certificate.
    let dir = zt_testkit::tempdir();
    let (serial, pair) = certificate_from(&cluster, a, "mallory", dir.path());

    // A target that syncs its KRL from replica B, before and after the revocation.
    let login = current_login();
    let revoked_keys = dir.path().join("revoked_keys");
    let (_, before_etag, before) = krl(b);
    std::fs::write(&revoked_keys, &before).unwrap();
    let target = SshdBuilder::new()
        .user_ca(&cluster.broker.user_ca())
        .principals(&login, &["ops"])
        .revoked_keys(&revoked_keys);
    let host_key = target.host_public_key();
    let sshd = target.start();
    let ssh = || ssh_true(sshd.port, &login, &pair, &host_key, dir.path());
    let out = ssh();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = cluster.admin(&["revoke", "--serial", &serial.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, etag_b, after_b) = krl(b);
    assert_eq!(status, 200);
    assert_ne!(etag_b, before_etag, "replica B serves the revocation");
    let (_, etag_a, after_a) = krl(a);
    assert_eq!(
        (etag_a, after_a),
        (etag_b, after_b.clone()),
        "one KRL, one ETag"
    );
    std::fs::write(&revoked_keys, &after_b).unwrap();
    let out = ssh();
    assert_eq!(
        out.status.code(),
        Some(255),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sshd.wait_for_log("revoked", std::time::Duration::from_secs(10)),
        "sshd log:\n{}",
        sshd.log()
    );
}

/// The same through `zt host`: a host enrolled through the balancer runs `zt host krl-sync`
/// while the replica that issued a certificate is down, so the KRL comes from the other one,
/// and sshd refuses the revoked certificate.
#[test]
fn zt_host_krl_sync_through_the_balancer_gets_the_other_replicas_krl() {
    if !require_peers(&[Peer::Sshd, Peer::Haproxy]) {
        return;
    }
    let Some(mut cluster) = Cluster::start(2) else {
        return;
    };
    let _balancer = Haproxy::start(cluster.public_port, &cluster.servers());
    let login = current_login();
    let builder = SshdBuilder::new().principals(&login, &["ops"]);
    let target = Target::in_dir(builder.dir());
    let token = create_token(&cluster.broker, "127.0.0.1", "10m");
    let out = target.enroll(&cluster.broker, &token, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let host_key = builder.host_public_key();
    let include = format!("Include {}/sshd_config.d/*.conf", builder.dir().display());
    let sshd = builder.config_line(&include).start();

    let dir = zt_testkit::tempdir();
    let a = cluster.replicas[0].clone();
    let (serial, pair) = certificate_from(&cluster, &a, "trent", dir.path());
    let ssh = || ssh_true(sshd.port, &login, &pair, &host_key, dir.path());
    let out = ssh();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = cluster.admin(&["revoke", "--serial", &serial.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Replica A is gone; the balancer has only B left.
    cluster.kill(0);
    let out = target.zt_host(&["krl-sync", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("updated"),
        "{}",
        text(&out.stdout)
    );
    let out = ssh();
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert!(
        sshd.wait_for_log("revoked", std::time::Duration::from_secs(10)),
        "sshd log:\n{}",
        sshd.log()
    );
}

#[test]
fn with_the_database_down_every_replica_is_unready_and_issues_nothing() {
    let Some(mut cluster) = Cluster::start(2) else {
        return;
    };
    let caller = Caller::new(&cluster.public_url);
    let token = access_token(&cluster, &caller, "oscar");
    let authorization = format!("DPoP {token}");
    let ready = |replica: &str| {
        zt_testkit::http::get_json(&format!("{replica}{}", zt_core::proto::READY_PATH)).status
    };
    let before = cluster.verified_records();
    cluster.postgres.stop();
    for replica in &cluster.replicas {
        assert_eq!(ready(replica), 503, "{replica}");
        let (proof, body) = caller.certificate_body(&token, &ssh_key());
        let reply = caller.certificate_at(replica, Some(&authorization), Some(&proof), &body);
        assert_eq!(reply.status, 503, "{replica}: {}", reply.body);
        assert!(reply.body.get("certificate").is_none(), "{}", reply.body);
    }
    cluster.postgres.start_again();
    for replica in &cluster.replicas {
        let back = zt_testkit::process::wait_until(std::time::Duration::from_secs(15), || {
            ready(replica) == 200
        });
        assert!(back, "{replica} is ready again once the database is back");
        let (proof, body) = caller.certificate_body(&token, &ssh_key());
        let reply = caller.certificate_at(replica, Some(&authorization), Some(&proof), &body);
        assert_eq!(reply.status, 200, "{replica}: {}", reply.body);
    }
    // The refusals made while the database was down could not be recorded; the two
    // certificates after it came back were.
    assert_eq!(cluster.verified_records(), before + 2);
}

/// Rate limits are per replica (README "Running several brokers"): an identity gets its burst
/// at each replica, so N replicas give it N times the configured burst, and no more.
#[test]
fn an_identity_gets_its_burst_at_each_replica_and_no_more() {
    const BURST: usize = 3;
    const REPLICAS: usize = 3;
    // One request a minute once the burst is spent: none comes back during the test.
    let Some(cluster) = Cluster::start_with(
        REPLICAS,
        &[
            ("per_address_per_minute", 0),
            ("per_identity_per_minute", 1),
            ("per_identity_burst", BURST as i64),
        ],
    ) else {
        return;
    };
    let caller = Caller::new(&cluster.public_url);
    let mut accepted = vec![0; REPLICAS];
    // Twice the burst at every replica, in turn, for one identity (each with an ID token and
    // a proof of its own: only the limit can refuse them).
    for _ in 0..2 * BURST {
        for (replica, url) in cluster.replicas.iter().enumerate() {
            let form = exchange_form(&cluster.idp.id_token("limited", &["sre"]));
            let reply = caller.exchange_at(url, &form, Some(&caller.token_proof()));
            match reply.status {
                200 => accepted[replica] += 1,
                429 => assert_eq!(reply.error(), Some("rate_limited"), "{}", reply.body),
                _ => panic!("replica {replica}: {reply:?}"),
            }
        }
    }
    assert_eq!(accepted, vec![BURST; REPLICAS]);
    // Another identity (on a device of its own) is not held back by the first.
    let other = Caller::new(&cluster.public_url);
    let form = exchange_form(&cluster.idp.id_token("unlimited", &["sre"]));
    let reply = other.exchange_at(&cluster.replicas[0], &form, Some(&other.token_proof()));
    assert_eq!(reply.status, 200, "{}", reply.body);
}

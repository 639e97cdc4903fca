//! Tokens for other services (`zt token --audience`, RFC 8693 with `audience`) are never
//! broker tokens, and a broker token becomes one only with its own device's bound proof.

use super::*;

/// A token for another service, checked as that service would: signature by a key of
/// `/v1/jwks`, issuer, audience, expiry. Returns the claims.
fn verify_service_token(broker: &Broker, token: &str, audience: &str) -> Value {
    let jwks = get_json(&format!("{}{}", broker.url, proto::JWKS_PATH)).body;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(jws_part(token, 0)["typ"], "JWT", "never at+jwt");
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("a published key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&broker.url]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

#[test]
fn tokens_for_other_services_are_never_broker_tokens() {
    let w = world();
    let own = get_json(&format!("{}{}", w.broker.url, proto::WELL_KNOWN_PATH)).body["audience"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = Caller::new(&w.broker.url);
    let access = alice.access_token(&w.idp.id_token("alice", &["sre"]));

    // Control: a token for the API, carrying the device and the rule.
    let reply = alice.service_token(&access, API);
    w.granted(&reply, "service_token_issued", "sre", "control");
    assert_eq!(reply.str("issued_token_type"), TOKEN_TYPE_JWT);
    assert_eq!(reply.str("token_type"), "Bearer");
    let service = reply.str("access_token").to_owned();
    let claims = verify_service_token(&w.broker, &service, API);
    assert_eq!(claims["zt_device"], alice.device.thumbprint().as_str());
    assert_eq!(claims["zt_rule"], "sre");
    assert_eq!(claims["zt_kind"], "person");
    assert_eq!(claims["idp_sub"], "alice");
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 300);
    assert_eq!(
        w.last_record()["device"],
        alice.device.thumbprint().as_str()
    );

    // The service token is no broker token: not for a certificate, not for another audience.
    let reply = alice.certificate(&service, &ssh_key());
    w.refused(
        &reply,
        "certificate_refused",
        401,
        "invalid_token",
        "service token, certificate",
    );
    for audience in [KUBERNETES, API] {
        let reply = alice.service_token(&service, audience);
        w.refused(
            &reply,
            REFUSED,
            401,
            "invalid_token",
            "service token exchanged again",
        );
    }
    let reply = alice.workload_exchange(&service);
    w.refused(
        &reply,
        REFUSED,
        400,
        "invalid_grant",
        "service token as a workload token",
    );

    // The broker token needs its own device's proof, bound to it.
    let thief = Caller::new(&w.broker.url);
    let reply = thief.service_token(&access, API);
    w.refused(
        &reply,
        REFUSED,
        401,
        "invalid_dpop_proof",
        "another device's proof",
    );
    let unbound = alice.exchange_raw(&audience_form(&access, API), Some(&alice.token_proof()));
    w.refused(
        &unbound,
        REFUSED,
        401,
        "invalid_dpop_proof",
        "a proof without ath",
    );

    // The broker's own audience is a broker exchange: a broker token cannot ask for one, an
    // ID token gets a DPoP-bound access token as it would without the audience.
    let reply = alice.service_token(&access, &own);
    w.refused(
        &reply,
        REFUSED,
        400,
        "invalid_target",
        "broker token for the broker",
    );
    let bob = Caller::new(&w.broker.url);
    let form = proto::TokenExchangeRequest {
        audience: Some(own.clone()),
        ..exchange_form(&w.idp.id_token("bob", &["sre"]))
    };
    let reply = bob.exchange_raw(&form, Some(&bob.token_proof()));
    assert_eq!(
        reply.status, 200,
        "ID token for the broker's audience: {}",
        reply.body
    );
    assert_eq!(w.last_record()["kind"], "token_exchange");
    assert_eq!(reply.str("issued_token_type"), TOKEN_TYPE_ACCESS_TOKEN);
    assert_eq!(reply.str("token_type"), "DPoP");
    let bob_access = reply.str("access_token").to_owned();
    w.granted(
        &bob.certificate(&bob_access, &ssh_key()),
        "certificate_issued",
        "sre",
        "bob",
    );

    // Identities go through a broker token first.
    let id_form = proto::TokenExchangeRequest {
        audience: Some(API.into()),
        ..exchange_form(&w.idp.id_token("carol", &["sre"]))
    };
    let reply = bob.exchange_raw(&id_form, Some(&bob.token_proof()));
    w.refused(
        &reply,
        REFUSED,
        400,
        "invalid_target",
        "ID token for another audience",
    );
    let job_form = proto::TokenExchangeRequest {
        audience: Some(KUBERNETES.into()),
        ..workload_exchange_form(&w.github.mint(w.job()))
    };
    let reply = bob.exchange_raw(&job_form, Some(&bob.token_proof()));
    w.refused(
        &reply,
        REFUSED,
        400,
        "invalid_target",
        "workload token for another audience",
    );
    for (case, audience) in [("unlisted", "https://payroll.internal"), ("spaces", "a b")] {
        let reply = alice.service_token(&access, audience);
        let (status, code) = if case == "unlisted" {
            (403, "access_denied")
        } else {
            (400, "invalid_target")
        };
        w.refused(&reply, REFUSED, status, code, case);
    }

    // A job's token for its service carries the workload; the people's service is refused.
    let job = Caller::new(&w.broker.url);
    let reply = job.workload_exchange(&w.github.mint(w.job()));
    w.granted(&reply, "token_exchange", "deploy-from-main", "job");
    let job_access = reply.str("access_token").to_owned();
    let reply = job.service_token(&job_access, KUBERNETES);
    w.granted(
        &reply,
        "service_token_issued",
        "deploy-from-main",
        "job's token",
    );
    let claims = verify_service_token(&w.broker, reply.str("access_token"), KUBERNETES);
    assert_eq!(claims["zt_kind"], "workload");
    assert_eq!(claims["zt_workload"]["repository"], REPO);
    assert_eq!(claims["zt_device"], job.device.thumbprint().as_str());
    let reply = job.service_token(&job_access, API);
    w.refused(
        &reply,
        REFUSED,
        403,
        "access_denied",
        "job, people's service",
    );
    assert_eq!(w.records("service_token_issued").len(), 2);
}

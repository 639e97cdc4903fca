//! Workloads (CI jobs) and tokens for other services, through the service on its own.

use super::*;
use zt_core::requests::{audience_form, workload_exchange_form};
use zt_core::service_token::ServiceClaims;

const CI: &str = "https://ci.test";

fn job(token_id: &str, repository: &str, git_ref: &str) -> VerifiedWorkloadToken {
    let claims = [
        ("sub", format!("repo:{repository}:ref:{git_ref}")),
        ("repository", repository.to_owned()),
        ("ref", git_ref.to_owned()),
        ("run_id", "4242".to_owned()),
        ("actor", "octocat".to_owned()),
        ("repository_owner_id", "99".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    VerifiedWorkloadToken {
        identity: Identity {
            workload: Some(claims),
            ..Identity::person(
                CI,
                &format!("repo:{repository}:ref:{git_ref}"),
                None,
                vec![],
            )
        },
        expires_at: NOW + 300,
        token_id: token_id.into(),
    }
}

/// The workload tokens the fixture's verifier knows.
pub(super) fn jobs() -> HashMap<&'static str, VerifiedWorkloadToken> {
    HashMap::from([
        ("job-main", job("wl-1", "acme/app", "refs/heads/main")),
        ("job-main-2", job("wl-2", "acme/app", "refs/heads/main")),
        (
            "job-other-repo",
            job("wl-3", "acme/other", "refs/heads/main"),
        ),
        ("job-fork-pr", job("wl-4", "acme/app", "refs/pull/7/merge")),
    ])
}

impl Fixture {
    async fn exchange_workload(&self, token: &str) -> Result<String, Refusal> {
        let proof = self.token_proof(&self.devices["job"]);
        self.exchange_with(&workload_exchange_form(token), Some(proof))
            .await
            .map(|r| r.access_token)
    }

    /// `zt token --audience`: the broker token of `device`, for `audience`.
    async fn audience_token(
        &self,
        device: &SigningKey,
        access_token: &str,
        audience: &str,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        let url = format!("{BROKER}{}", proto::TOKEN_PATH);
        let (proof, _) =
            zt_core::dpop::create_proof(device, "POST", &url, NOW, Some(access_token)).unwrap();
        self.exchange_with(&audience_form(access_token, audience), Some(proof))
            .await
    }

    /// A service token checked the way a service checks it: with the keys of `/v1/jwks`.
    fn verify_service_token(&self, token: &str, audience: &str) -> ServiceClaims {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(self.broker.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[BROKER]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<ServiceClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims
    }
}

#[tokio::test]
async fn a_job_gets_its_rules_certificate_for_minutes_and_its_run_is_audited() {
    let f = fixture();
    let token = f.exchange_workload("job-main").await.unwrap();
    let cert = f
        .certificate_as(&f.devices["job"], Some(&token), &ssh_key())
        .await
        .unwrap();
    assert_eq!(cert.rule, "deploy");
    assert_eq!(cert.principals, ["deploy"]);
    // A workload rule without a ttl gets minutes, not the people's default hour.
    assert_eq!(cert.valid_before, NOW + 300);
    let parsed = ssh_key::Certificate::from_openssh(&cert.certificate).unwrap();
    assert_eq!(
        parsed
            .critical_options()
            .get("force-command")
            .map(String::as_str),
        Some("/usr/local/bin/deploy")
    );
    for record in f.records() {
        let workload = record
            .workload
            .expect("a workload's records carry its claims");
        assert_eq!(workload["repository"], "acme/app");
        assert_eq!(workload["run_id"], "4242");
        assert_eq!(workload["ref"], "refs/heads/main");
        // Claims that neither trace the run nor decided the rule stay out.
        assert!(!workload.contains_key("repository_owner_id"));
        assert_eq!(record.rule.as_deref(), Some("deploy"));
    }
}

#[tokio::test]
async fn another_repository_or_a_fork_pull_request_is_denied_at_once_and_audited() {
    let f = fixture();
    for token in ["job-other-repo", "job-fork-pr"] {
        let refusal = f.exchange_workload(token).await.unwrap_err();
        assert_eq!(refusal.code, ErrorCode::AccessDenied, "{token}");
        assert!(
            refusal.description.contains("rule \"deploy\""),
            "{}",
            refusal.description
        );
        let record = f.records().pop().unwrap();
        assert_eq!(record.kind, EventKind::TokenExchangeRefused);
        assert!(record.workload.is_some());
    }
    // The fork's pull request names its ref as what did not match.
    let refusal = f.exchange_workload("job-fork-pr").await.unwrap_err();
    assert!(
        refusal.description.contains("claim(s) ref"),
        "{}",
        refusal.description
    );
}

#[tokio::test]
async fn a_workload_token_is_used_once_and_an_unknown_issuer_is_refused() {
    let f = fixture();
    f.exchange_workload("job-main").await.unwrap();
    assert_eq!(
        code(f.exchange_workload("job-main").await),
        ErrorCode::IdTokenReused
    );
    assert!(f.exchange_workload("job-main-2").await.is_ok());
    let refusal = f.exchange_workload("forged").await.unwrap_err();
    assert_eq!(refusal.code, ErrorCode::InvalidGrant);
    assert!(refusal.description.contains("[[workload_issuers]]"));
    // A workload token presented as an ID token is not one (and vice versa).
    assert!(f.exchange("job-main-2").await.is_err());
}

#[tokio::test]
async fn a_person_gets_a_token_for_a_listed_audience_verifiable_with_the_jwks() {
    let f = fixture();
    let erin = &f.devices["erin"];
    let access = f.exchange("erin-1").await.unwrap();
    let response = f
        .audience_token(erin, &access, "https://api.internal")
        .await
        .unwrap();
    assert_eq!(response.issued_token_type, proto::TOKEN_TYPE_JWT);
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 300);
    let claims = f.verify_service_token(&response.access_token, "https://api.internal");
    assert_eq!(claims.zt_kind, "person");
    assert_eq!(claims.zt_rule, "api-readers");
    assert_eq!(claims.zt_device, erin.thumbprint());
    assert_eq!(claims.exp, NOW + 300);
    assert_eq!(claims.email.as_deref(), Some("erin@example.com"));
    let record = f.records().pop().unwrap();
    assert_eq!(record.kind, EventKind::ServiceTokenIssued);
    assert_eq!(record.audience.as_deref(), Some("https://api.internal"));

    // The service token is no broker token: refused at the certificate endpoint.
    assert_eq!(
        code(
            f.certificate_as(erin, Some(&response.access_token), &ssh_key())
                .await
        ),
        ErrorCode::InvalidToken
    );
}

#[tokio::test]
async fn an_audience_the_rule_does_not_list_is_denied_naming_the_rule() {
    let f = fixture();
    let alice = &f.devices["alice"];
    let access = f.exchange("alice-1").await.unwrap();
    let refusal = f
        .audience_token(alice, &access, "https://api.internal")
        .await
        .unwrap_err();
    assert_eq!(refusal.code, ErrorCode::AccessDenied);
    assert!(
        refusal.description.contains("rule \"sre\"")
            && refusal.description.contains("https://api.internal"),
        "{}",
        refusal.description
    );
    let record = f.records().pop().unwrap();
    assert_eq!(record.kind, EventKind::TokenExchangeRefused);
    assert_eq!(record.audience.as_deref(), Some("https://api.internal"));
    // Another device cannot spend alice's broker token, and an ID token cannot skip the
    // broker token.
    assert_eq!(
        code(
            f.audience_token(&f.devices["bob"], &access, "https://api.internal")
                .await
        ),
        ErrorCode::InvalidDpopProof
    );
    let mut form = exchange_form("alice-2");
    form.audience = Some("https://api.internal".into());
    let proof = f.token_proof(alice);
    assert_eq!(
        code(f.exchange_with(&form, Some(proof)).await),
        ErrorCode::InvalidTarget
    );
}

#[tokio::test]
async fn a_job_gets_a_kubernetes_token_and_a_revoked_identity_gets_none() {
    let f = fixture();
    let device = &f.devices["job"];
    let access = f.exchange_workload("job-main").await.unwrap();
    let response = f
        .audience_token(device, &access, "kubernetes")
        .await
        .unwrap();
    let claims = f.verify_service_token(&response.access_token, "kubernetes");
    assert_eq!(claims.zt_kind, "workload");
    assert_eq!(
        claims.zt_workload.unwrap()["repository"],
        "acme/app".to_owned()
    );

    let erin = &f.devices["erin"];
    let access = f.exchange("erin-1").await.unwrap();
    f.revoke("erin").await;
    assert_eq!(
        code(f.audience_token(erin, &access, "kubernetes").await),
        ErrorCode::AccessDenied
    );
}

//! The cryptographic floor of one certificate (issue 14), measured in this process, on one
//! thread, with the crates the broker links, so that the broker's CPU per certificate can be
//! read as a multiple of it.
//!
//! A certificate needs four operations: verify the broker's access token (ES256), verify the
//! DPoP proof (ES256, key from the proof's `jwk`), verify the possession proof (an SSHSIG
//! Ed25519 signature by the key being certified) and sign the certificate (Ed25519, the user
//! CA). Two floors:
//!
//! - **as the broker calls them**: exactly the broker's calls with today's APIs
//!   (`access_token::verify`, `dpop::verify_proof`, `ca::verify_possession`,
//!   `ca::sign_user_certificate` with the broker's `ca::CaKey`), which parse the JWT headers
//!   and claims and rebuild the token's decoding key on every call;
//! - **a well-written caller**: the same four operations on bytes already taken apart (the
//!   JWT's signing input and signature, the SSHSIG signature and key, the certificate's
//!   to-be-signed bytes), with the token key parsed once (`aws_lc_rs` `ParsedPublicKey`), the
//!   DPoP key parsed per request (it arrives with the request), the subject key decompressed
//!   per request (`ed25519_dalek::VerifyingKey::from_bytes`) and the CA's
//!   `ed25519_dalek::SigningKey` built once from its seed. Nothing else: no JSON, no claims.
//!
//! A third number runs both callers' four operations on every CPU at once, since CPUs that
//! share a core or the memory bus are each slower when all are busy, as they are while the
//! broker and the load generator run (8 and 64 clients).
//!
//! Inputs are made once, untimed (16 distinct requests, used in turn). Each number is the best
//! of twenty batches, taken in rounds that go through every number in turn (the machine is
//! shared; the best batch is the least disturbed), as µs per operation; "per certificate"
//! times the four in one loop.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, Verifier};
use ssh_key::{Algorithm, HashAlg, PrivateKey, PublicKey, SshSig};
use zt_core::access_token::{self, Mint};
use zt_core::ca::{self, KeyIdFields, POSSESSION_NAMESPACE, UserCertSpec};
use zt_core::dpop::{self, Expected};
use zt_core::jose::SigningKey;
use zt_core::policy::Identity;

/// The operations, in the order the broker does them.
pub const OPERATIONS: [&str; 4] = [
    "access token, ES256 verify",
    "DPoP proof, ES256 verify",
    "possession proof, Ed25519 verify",
    "certificate, Ed25519 sign",
];

/// Distinct requests the timed loops go through in turn.
const DISTINCT: usize = 16;
/// Batches per number; the best one is kept.
const BATCHES: usize = 20;

const ISSUER: &str = "http://127.0.0.1:40000";
const AUDIENCE: &str = "zt-broker";
const CERTIFICATE_URL: &str = "http://127.0.0.1:40000/v1/ssh/certificates";

/// µs per certificate, and per operation, of one way of calling the crates.
pub struct Cost {
    pub per_certificate: f64,
    pub operations: [f64; 4],
}

pub struct Floor {
    pub as_called: Cost,
    pub well_written: Cost,
    /// µs per certificate of each caller (as called, well-written) with every CPU running
    /// such a loop at once, per thread.
    pub busy: [f64; 2],
    pub threads: usize,
    pub iterations: usize,
}

impl Floor {
    pub fn print(&self) {
        println!(
            "cryptographic floor per certificate (in process, one thread, best of {BATCHES} interleaved batches of {}):",
            self.iterations / BATCHES
        );
        for (label, cost) in [
            ("as the broker calls them", &self.as_called),
            ("a well-written caller", &self.well_written),
        ] {
            let parts: Vec<String> = OPERATIONS
                .iter()
                .zip(cost.operations)
                .map(|(name, us)| format!("{name} {us:.1}"))
                .collect();
            println!(
                "  {label:<25} {:>6.1} µs/cert ({}; µs each, timed alone)",
                cost.per_certificate,
                parts.join(", ")
            );
        }
        println!(
            "  with all {} CPUs busy (one such loop on each, µs/cert per thread): as called {:.1}, well-written {:.1}",
            self.threads, self.busy[0], self.busy[1]
        );
    }
}

/// Everything one request brings, in the broker's form and taken apart.
struct Request {
    token: String,
    proof: String,
    subject: PublicKey,
    message: Vec<u8>,
    possession: String,
    spec: UserCertSpec,
    /// The DPoP key as an uncompressed SEC1 point (what its `jwk` decodes to).
    dpop_point: Vec<u8>,
    subject_bytes: [u8; 32],
    possession_signature: [u8; 64],
    /// The certificate's to-be-signed bytes, as ssh-key signs them.
    tbs: Vec<u8>,
}

struct Inputs {
    token_key: SigningKey,
    ca: ca::CaKey,
    now: u64,
    requests: Vec<Request>,
}

fn identity() -> Identity {
    Identity {
        issuer: format!("{ISSUER}/dev-idp"),
        subject: "dev-9f1c2a7e-alice".into(),
        email: Some("alice@example.com".into()),
        groups: vec!["sre".into()],
        workload: None,
    }
}

fn point(key: &SigningKey) -> Result<Vec<u8>> {
    let jwk = key.public_jwk();
    let mut point = vec![4u8];
    for coordinate in [&jwk.x, &jwk.y] {
        point.extend(URL_SAFE_NO_PAD.decode(coordinate)?);
    }
    Ok(point)
}

/// The certificate's signed part: its wire encoding less the trailing signature, which for
/// Ed25519 is `string(string("ssh-ed25519") || string(64 bytes))`, 87 bytes.
fn to_be_signed(certificate: &ssh_key::Certificate) -> Result<Vec<u8>> {
    let text = certificate.to_openssh()?;
    let blob = text.split_whitespace().nth(1).context("certificate text")?;
    let mut bytes = STANDARD.decode(blob)?;
    bytes.truncate(
        bytes
            .len()
            .checked_sub(87)
            .context("certificate too short")?,
    );
    Ok(bytes)
}

fn request(inputs_key: &SigningKey, ca: &ca::CaKey, now: u64, serial: u64) -> Result<Request> {
    let identity = identity();
    let device = SigningKey::generate()?;
    let (token, _) = access_token::mint(
        inputs_key,
        &Mint {
            issuer: ISSUER,
            audience: AUDIENCE,
            identity: &identity,
            jkt: &device.thumbprint(),
            now,
            ttl_secs: 300,
        },
    )?;
    let (proof, jti) = dpop::create_proof(&device, "POST", CERTIFICATE_URL, now, Some(&token))?;
    let key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)?;
    let subject = key.public_key().clone();
    let public_text = subject.to_openssh()?;
    let message = ca::possession_message(&jti, &public_text);
    let possession = ca::sign_possession(&key, &message)?;
    let (valid_after, valid_before) = ca::validity(now, Duration::from_secs(15 * 60));
    let spec = UserCertSpec {
        serial,
        key_id: ca::key_id(&KeyIdFields {
            issuer: &identity.issuer,
            subject: &identity.subject,
            email: identity.email.as_deref(),
            device: &device.thumbprint(),
            request_id: &zt_core::jose::random_id(),
        }),
        principals: vec!["ops".into()],
        valid_after,
        valid_before,
        extensions: ["permit-port-forwarding", "permit-pty"]
            .map(String::from)
            .into(),
        force_command: None,
        source_address: None,
        posture: None,
    };
    let certificate = ca::sign_user_certificate(ca, &subject, &spec, &mut rand_core::OsRng)?;
    // The well-written caller signs what ssh-key signed: its signature verifies over `tbs`.
    let tbs = to_be_signed(&certificate)?;
    let ca_public = ca
        .public_key()
        .key_data()
        .ed25519()
        .context("Ed25519 CA")?
        .0;
    let ca_signature = ed25519_dalek::Signature::from_slice(certificate.signature().as_bytes())
        .map_err(|_| anyhow!("an Ed25519 certificate signature is 64 bytes"))?;
    if ed25519_dalek::VerifyingKey::from_bytes(&ca_public)
        .and_then(|key| key.verify(&tbs, &ca_signature))
        .is_err()
    {
        bail!("the certificate's signed part is not where the bench looks for it");
    }
    let subject_bytes = subject.key_data().ed25519().context("Ed25519 subject")?.0;
    let signature = SshSig::from_pem(possession.trim())?;
    let possession_signature = signature
        .signature()
        .as_bytes()
        .try_into()
        .map_err(|_| anyhow!("an Ed25519 SSHSIG signature is 64 bytes"))?;
    Ok(Request {
        dpop_point: point(&device)?,
        tbs,
        token,
        proof,
        subject,
        message,
        possession,
        spec,
        subject_bytes,
        possession_signature,
    })
}

fn inputs() -> Result<Inputs> {
    let token_key = SigningKey::generate()?;
    let ca = ca::CaKey::new(PrivateKey::random(
        &mut rand_core::OsRng,
        Algorithm::Ed25519,
    )?);
    let now = zt_testkit::api::unix_now();
    let requests = (1..=DISTINCT as u64)
        .map(|serial| request(&token_key, &ca, now, serial))
        .collect::<Result<_>>()?;
    Ok(Inputs {
        token_key,
        ca,
        now,
        requests,
    })
}

/// The four operations as the broker calls them, one at a time.
fn as_called(inputs: &Inputs, r: &Request, operation: usize) -> Result<()> {
    match operation {
        0 => {
            access_token::verify(&r.token, &inputs.token_key, ISSUER, AUDIENCE, inputs.now)?;
        }
        1 => {
            let expected = Expected {
                method: "POST",
                url: CERTIFICATE_URL,
                now: inputs.now,
                access_token: Some(&r.token),
            };
            dpop::verify_proof(&r.proof, &expected)?;
        }
        2 => ca::verify_possession(&r.subject, &r.message, &r.possession)?,
        _ => {
            black_box(ca::sign_user_certificate(
                &inputs.ca,
                &r.subject,
                &r.spec,
                &mut rand_core::OsRng,
            )?);
        }
    }
    Ok(())
}

/// Keys parsed once where they can be; the crates called directly.
struct WellWritten {
    token_key: ParsedPublicKey,
    ca: ed25519_dalek::SigningKey,
}

impl WellWritten {
    fn new(inputs: &Inputs) -> Result<Self> {
        let token_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point(&inputs.token_key)?)
            .map_err(|e| anyhow!("token key: {e}"))?;
        let seed = inputs
            .ca
            .private()
            .key_data()
            .ed25519()
            .context("Ed25519 CA")?
            .private
            .to_bytes();
        Ok(WellWritten {
            token_key,
            ca: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    fn run(&self, r: &Request, operation: usize) -> Result<()> {
        match operation {
            0 => {
                let (input, signature) = split_jws(&r.token)?;
                self.token_key
                    .verify_sig(input, &signature)
                    .map_err(|_| anyhow!("access token signature"))?;
            }
            1 => {
                let (input, signature) = split_jws(&r.proof)?;
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &r.dpop_point)
                    .verify(input, &signature)
                    .map_err(|_| anyhow!("DPoP signature"))?;
            }
            2 => {
                let signed =
                    SshSig::signed_data(POSSESSION_NAMESPACE, HashAlg::Sha512, &r.message)?;
                let signature = ed25519_dalek::Signature::from_bytes(&r.possession_signature);
                ed25519_dalek::VerifyingKey::from_bytes(&r.subject_bytes)
                    .and_then(|key| key.verify(&signed, &signature))
                    .map_err(|_| anyhow!("possession signature"))?;
            }
            _ => {
                black_box(self.ca.sign(&r.tbs));
            }
        }
        Ok(())
    }
}

/// A compact JWS's signing input and its decoded signature.
fn split_jws(jws: &str) -> Result<(&[u8], Vec<u8>)> {
    let dot = jws.rfind('.').context("a JWS has three parts")?;
    Ok((
        &jws.as_bytes()[..dot],
        URL_SAFE_NO_PAD.decode(&jws[dot + 1..])?,
    ))
}

/// µs per call of `f` over one batch of `per_batch` calls.
fn batch(per_batch: usize, f: &dyn Fn(usize) -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    for i in 0..per_batch {
        f(i % DISTINCT)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / per_batch as f64)
}

/// Both callers, each operation alone and the four together, timed in interleaved rounds so
/// that a busy moment of the machine falls on all of them alike; the best batch of each.
fn costs(iterations: usize, as_called: Caller<'_>, well_written: Caller<'_>) -> Result<[Cost; 2]> {
    let per_batch = (iterations / BATCHES).max(1);
    let callers = [as_called, well_written];
    // [caller][0..4: one operation, 4: all four]
    let mut best = [[f64::INFINITY; 5]; 2];
    for _ in 0..BATCHES {
        for (run, best) in callers.iter().zip(&mut best) {
            for (operation, slot) in best.iter_mut().enumerate().take(4) {
                *slot = slot.min(batch(per_batch, &|i| run(i, operation))?);
            }
            best[4] = best[4].min(batch(per_batch, &|i| {
                (0..4).try_for_each(|operation| run(i, operation))
            })?);
        }
    }
    Ok(best.map(|b| Cost {
        per_certificate: b[4],
        operations: [b[0], b[1], b[2], b[3]],
    }))
}

/// Type of a caller: run operation `op` on request `i`.
type Caller<'a> = &'a (dyn Fn(usize, usize) -> Result<()> + Sync);

/// Both callers, the four operations together, on `threads` threads at once (a barrier starts
/// each batch on all of them): the mean µs per certificate of a thread, best of [`BATCHES`].
/// On a machine whose CPUs share a core or a memory bus, each is slower when all are busy, as
/// they are while the broker and the load generator run.
fn busy(threads: usize, iterations: usize, callers: [Caller<'_>; 2]) -> Result<[f64; 2]> {
    let per_batch = (iterations / BATCHES).max(1);
    let barrier = Barrier::new(threads);
    let mut best = [f64::INFINITY; 2];
    for _ in 0..BATCHES {
        for (run, best) in callers.iter().zip(&mut best) {
            let times = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            batch(per_batch, &|i| {
                                (0..4).try_for_each(|operation| run(i, operation))
                            })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| anyhow!("a floor thread panicked"))?)
                    .collect::<Result<Vec<f64>>>()
            })?;
            *best = best.min(times.iter().sum::<f64>() / threads as f64);
        }
    }
    Ok(best)
}

/// Both floors, `iterations` certificates each (and as many of each operation alone).
pub fn measure(iterations: usize) -> Result<Floor> {
    let inputs = inputs()?;
    let well_written = WellWritten::new(&inputs)?;
    // Both callers accept every input before anything is timed.
    for r in &inputs.requests {
        for (operation, name) in OPERATIONS.iter().enumerate() {
            as_called(&inputs, r, operation).with_context(|| format!("as called: {name}"))?;
            well_written
                .run(r, operation)
                .with_context(|| format!("well-written: {name}"))?;
        }
    }
    let requests = &inputs.requests;
    let callers: [Caller<'_>; 2] = [&|i, op| as_called(&inputs, &requests[i], op), &|i, op| {
        well_written.run(&requests[i], op)
    }];
    let [as_called, well_written] = costs(iterations, callers[0], callers[1])?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Floor {
        as_called,
        well_written,
        busy: busy(threads, iterations, callers)?,
        threads,
        iterations,
    })
}

//! What `zt ssh --ci` costs a CI job (issue 13): the time from starting
//! `zt ssh --ci … -- LOGIN@127.0.0.1 true` to ssh's exit, against plain `ssh` with a key and
//! certificate made beforehand, both against the same sshd in the same run, and where zt's
//! extra time goes.
//!
//! Peers, all on loopback and started here: a GitHub-Actions-shaped workload issuer
//! (`zt_testkit::workload_issuer`, RS256 as GitHub signs); the `zt-broker` of this build
//! (`zt_testkit::bins`) from `init` + `serve`, trusting that issuer under
//! `[[workload_issuers]]`, with a rule for `acme/app` on `refs/heads/main` (principal
//! `deploy`) and request rate limits off (a run logs in far more than 60 times a minute);
//! and a certificate-only sshd (`zt_testkit::sshd`) trusting the broker's user CA, with a host
//! certificate from its host CA.
//!
//! Each round runs, in an order that rotates from round to round, after 3 warm-up rounds:
//!
//! 1. `zt ssh --ci -F /dev/null -o BatchMode=yes -p PORT -- LOGIN@127.0.0.1 true` in a
//!    GitHub Actions job's environment (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`,
//!    `ZT_BROKER`): discovery, token from the issuer, exchange, certificate, ssh as a child;
//! 2. `ssh` with the same arguments plus exactly the options `zt ssh` adds, with a key and
//!    certificate the same broker issued to the same job beforehand (untimed; re-made when
//!    older than two minutes, as job certificates live five);
//! 3. `zt login --ci`: the same login without ssh (the key, certificate and known_hosts are
//!    written to a private directory and removed);
//! 4. `zt --version`: the cost of starting the binary (clap included);
//! 5. in-process, the HTTP calls of that login, each timed on a new `reqwest::Client` (new
//!    connections, as a new `zt` has): discovery, the token from the issuer, the token
//!    exchange (DPoP key and proof included), the certificate request (SSH key and proofs
//!    included).
//!
//! The last line is `zt login --ci` less `zt --version` less the four calls: work in the `zt`
//! process that is neither start-up nor network (docs/performance.md says what `perf` finds
//! there).
//!
//! Every spawn runs to completion with its output piped; a failure stops the bench. Nothing
//! asserts on timing. `cargo bench --bench ci` (ZT_BENCH_RUNS, default 30, at least 10;
//! `ZT_BIN` another `zt` to measure, `ZT_BROKER_BIN` another broker); without `--bench` (as
//! `cargo test --all-targets` runs it) a smoke run of 2 rounds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ssh_key::{Algorithm, LineEnding, PrivateKey};
use zt_core::jose::SigningKey;
use zt_core::proto;
use zt_core::requests::{certificate_request, workload_exchange_form};
use zt_testkit::process::{GroupChild, run_ok, wait_until};
use zt_testkit::sshd::{SshdBuilder, TestSshd, current_login};
use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};
use zt_testkit::{Peer, free_port, require_peers};

const REPO: &str = "acme/app";
const MAIN: &str = "refs/heads/main";
/// A pre-made certificate older than this is made again before the next round (untimed).
const REMAKE_AFTER: Duration = Duration::from_secs(120);

const POLICY: &str = r#"# Written by benches/ci.rs.
[[rules]]
name = "deploy-from-main"
match.issuers = ["GITHUB"]
match.claims.repository = "acme/app"
match.claims.ref = "refs/heads/main"
principals = ["deploy"]
"#;

/// `zt-broker init` + `serve` in `dir`, trusting `github` for workload tokens; people would
/// log in at `people` (never used here).
struct Broker {
    url: String,
    home: PathBuf,
    _child: GroupChild,
}

impl Broker {
    fn start(dir: &Path, people: &str, github: &str) -> Result<Broker> {
        let bin = zt_testkit::bins::zt_broker();
        let home = dir.join("broker");
        std::fs::create_dir_all(&home)?;
        std::fs::write(home.join("policy.toml"), POLICY.replace("GITHUB", github))?;
        let port = free_port();
        run_ok(
            Command::new(bin)
                .args(["init", "--client-id", "zt", "--issuer", people])
                .arg("--dir")
                .arg(&home)
                .args(["--listen", &format!("127.0.0.1:{port}")]),
        );
        let config_path = home.join("zt-broker.toml");
        let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&config_path)?)?;
        let mut issuer = toml::Table::new();
        issuer.insert("issuer".into(), github.into());
        config.insert(
            "workload_issuers".into(),
            vec![toml::Value::from(issuer)].into(),
        );
        let limits = config
            .entry("limits")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .context("[limits] is not a table")?;
        limits.insert("per_address_per_minute".into(), 0.into());
        limits.insert("per_identity_per_minute".into(), 0.into());
        std::fs::write(&config_path, toml::to_string(&config)?)?;
        let url = config["server"]["public_url"]
            .as_str()
            .context("server.public_url")?
            .to_owned();
        let mut serve = Command::new(bin);
        serve
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("broker.stderr"))?);
        let child = GroupChild::spawn(serve).context("start zt-broker serve")?;
        let addr = format!("127.0.0.1:{port}");
        if !wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        }) {
            bail!(
                "zt-broker did not come up; see {}",
                dir.join("broker.stderr").display()
            );
        }
        Ok(Broker {
            url,
            home,
            _child: child,
        })
    }

    /// `zt-broker sign-host` for `host_public_line`, valid for 127.0.0.1.
    fn sign_host(&self, host_public_line: &str) -> Result<String> {
        let key = self.home.join("host_key.pub");
        std::fs::write(&key, format!("{host_public_line}\n"))?;
        run_ok(
            Command::new(zt_testkit::bins::zt_broker())
                .arg("sign-host")
                .arg("--config")
                .arg(self.home.join("zt-broker.toml"))
                .arg(&key)
                .args(["--principals", "127.0.0.1"]),
        );
        Ok(std::fs::read_to_string(
            self.home.join("host_key-cert.pub"),
        )?)
    }
}

/// An answer's body as `T`, or an error naming the step, the status and the body.
async fn json<T: serde::de::DeserializeOwned>(
    what: &str,
    response: reqwest::Result<reqwest::Response>,
) -> Result<T> {
    let response = response.with_context(|| format!("{what}: request failed"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("{what}: HTTP {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what}: {body}"))
}

/// The login of `zt ssh --ci`, in-process, each HTTP call timed.
struct Login {
    discovery: Duration,
    token: Duration,
    exchange: Duration,
    certificate: Duration,
    key: PrivateKey,
    response: proto::CertificateResponse,
    config: proto::BrokerConfiguration,
}

async fn login_in_process(broker: &str, github: &WorkloadIssuer) -> Result<Login> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let config: proto::BrokerConfiguration = json(
        "discovery",
        http.get(format!("{broker}{}", proto::WELL_KNOWN_PATH))
            .send()
            .await,
    )
    .await?;
    let discovery = started.elapsed();

    let started = Instant::now();
    let answer: serde_json::Value = json(
        "workload token",
        http.get(github.request_url())
            .query(&[("audience", config.workload_audience.as_str())])
            .bearer_auth(github.request_token())
            .send()
            .await,
    )
    .await?;
    let workload_token = answer["value"].as_str().context("no `value`")?;
    let token = started.elapsed();

    let started = Instant::now();
    let device = SigningKey::generate()?;
    let now = zt_os::clock::unix_now();
    let (proof, _) =
        zt_core::dpop::create_proof(&device, "POST", &config.token_endpoint, now, None)?;
    let exchanged: proto::TokenExchangeResponse = json(
        "token exchange",
        http.post(&config.token_endpoint)
            .header("DPoP", proof)
            .form(&workload_exchange_form(workload_token))
            .send()
            .await,
    )
    .await?;
    let exchange = started.elapsed();

    let started = Instant::now();
    let key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)?;
    let access_token = exchanged.access_token;
    let (proof, jti) = zt_core::dpop::create_proof(
        &device,
        "POST",
        &config.certificate_endpoint,
        zt_os::clock::unix_now(),
        Some(&access_token),
    )?;
    let request = certificate_request(&key, &jti, None)?;
    let response: proto::CertificateResponse = json(
        "certificate",
        http.post(&config.certificate_endpoint)
            .header("Authorization", format!("DPoP {access_token}"))
            .header("DPoP", proof)
            .json(&request)
            .send()
            .await,
    )
    .await?;
    let certificate = started.elapsed();
    Ok(Login {
        discovery,
        token,
        exchange,
        certificate,
        key,
        response,
        config,
    })
}

/// The files plain `ssh` uses: what `zt ssh --ci` writes to its private directory.
struct PreMade {
    key: PathBuf,
    certificate: PathBuf,
    known_hosts: PathBuf,
    made: Instant,
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    zt_os::files::write_private(path, text.as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

fn install(dir: &Path, login: &Login) -> Result<PreMade> {
    let files = PreMade {
        key: dir.join("id_ed25519"),
        certificate: dir.join("id_ed25519-cert.pub"),
        known_hosts: dir.join("known_hosts"),
        made: Instant::now(),
    };
    write_private(&files.key, &login.key.to_openssh(LineEnding::LF)?)?;
    write_private(
        &files.certificate,
        &format!("{}\n", login.response.certificate.trim()),
    )?;
    let known: String = login
        .config
        .host_ca_keys
        .iter()
        .map(|k| format!("@cert-authority * {}\n", k.trim()))
        .collect();
    write_private(&files.known_hosts, &known)?;
    Ok(files)
}

/// Runs `command` to completion, output piped; its wall time, or why it failed.
fn spawn(command: &mut Command) -> Result<Duration> {
    let started = Instant::now();
    let output = command.stdin(Stdio::null()).output()?;
    let took = started.elapsed();
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(took)
}

/// The five measurements of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    ZtSsh,
    Ssh,
    ZtLogin,
    ZtVersion,
    InProcess,
}

const ORDER: [What; 5] = [
    What::ZtSsh,
    What::Ssh,
    What::ZtLogin,
    What::ZtVersion,
    What::InProcess,
];

#[derive(Default)]
struct Samples {
    zt_ssh: Vec<Duration>,
    ssh: Vec<Duration>,
    zt_login: Vec<Duration>,
    zt_version: Vec<Duration>,
    discovery: Vec<Duration>,
    token: Vec<Duration>,
    exchange: Vec<Duration>,
    certificate: Vec<Duration>,
}

fn median_and_p90(xs: &[Duration]) -> (f64, f64) {
    let mut xs = xs.to_vec();
    xs.sort_unstable();
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.9))
}

/// The peers, the job's environment and the `zt` under test.
struct Bench {
    zt: PathBuf,
    home: PathBuf,
    runtime: tokio::runtime::Runtime,
    github: WorkloadIssuer,
    broker: Broker,
    sshd: TestSshd,
    // The broker's people issuer is a second workload issuer: nobody logs in as a person.
    _people: WorkloadIssuer,
}

impl Bench {
    fn start(zt: PathBuf, dir: &Path) -> Result<Bench> {
        let people = WorkloadIssuer::start(Alg::Es256);
        let github = WorkloadIssuer::start(Alg::Rs256);
        github.set_job_claims(github.github_claims(REPO, MAIN, "replaced"));
        let broker = Broker::start(dir, &people.issuer(), &github.issuer())?;
        let user_ca = std::fs::read_to_string(broker.home.join("user_ca.pub"))?;
        let builder = SshdBuilder::new()
            .user_ca(&user_ca)
            .principals(&current_login(), &["deploy"]);
        let host_certificate = broker.sign_host(&builder.host_public_key())?;
        let sshd = builder.host_certificate(&host_certificate).start();
        // The job's home: nothing but what a runner gives a step.
        let home = dir.join("job");
        zt_os::files::private_dir(&home)?;
        zt_os::files::private_dir(&home.join("run"))?;
        zt_os::files::private_dir(&dir.join("premade"))?;
        Ok(Bench {
            zt,
            home,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            github,
            broker,
            sshd,
            _people: people,
        })
    }

    /// `program` in a GitHub Actions job's environment.
    fn job(&self, program: &Path) -> Command {
        let home = &self.home;
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("ZT_CREDENTIAL_STORE", "file")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", self.github.request_url())
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                self.github.request_token(),
            )
            .env("ZT_BROKER", &self.broker.url);
        command
    }

    /// What both commands give ssh: options, destination, remote command.
    fn ssh_args(&self) -> Vec<String> {
        let port = self.sshd.port.to_string();
        let destination = format!("{}@127.0.0.1", current_login());
        ["-F", "/dev/null", "-o", "BatchMode=yes", "-p", &port]
            .into_iter()
            .chain(["--", &destination, "true"])
            .map(str::to_owned)
            .collect()
    }

    fn login_in_process(&self) -> Result<Login> {
        self.runtime
            .block_on(login_in_process(&self.broker.url, &self.github))
    }

    /// Runs `what` once; its samples go to `samples` when `keep`.
    fn measure(
        &self,
        what: What,
        premade: &PreMade,
        samples: &mut Samples,
        keep: bool,
    ) -> Result<()> {
        let zt = self.zt.as_path();
        let (took, into) = match what {
            What::ZtSsh => (
                spawn(self.job(zt).args(["ssh", "--ci"]).args(self.ssh_args()))?,
                &mut samples.zt_ssh,
            ),
            What::Ssh => {
                // Exactly the options `zt ssh` adds (src/client/ssh_args.rs).
                let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
                let took = spawn(
                    self.job(Path::new("ssh"))
                        .args(["-o", "IdentitiesOnly=yes", "-o"])
                        .arg(opt("CertificateFile", &premade.certificate))
                        .arg("-o")
                        .arg(opt("IdentityFile", &premade.key))
                        .args(["-o", "IdentityAgent=none", "-o"])
                        .arg(opt("UserKnownHostsFile", &premade.known_hosts))
                        .args(["-o", "StrictHostKeyChecking=yes"])
                        .args(self.ssh_args()),
                )?;
                (took, &mut samples.ssh)
            }
            What::ZtLogin => (
                spawn(self.job(zt).args(["login", "--ci"]))?,
                &mut samples.zt_login,
            ),
            What::ZtVersion => (
                spawn(self.job(zt).arg("--version"))?,
                &mut samples.zt_version,
            ),
            What::InProcess => {
                let login = self.login_in_process()?;
                if keep {
                    samples.discovery.push(login.discovery);
                    samples.token.push(login.token);
                    samples.exchange.push(login.exchange);
                    samples.certificate.push(login.certificate);
                }
                return Ok(());
            }
        };
        if keep {
            into.push(took);
        }
        Ok(())
    }
}

fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    if !require_peers(&[Peer::Sshd]) {
        return Ok(());
    }
    let (runs, warmup) = if full {
        let runs = std::env::var("ZT_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30usize);
        (runs.max(10), 3)
    } else {
        println!("ci bench: smoke run only (use `cargo bench --bench ci` for numbers)");
        (2, 0)
    };
    // `ZT_BIN` measures another build of zt (e.g. one built with other features).
    let zt = std::env::var_os("ZT_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_zt")), PathBuf::from);
    let tmp = tempfile::Builder::new().prefix("zt-bench-ci-").tempdir()?;
    let bench = Bench::start(zt, tmp.path())?;
    let premade_dir = tmp.path().join("premade");
    let mut premade = install(&premade_dir, &bench.login_in_process()?)?;
    println!(
        "zt {} and zt-broker {}; sshd on 127.0.0.1:{} ({}); {} CPUs; {runs} rounds after {warmup} warm-up",
        bench.zt.display(),
        zt_testkit::bins::zt_broker().display(),
        bench.sshd.port,
        ssh_version(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut samples = Samples::default();
    for round in 0..warmup + runs {
        if premade.made.elapsed() > REMAKE_AFTER {
            premade = install(&premade_dir, &bench.login_in_process()?)?;
        }
        for i in 0..ORDER.len() {
            let what = ORDER[(round + i) % ORDER.len()];
            bench.measure(what, &premade, &mut samples, round >= warmup)?;
        }
    }
    report(&samples);
    Ok(())
}

fn ssh_version() -> String {
    Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default()
}

fn report(s: &Samples) {
    let (ssh, ssh90) = median_and_p90(&s.ssh);
    let (zt, zt90) = median_and_p90(&s.zt_ssh);
    let mut paired: Vec<f64> = s
        .zt_ssh
        .iter()
        .zip(&s.ssh)
        .map(|(z, p)| (z.as_secs_f64() - p.as_secs_f64()) * 1e3)
        .collect();
    paired.sort_by(f64::total_cmp);
    let paired_median = paired[paired.len() / 2];
    println!();
    println!("| command | median ms | p90 ms | ÷ plain ssh (medians) |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, xs: &[Duration]| {
        let (m, p) = median_and_p90(xs);
        println!("| {name} | {m:.2} | {p:.2} | {:.2} |", m / ssh);
    };
    println!("| plain `ssh`, certificate made beforehand | {ssh:.2} | {ssh90:.2} | 1.00 |");
    println!(
        "| `zt ssh --ci … -- LOGIN@127.0.0.1 true` | {zt:.2} | {zt90:.2} | {:.2} |",
        zt / ssh
    );
    row("`zt login --ci` (the same login, no ssh)", &s.zt_login);
    row("`zt --version` (process start)", &s.zt_version);
    println!();
    println!(
        "zt ssh --ci − plain ssh: {:+.2} ms (difference of medians), {paired_median:+.2} ms (median of paired differences)",
        zt - ssh
    );
    println!();
    println!("| the login's HTTP calls, in-process | median ms | p90 ms |");
    println!("|---|---:|---:|");
    let total: Vec<Duration> = (0..s.discovery.len())
        .map(|i| s.discovery[i] + s.token[i] + s.exchange[i] + s.certificate[i])
        .collect();
    let (login, _) = median_and_p90(&s.zt_login);
    let (start, _) = median_and_p90(&s.zt_version);
    let (calls, _) = median_and_p90(&total);
    for (name, xs) in [
        (
            "discovery (`GET /.well-known/zt-configuration`)",
            &s.discovery,
        ),
        (
            "token from the issuer (`ACTIONS_ID_TOKEN_REQUEST_URL`)",
            &s.token,
        ),
        (
            "token exchange (`POST /v1/token`, DPoP key and proof)",
            &s.exchange,
        ),
        (
            "certificate (`POST /v1/ssh/certificates`, key and proofs)",
            &s.certificate,
        ),
        ("all four", &total),
    ] {
        let (m, p) = median_and_p90(xs);
        println!("| {name} | {m:.2} | {p:.2} |");
    }
    println!();
    println!(
        "zt login --ci − zt --version − the four calls: {:.2} ms of work in the zt process that is neither start-up nor waiting for the network",
        login - start - calls
    );
}

//! `zt-broker policy check`: load a policy file the way `serve` does and,
//! given an identity, say which rule grants what and why every other rule
//! does or does not match. For reviewing a policy change before deploying.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use zt_core::policy::{Identity, Policy, RuleOutcome};
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file; with an identity, explain the decision for it
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file (as in zt-broker.toml's `policy`)
    pub policy: PathBuf,
    /// The identity's issuer (`iss`); with --subject, explain the decision
    #[arg(long, requires = "subject")]
    pub issuer: Option<String>,
    /// The identity's subject (`sub`)
    #[arg(long, requires = "issuer")]
    pub subject: Option<String>,
    /// A verified email address (the broker ignores unverified ones)
    #[arg(long, requires = "subject")]
    pub email: Option<String>,
    /// A group the identity is in (repeat for several)
    #[arg(long = "group", requires = "subject")]
    pub groups: Vec<String>,
    /// A claim of a workload token, NAME=VALUE (repeat for several): the identity is then a
    /// workload (a CI job), matched by rules with match.claims
    #[arg(long = "claim", value_name = "NAME=VALUE", requires = "subject", value_parser = parse_claim)]
    pub claims: Vec<(String, String)>,
    /// A device's posture report (`zt posture --json` output): say whether it meets the
    /// granting rule's posture requirements
    #[arg(long, value_name = "FILE", requires = "subject")]
    pub report: Option<PathBuf>,
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

fn parse_claim(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| "write a claim as NAME=VALUE, e.g. repository=acme/app".to_owned())
}

pub fn run(args: PolicyArgs) -> Result<(), Failure> {
    match args.command {
        PolicyCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> Result<(), Failure> {
    let policy = super::serve::load_policy(&args.policy)?;
    let (Some(issuer), Some(subject)) = (args.issuer, args.subject) else {
        return summary(&args.policy, &policy, args.json);
    };
    let id = Identity {
        workload: (!args.claims.is_empty()).then(|| args.claims.into_iter().collect()),
        ..Identity::person(&issuer, &subject, args.email, args.groups)
    };
    let traces = policy.explain(&id);
    let grant = policy.evaluate(&id);
    let report = args.report.as_deref().map(read_report).transpose()?;
    let evaluation = match (&grant, &report) {
        (Ok(g), Some(report)) => g
            .require
            .posture
            .as_ref()
            .map(|req| zt_core::posture::evaluate(report, req)),
        _ => None,
    };
    if args.json {
        let rules: Vec<_> = traces
            .iter()
            .map(|t| {
                let (outcome, reasons) = match &t.outcome {
                    RuleOutcome::Selected => ("selected", vec![]),
                    RuleOutcome::Shadowed => ("shadowed", vec![]),
                    RuleOutcome::NotMatched(m) => {
                        ("no_match", m.iter().map(ToString::to_string).collect())
                    }
                };
                serde_json::json!({ "rule": t.rule, "outcome": outcome, "reasons": reasons })
            })
            .collect();
        let grant_json = grant.as_ref().ok().map(|g| {
            serde_json::json!({
                "rule": g.rule, "principals": g.principals,
                "ttl_secs": g.default_ttl.as_secs(), "max_ttl_secs": g.max_ttl.as_secs(),
                "extensions": g.extensions, "force_command": g.force_command,
                "source_address": g.source_address,
                "audiences": g.audiences,
                "require": {
                    "device": g.require.device.as_str(),
                    "posture": g.require.posture,
                    "posture_ttl_secs": g.require.posture.as_ref().map(|_| g.require.posture_ttl.as_secs()),
                },
            })
        });
        let mut decision =
            serde_json::json!({ "allowed": grant.is_ok(), "grant": grant_json, "rules": rules });
        if let Some(e) = &evaluation {
            decision["posture"] = serde_json::json!({
                "met": e.ok(), "passed": e.passed, "failing": e.failing,
            });
        }
        // One JSON document: the decision, or the denial carrying it as its details.
        return match &grant {
            Ok(_) => zt_os::stdout::println(&decision.to_string()),
            Err(denial) => Err(denied(denial).details(decision)),
        };
    }
    let mut text = String::new();
    for trace in &traces {
        text.push_str(&format!("{trace}\n"));
    }
    text.push_str(&match &grant {
        Ok(g) => format!(
            "→ allowed by rule \"{}\": principals {}, ttl {} (max {}), extensions [{}]{}{}{}\n",
            g.rule,
            g.principals.join(","),
            human(g.default_ttl),
            human(g.max_ttl),
            g.extensions.iter().cloned().collect::<Vec<_>>().join(","),
            g.force_command
                .as_deref()
                .map(|c| format!(", force-command {c:?}"))
                .unwrap_or_default(),
            g.source_address
                .as_deref()
                .map(|a| format!(", source-address {a}"))
                .unwrap_or_default(),
            if g.audiences.is_empty() {
                String::new()
            } else {
                format!(", tokens for [{}]", g.audiences.join(","))
            },
        ),
        Err(denial) => format!("→ denied: {denial}\n"),
    });
    if let Ok(g) = &grant {
        text.push_str(&format!("  device: {}\n", g.require.device.as_str()));
        match &g.require.posture {
            Some(req) => text.push_str(&format!(
                "  posture: {req}; certificates live at most {} (posture_ttl)\n",
                human(g.require.posture_ttl)
            )),
            None => text.push_str("  posture: not checked\n"),
        }
    }
    if let Some(e) = &evaluation {
        if e.ok() {
            text.push_str(&format!("  the report meets it: {}\n", e.passed.join(", ")));
        } else {
            let grace = |f: &zt_core::posture::Failing| {
                let req = grant.as_ref().ok()?.require.posture.as_ref()?;
                let secs = req.grace_secs.get(&f.check?)?;
                Some(human(Duration::from_secs(*secs)))
            };
            for f in &e.failing {
                let note = grace(f)
                    .map(|g| format!(" (grace {g}: short certificates until it ends)"))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "  FAILS {}: {}{note}\n",
                    f.requirement, f.evidence
                ));
            }
        }
    }
    if report.is_some() && evaluation.is_none() && grant.is_ok() {
        text.push_str("  (the rule checks no posture: the report does not matter)\n");
    }
    zt_os::stdout::print(&text)?;
    grant.map(|_| ()).map_err(|denial| denied(&denial))
}

/// A report as `zt posture --json` prints it (its `digest` is dropped and recomputed).
fn read_report(path: &std::path::Path) -> Result<zt_core::posture::PostureReport, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new(Exit::Usage, format!("{}: not JSON: {e}", path.display())))?;
    if let Some(object) = value.as_object_mut() {
        object.remove("digest");
    }
    serde_json::from_value(value).map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!(
                "{}: not a posture report (`zt posture --json`): {e}",
                path.display()
            ),
        )
    })
}

fn denied(denial: &zt_core::policy::Denial) -> Failure {
    Failure::new(Exit::Denied, denial.to_string())
}

fn summary(path: &std::path::Path, policy: &Policy, json: bool) -> Result<(), Failure> {
    let names: Vec<&str> = policy.rules().iter().map(|r| r.name()).collect();
    if json {
        return zt_os::stdout::println(
            &serde_json::json!({ "valid": true, "rules": names }).to_string(),
        );
    }
    zt_os::stdout::println(&format!(
        "{}: valid, {} rule(s) in order: {}",
        path.display(),
        names.len(),
        names.join(", ")
    ))
}

fn human(d: Duration) -> String {
    zt_core::policy::DisplayDuration(d).to_string()
}

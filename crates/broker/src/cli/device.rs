//! `zt-broker device list|show|approve|revoke`: the device registry. A device registers itself
//! on first use (the key that signs its DPoP proofs, owned by the identity that used it); an
//! admin approves it (for rules with `require.device = "approved"`) or revokes it (no tokens,
//! no certificates). Every change is audited.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::store::{Change, StoreError, Write};
use zt_core::audit::{AuditRecord, EventKind, Outcome};
use zt_core::device::{Device, DeviceStatus};
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    pub command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List every device, most recently seen first
    List(ListArgs),
    /// One device's record
    Show(OneArgs),
    /// Approve a device (for rules that require approved devices; audited)
    Approve(OneArgs),
    /// Revoke a device: no more tokens or certificates for it (audited)
    Revoke(OneArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// The device ID (its key's thumbprint, as `zt status` and `device list` show it)
    pub id: String,
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DeviceArgs) -> Result<(), Failure> {
    match args.command {
        DeviceCommand::List(args) => list(args),
        DeviceCommand::Show(args) => show(args),
        DeviceCommand::Approve(args) => change(args, DeviceStatus::Approved),
        DeviceCommand::Revoke(args) => change(args, DeviceStatus::Revoked),
    }
}

fn devices(config: &std::path::Path) -> Result<Vec<Device>, Failure> {
    let config = super::load_config(config)?;
    let store = super::serve::open_store(&config)?;
    super::runtime()?
        .block_on(store.devices())
        .map_err(|e| Failure::config(format!("cannot read the store: {e}")))
}

fn list(args: ListArgs) -> Result<(), Failure> {
    let devices = devices(&args.config)?;
    if args.json {
        let list: Vec<_> = devices.iter().map(json).collect();
        return zt_os::stdout::println(&serde_json::json!({ "devices": list }).to_string());
    }
    let mut text = String::new();
    for d in &devices {
        text.push_str(&format!(
            "{}  {:<10}  {}  {}  {}  last seen {}\n",
            d.id,
            d.status.as_str(),
            owner(d),
            if d.hostname.is_empty() {
                "-"
            } else {
                &d.hostname
            },
            if d.os.is_empty() { "-" } else { &d.os },
            zt_core::time::rfc3339(d.last_seen)
        ));
    }
    if devices.is_empty() {
        eprintln!("No devices yet: a device registers itself at its first `zt login`.");
    }
    zt_os::stdout::print(&text)
}

fn find(config: &std::path::Path, id: &str) -> Result<Device, Failure> {
    devices(config)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| unknown(id))
}

fn unknown(id: &str) -> Failure {
    Failure::new(
        Exit::Usage,
        format!(
            "no device {:?} has been seen by this broker",
            zt_core::text::printable(id, 80)
        ),
    )
    .hint("`zt-broker device list` shows the device IDs; `zt status` shows a device's own")
}

fn show(args: OneArgs) -> Result<(), Failure> {
    let d = find(&args.config, &args.id)?;
    if args.json {
        return zt_os::stdout::println(&json(&d).to_string());
    }
    zt_os::stdout::print(&format!(
        "device:       {}\nstatus:       {}\nowner:        {}\nhost name:    {}\nos:           {}\nfirst seen:   {}\nlast seen:    {}\nattestation:  none (a software key)\n",
        d.id,
        d.status.as_str(),
        owner(&d),
        d.hostname,
        d.os,
        zt_core::time::rfc3339(d.first_seen),
        zt_core::time::rfc3339(d.last_seen),
    ))
}

fn change(args: OneArgs, status: DeviceStatus) -> Result<(), Failure> {
    let config = super::load_config(&args.config)?;
    let store = super::serve::open_store(&config)?;
    let kind = match status {
        DeviceStatus::Approved => EventKind::DeviceApproved,
        _ => EventKind::DeviceRevoked,
    };
    let record = AuditRecord {
        time: zt_os::clock::unix_now(),
        kind,
        request_id: zt_core::jose::random_id(),
        identity: Some(super::revoke::local_admin()),
        client_addr: None,
        device: Some(args.id.clone()),
        rule: None,
        certificate: None,
        outcome: Some(Outcome::success()),
        revocation: None,
        enrolment: None,
        posture: None,
        audience: None,
        workload: None,
    };
    let write = Write {
        changes: vec![Change::SetDeviceStatus {
            id: args.id.clone(),
            status,
        }],
        ..Write::record(record)
    };
    let runtime = super::runtime()?;
    match runtime.block_on(store.commit(write)) {
        Ok(()) => {}
        Err(StoreError::UnknownDevice) => return Err(unknown(&args.id)),
        Err(e) => {
            return Err(Failure::config(format!("could not record the change: {e}"))
                .hint("check the database file named in [store] (space, permissions)"));
        }
    }
    let device = runtime
        .block_on(store.devices())
        .ok()
        .and_then(|all| all.into_iter().find(|d| d.id == args.id));
    if args.json {
        let value = device.as_ref().map_or(serde_json::Value::Null, json);
        zt_os::stdout::println(&serde_json::json!({ "device": value }).to_string())?;
    }
    let effect = match status {
        DeviceStatus::Approved => "it may now use rules that require an approved device",
        _ => {
            "it gets no more tokens or certificates; certificates it holds expire on their own, or revoke them with `zt-broker revoke --user`"
        }
    };
    eprintln!("Device {} is {}: {effect}.", args.id, status.as_str());
    Ok(())
}

fn owner(d: &Device) -> String {
    format!("{} {}", d.issuer, d.subject)
}

fn json(d: &Device) -> serde_json::Value {
    let mut value = serde_json::json!({
        "id": d.id,
        "status": d.status.as_str(),
        "owner": { "issuer": d.issuer, "subject": d.subject },
        "hostname": d.hostname,
        "os": d.os,
        "attestation": "none",
    });
    for (name, at) in [("first_seen", d.first_seen), ("last_seen", d.last_seen)] {
        for (k, v) in zt_core::time::json_fields(name, at) {
            value[k] = v;
        }
    }
    value
}

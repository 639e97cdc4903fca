//! Disk encryption: follow the mounts of `/` and `/home` through device-mapper (LVM, RAID,
//! …) down to a dm-crypt target. Every leg of the stack must be encrypted.

use super::{Check, Machine};
use crate::posture::CheckResult;

const FIX: &str = "reinstall on an encrypted disk (LUKS), or encrypt the disk in place with `cryptsetup reencrypt --encrypt`";

/// One line of `/proc/self/mountinfo`, the fields that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
}

pub(super) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            Some(Mount {
                device: left.get(2)?.to_string(),
                mount_point: unescape(left.get(4)?),
                fs_type: right.next()?.to_owned(),
                source: unescape(right.next()?),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if let Ok(code) = u8::from_str_radix(&digits, 8) {
                out.push(code as char);
                chars.nth(2);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The mount that holds `path`: the last (topmost) mount at the longest prefix.
fn mount_of<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    let covers = |m: &Mount| {
        m.mount_point == "/"
            || path == m.mount_point
            || path.starts_with(&format!("{}/", m.mount_point))
    };
    mounts
        .iter()
        .filter(|m| covers(m))
        .max_by_key(|m| m.mount_point.len())
        .and_then(|best| {
            mounts
                .iter()
                .rev()
                .find(|m| m.mount_point == best.mount_point)
        })
}

/// How a block device is encrypted, if it is.
enum Layer {
    /// dm-crypt, with its kind (`LUKS2`, `LUKS1`, `PLAIN`).
    Crypt(String),
    /// Something that is not encrypted, described.
    Plain(String),
    /// The stack could not be read.
    Unreadable(String),
}

pub(super) fn check(machine: &dyn Machine) -> CheckResult {
    let Some(text) = machine.read_text("/proc/self/mountinfo") else {
        return CheckResult::unknown(
            Check::DiskEncryption,
            "cannot read /proc/self/mountinfo",
            "run zt where /proc is mounted",
        );
    };
    let mounts = parse_mountinfo(&text);
    let mut seen: Vec<&Mount> = Vec::new();
    let mut kinds = Vec::new();
    for path in ["/", "/home"] {
        let Some(mount) = mount_of(&mounts, path) else {
            return CheckResult::unknown(
                Check::DiskEncryption,
                format!("no mount holds {path}"),
                FIX,
            );
        };
        if seen.contains(&mount) {
            continue;
        }
        seen.push(mount);
        match layer_of_mount(machine, mount) {
            Layer::Crypt(kind) => kinds.push(kind),
            Layer::Plain(what) => {
                return CheckResult::fail(
                    Check::DiskEncryption,
                    format!("{} is not encrypted: {what}", mount.mount_point),
                    FIX,
                );
            }
            Layer::Unreadable(why) => {
                return CheckResult::unknown(
                    Check::DiskEncryption,
                    format!("{}: {why}", mount.mount_point),
                    FIX,
                );
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    let points: Vec<&str> = seen.iter().map(|m| m.mount_point.as_str()).collect();
    CheckResult::pass(
        Check::DiskEncryption,
        format!(
            "{} on dm-crypt ({})",
            points.join(" and "),
            kinds.join(", ")
        ),
    )
}

fn layer_of_mount(machine: &dyn Machine, mount: &Mount) -> Layer {
    match mount.fs_type.as_str() {
        "overlay" | "tmpfs" | "ramfs" | "squashfs" | "aufs" | "9p" | "virtiofs" | "fuse" => {
            return Layer::Unreadable(format!(
                "a {} file system (a container, VM share or live system); its disk is not visible from here",
                mount.fs_type
            ));
        }
        "zfs" | "nfs" | "nfs4" | "cifs" | "ceph" => {
            return Layer::Unreadable(format!(
                "a {} file system; zt checks dm-crypt only",
                mount.fs_type
            ));
        }
        _ => {}
    }
    let device = if mount.device.starts_with("0:") {
        // btrfs and friends report an anonymous device number: go by the source instead.
        match device_of_source(machine, &mount.source) {
            Some(device) => device,
            None => {
                return Layer::Unreadable(format!(
                    "cannot find the block device behind {}",
                    mount.source
                ));
            }
        }
    } else {
        mount.device.clone()
    };
    layer_of_device(machine, &device, &mount.source, 0)
}

/// `major:minor` of a `/dev/...` source, through `/sys/class/block/NAME/dev` (device-mapper
/// names through `/sys/block/dm-*/dm/name`).
fn device_of_source(machine: &dyn Machine, source: &str) -> Option<String> {
    let name = if let Some(mapped) = source.strip_prefix("/dev/mapper/") {
        machine.list("/sys/block").into_iter().find(|dm| {
            machine
                .read_text(&format!("/sys/block/{dm}/dm/name"))
                .is_some_and(|n| n.trim() == mapped)
        })?
    } else {
        source.strip_prefix("/dev/")?.to_owned()
    };
    machine
        .read_text(&format!("/sys/class/block/{name}/dev"))
        .map(|d| d.trim().to_owned())
}

fn layer_of_device(machine: &dyn Machine, device: &str, shown: &str, depth: u8) -> Layer {
    if depth > 8 {
        return Layer::Unreadable("the device-mapper stack is too deep".into());
    }
    let base = format!("/sys/dev/block/{device}");
    if !machine.exists(&base) {
        return Layer::Unreadable(format!("{base} is not readable"));
    }
    let uuid = machine
        .read_text(&format!("{base}/dm/uuid"))
        .map(|u| u.trim().to_owned());
    if let Some(rest) = uuid.as_deref().and_then(|u| u.strip_prefix("CRYPT-")) {
        let kind = rest.split('-').next().unwrap_or("dm-crypt");
        return Layer::Crypt(kind.to_owned());
    }
    let slaves = machine.list(&format!("{base}/slaves"));
    if slaves.is_empty() {
        return Layer::Plain(match uuid {
            Some(u) if !u.is_empty() => {
                format!("{shown} is device-mapper {u} over no encrypted device")
            }
            _ => format!("{shown} ({device}) is a plain block device"),
        });
    }
    let mut kinds = Vec::new();
    for slave in slaves {
        let Some(dev) = machine.read_text(&format!("/sys/class/block/{slave}/dev")) else {
            return Layer::Unreadable(format!("cannot read the device number of {slave}"));
        };
        match layer_of_device(machine, dev.trim(), &format!("/dev/{slave}"), depth + 1) {
            Layer::Crypt(kind) => kinds.push(kind),
            other => return other,
        }
    }
    kinds.sort();
    kinds.dedup();
    Layer::Crypt(kinds.join("+"))
}

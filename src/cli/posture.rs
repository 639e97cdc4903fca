//! `zt posture`: the local device report.

use clap::Args;

use super::Ctx;
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct PostureArgs {}

pub fn run(_args: PostureArgs, ctx: &Ctx) -> Result<(), Failure> {
    let report = crate::posture::collect();
    if ctx.json {
        super::json::emit(
            &serde_json::to_value(&report).map_err(|e| Failure::unexpected(e.to_string()))?,
        );
    } else {
        eprintln!(
            "os:            {} {}",
            report.os,
            report.os_version.as_deref().unwrap_or("(unknown version)")
        );
        eprintln!("architecture:  {}", report.arch);
        eprintln!(
            "kernel:        {}",
            report.kernel.as_deref().unwrap_or("(unknown)")
        );
        eprintln!("zt version:    {}", report.zt_version);
        eprintln!("(the broker does not enforce posture requirements yet)");
    }
    Ok(())
}

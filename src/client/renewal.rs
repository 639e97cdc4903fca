//! "Make sure there is a certificate with at least `margin` left": the
//! offline fast path (read session.json, stat two files) and, only when
//! that fails, a silent renewal under an exclusive lock, so that ten `ssh`
//! processes started at once (Ansible forks, `Match exec`) renew once and
//! never race each other with the same rotating refresh token.

use super::credentials::Secrets;
use super::error::Error;
use super::paths::{Paths, RENEW_LOCK};
use super::posture_gate;
use super::session::{self, Session};
use crate::posture::RealMachine;
use zt_os::clock::unix_now;

/// The session, with a certificate usable for `margin` more seconds.
pub fn ensure_certificate(
    paths: &Paths,
    profile: &str,
    margin: u64,
    secrets: impl FnOnce() -> Result<Secrets, Error>,
) -> Result<Session, Error> {
    let not_logged_in = || Error::NotLoggedIn(format!("profile {profile:?} is not logged in"));
    let mut session = Session::load(paths)?.ok_or_else(not_logged_in)?;
    if session
        .usable_certificate(paths, unix_now(), margin)
        .is_some()
    {
        posture_gate::recheck(paths, &mut session, &RealMachine::this())?;
        return Ok(session);
    }
    let _lock = lock(paths)?;
    // Another process may have renewed while we waited for the lock.
    let mut session = Session::load(paths)?.ok_or_else(not_logged_in)?;
    if session
        .usable_certificate(paths, unix_now(), margin)
        .is_some()
    {
        posture_gate::recheck(paths, &mut session, &RealMachine::this())?;
        return Ok(session);
    }
    let secrets = secrets()?;
    runtime()?.block_on(session::renew(paths, &secrets, &mut session))?;
    Ok(session)
}

/// An exclusive lock on the profile's `renew.lock` (in the checked state
/// directory, not followed if it is a link), released on drop.
fn lock(paths: &Paths) -> Result<std::fs::File, Error> {
    let file = paths.state()?.lock_file(RENEW_LOCK)?;
    exclusive(&file).map_err(|e| {
        Error::internal(format!(
            "cannot lock {}: {e}",
            paths.renew_lock_file().display()
        ))
    })?;
    Ok(file)
}

// flock(2) through rustix (std's File::lock needs Rust 1.89; the MSRV is
// 1.85). Elsewhere there is no lock: parallel renewals then each succeed
// or, with a rotating refresh token, one of them asks for `zt login`.
#[cfg(target_os = "linux")]
fn exclusive(file: &std::fs::File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).map_err(Into::into)
}

#[cfg(not(target_os = "linux"))]
fn exclusive(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))
}

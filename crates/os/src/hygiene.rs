//! Processes that hold secrets (zt: refresh token, device key, SSH key;
//! zt-broker: CA and token-signing keys) write no core dumps and cannot be
//! attached to by other processes of the same user.
//!
//! On Linux: `RLIMIT_CORE` = 0 (inherited by children such as ssh, which
//! holds the same key) and `PR_SET_DUMPABLE` = 0 (which also makes
//! `/proc/PID/mem` and ptrace unavailable to the user's other processes).
//! Elsewhere this does nothing yet.

/// Turn core dumps off for this process. Called first thing by both binaries.
pub fn disable_core_dumps() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{
            DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit,
        };
        let none = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        setrlimit(Resource::Core, none)?;
        set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::process::{Resource, getrlimit};

    #[test]
    fn core_dumps_are_off_afterwards() {
        super::disable_core_dumps().unwrap();
        let limit = getrlimit(Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}

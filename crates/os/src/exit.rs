//! Exit codes (the contract in the README and `zt --help`) and the error
//! that carries one to `main`, with a message and a recommendation.

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: a bug or an environment failure zt did not anticipate.
    Unexpected = 1,
    /// 2: bad command-line usage.
    Usage = 2,
    /// 3: no or expired credentials; run `zt login`.
    LoginRequired = 3,
    /// 4: denied by policy or by the identity provider.
    Denied = 4,
    /// 5: device posture not met.
    Posture = 5,
    /// 6: broker or identity provider unreachable.
    Unreachable = 6,
    /// 7: configuration error.
    Config = 7,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// The table printed in `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  unexpected error
  2  usage error
  3  login required (no or expired credentials; run `zt login`)
  4  denied by policy or by the identity provider
  5  device posture not met
  6  broker or identity provider unreachable
  7  configuration error
  zt ssh exits with ssh's own status once ssh has started.";

/// An error on its way to `main`: printed once, with its hint, and mapped
/// to its exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Exit::Config, message)
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(Exit::Unexpected, message)
    }

    pub fn login_required(message: impl Into<String>) -> Self {
        Self::new(Exit::LoginRequired, message).hint("run `zt login`")
    }

    /// Print to stderr as `<program>: error: …` plus the hint, once.
    pub fn report(&self, program: &str) {
        eprintln!("{program}: error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("{program}: hint: {hint}");
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<crate::files::FileError> for Failure {
    fn from(e: crate::files::FileError) -> Self {
        Failure::new(Exit::Unexpected, e.to_string())
    }
}

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
    /// 8 (`zt-broker audit verify`): the audit log is not intact.
    Integrity = 8,
}

impl Exit {
    pub const ALL: [Exit; 8] = [
        Exit::Unexpected,
        Exit::Usage,
        Exit::LoginRequired,
        Exit::Denied,
        Exit::Posture,
        Exit::Unreachable,
        Exit::Config,
        Exit::Integrity,
    ];

    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }

    /// The error class as `--json` names it: `{"error": {"code": "<this>", …}}`.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Unexpected => "unexpected",
            Exit::Usage => "usage",
            Exit::LoginRequired => "login_required",
            Exit::Denied => "denied",
            Exit::Posture => "posture",
            Exit::Unreachable => "unreachable",
            Exit::Config => "config",
            Exit::Integrity => "integrity",
        }
    }
}

/// An error on its way to `main`: printed once, with its hint, and mapped
/// to its exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
    /// Machine-readable facts for `--json` (`error.details`), e.g. which audit record is bad.
    pub details: Option<serde_json::Value>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
            details: None,
        }
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
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

    /// The `--json` document of a failure:
    /// `{"error": {"code": …, "message": …, "hint": …, "exit_code": …}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.exit.name(),
            "message": self.message,
            "exit_code": self.exit as u8,
        });
        if let Some(hint) = &self.hint {
            error["hint"] = hint.as_str().into();
        }
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        serde_json::json!({ "error": error })
    }

    /// Report the failure once: on stderr for people, and with `json` also as the one JSON
    /// document on stdout. Returns the exit status.
    pub fn finish(&self, program: &str, json: bool) -> ExitCode {
        self.report(program);
        if json {
            // Best effort: the failure is already on stderr and in the exit status.
            let _ = crate::stdout::println(&self.to_json().to_string());
        }
        self.exit.code()
    }
}

/// Whether a command line asks for `--json`: the flag anywhere before a lone `--` (a global
/// flag can follow the subcommand). Used before, or instead of, clap's own parse, so that a
/// usage error is a JSON document too.
pub fn wants_json<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// A command line clap refused. Help and version are printed as clap prints them and are a
/// success; a usage error is exit 2, printed by clap on stderr and, with `json`, also as the
/// JSON document on stdout.
pub fn usage_error(error: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = error.print();
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return ExitCode::SUCCESS;
    }
    if json {
        // clap's first line, without its `error: ` prefix and colour.
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
        let failure = Failure::new(Exit::Usage, message);
        let _ = crate::stdout::println(&failure.to_json().to_string());
    }
    Exit::Usage.code()
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A file zt cannot use is something the user or an admin can fix: a configuration error
/// that names the file, with what to do about it (in the message or the hint).
impl From<crate::files::FileError> for Failure {
    fn from(e: crate::files::FileError) -> Self {
        let hint = e.hint();
        let failure = Failure::config(e.to_string());
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }
}

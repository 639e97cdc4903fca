//! Results go to stdout through here: whole, flushed, and a reader that went away (`zt status
//! --json | head -c1`, a closed pipe) is not an error, as for any Unix filter. Any other write
//! failure is reported, so a full disk never passes for a result.

use std::io::{self, Write};

use crate::exit::Failure;

/// Write `text` to stdout as it is.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::unexpected(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Write `text` and a newline to stdout.
pub fn println(text: &str) -> Result<(), Failure> {
    print(&format!("{text}\n"))
}

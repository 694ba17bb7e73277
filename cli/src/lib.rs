//! # nzip-cli
//!
//! The `nzip` command-line tool, in the habits of gzip, xz and zstd: see
//! `nzip --help`. The binary's `main` is one call to [`main_with_args`]; this
//! library holds everything else so that it can be tested:
//! - [`args`]: command-line parsing (clap), the `-1`..`-9` and subcommand
//!   rewriting, environment variables and defaults;
//! - `files`: output names, temporary output files renamed on success,
//!   permissions and modification time copied from the input;
//! - `commands`: compress, decompress, test and list each input;
//! - `report`: messages, `-v` stats lines, progress bars;
//! - `verify`: `--verify`, decoding the output while it is written.
//!
//! Exit status: 0 success, 1 error (an input failed, or bad arguments),
//! 2 warning (some inputs were skipped, nothing failed); see [`Status`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod args;
mod commands;
mod files;
mod report;
mod verify;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// The outcome of a run, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything succeeded: exit status 0.
    Success,
    /// Some inputs were skipped with a warning, nothing failed: exit status 2.
    Warning,
    /// An input failed, or the arguments are wrong: exit status 1.
    Error,
}

impl Status {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Error => 1,
            Status::Warning => 2,
        }
    }

    /// The worse of two outcomes (error > warning > success).
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Success => 0,
                Status::Warning => 1,
                Status::Error => 2,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s.code())
    }
}

/// Run nzip with a full command line (`args[0]` is the program name) and the
/// process environment; returns the exit status.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    run_with_args(args, &|k| std::env::var_os(k)).into()
}

/// [`main_with_args`] with the environment given by `env`.
pub fn run_with_args<I, T>(args: I, env: &dyn Fn(&str) -> Option<OsString>) -> Status
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    match args::parse(args, env) {
        Ok(args::Parsed::Run(settings)) => commands::run(&settings),
        Ok(args::Parsed::Print(text)) => {
            let mut out = std::io::stdout().lock();
            // A closed standard output (nzip --help | head) is not an error.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            Status::Success
        }
        Err(e) => {
            let msg = e.0.strip_prefix("error: ").unwrap_or(&e.0);
            report::stderr_line(&format!("nzip: {msg}"));
            Status::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status() {
        use Status::*;
        assert_eq!(Success.worst(Warning), Warning);
        assert_eq!(Warning.worst(Success), Warning);
        assert_eq!(Warning.worst(Error), Error);
        assert_eq!(Error.worst(Warning), Error);
        assert_eq!(Error.worst(Success), Error);
        assert_eq!([Success.code(), Error.code(), Warning.code()], [0, 1, 2]);
    }
}

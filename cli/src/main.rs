//! The `nzip` binary: everything is in the `nzip_cli` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    nzip_cli::main_with_args(std::env::args_os())
}

//! The `irp` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = irp::cli::Cli::parse();
    match irp::app::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (e.g. `irp get ... | head`) is not a failure.
            if err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("irp: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

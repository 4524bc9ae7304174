//! The `corral` command line.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = corral::cli::Cli::parse();
    // A server logs its requests (info) by default; the CLI tools stay quiet unless asked.
    let verbosity = match cli.command {
        corral::cli::Command::Serve(_) => cli.verbose.max(1),
        _ => cli.verbose,
    };
    corral::cli::init_logging(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(corral::cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

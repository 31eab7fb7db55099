//! `gmsdi`: the GMSDI engine on the command line.

mod args;
mod bench;
mod eval;
mod model_dir;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::Failure::Cancelled) => {
            eprintln!("gmsdi: cancelled; no output files were written");
            ExitCode::from(130)
        }
        Err(run::Failure::Error(msg)) => {
            eprintln!("gmsdi: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

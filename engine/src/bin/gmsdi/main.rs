//! `gmsdi`: the GMSDI engine on the command line.

mod args;
mod bench;
mod eval;
mod model_dir;
mod run;

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;

/// Runs the subcommand the command line names.
fn dispatch(cli: &Cli) -> Result<(), run::Failure> {
    match &cli.command {
        Command::Bench { seconds, steps, repeats, input } => {
            bench::run(cli, *seconds, *steps, *repeats, input.as_deref())
        }
        Command::Eval { what } => eval::run(cli, what),
        Command::Info => run::info(cli),
        _ => run::task(cli),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(&cli) {
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

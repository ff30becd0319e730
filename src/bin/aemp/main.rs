//! `aemp`: the command-line tool of aemp.

mod ping;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Set up and poke at AEMP (AnyEvent::MP) networks.
#[derive(Debug, Parser)]
#[command(name = "aemp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Ping(ping::Ping),
    Run(run::Run),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aemp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ping(ping) => ping.run().await,
            Command::Run(run) => run.run().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("aemp: {message}");
            ExitCode::FAILURE
        }
    }
}

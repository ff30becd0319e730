//! `aemp`: the command-line tool of aemp, after Perl's `aemp`.
//!
//! `ping` and `run` are parsed by clap; everything else is a chain of Perl aemp's commands
//! (see `chain.rs`).

mod chain;
mod ping;
mod protocol;
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

/// Why a command failed, and the exit code: 2 for usage errors, 1 for the rest.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

/// Logs through tracing to stderr, filtered by `AEMP_LOG` (default: `info` for `run`, with
/// the kernel's own up/down lines left to `run`'s readable ones; `warn` for the rest).
fn init_logging(run: bool) {
    let default = if run {
        "info,aemp_actor::link=warn"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AEMP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let raw = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<Vec<String>, _>>()
    {
        Ok(raw) => raw,
        Err(a) => {
            eprintln!("aemp: argument {a:?} is not UTF-8");
            return ExitCode::from(2);
        }
    };
    let first = raw.first().map(String::as_str);
    init_logging(first == Some("run"));
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
    let result = if matches!(first, Some("ping" | "run")) {
        let cli = Cli::parse();
        runtime
            .block_on(async {
                match cli.command {
                    Command::Ping(ping) => ping.run().await,
                    Command::Run(run) => run.run().await,
                }
            })
            .map_err(Failure::failed)
    } else {
        match chain::decode_args(raw) {
            Ok(args) => runtime.block_on(chain::run(args)),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("aemp: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

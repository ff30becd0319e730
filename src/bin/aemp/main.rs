//! `aemp`: the command-line tool of aemp, after Perl's `aemp`.
//!
//! clap parses every command (`cli.rs`); each command lives in a file of its own under
//! `commands/`; `args.rs` reads the line as Perl's aemp does (JSON arguments).

mod args;
mod cli;
mod commands;

use std::process::ExitCode;

use args::Line;

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
    let result = Line::decode(raw).and_then(|line| match cli::parse(&line)? {
        Some(steps) => runtime.block_on(commands::run(steps)),
        None => Ok(()), // help or the version was printed
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("aemp: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

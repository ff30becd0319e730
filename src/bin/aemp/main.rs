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
///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans
/// also go to that OpenTelemetry collector (service `OTEL_SERVICE_NAME`, default `aemp`),
/// filtered by `AEMP_OTEL` (default: aemp's spans); the guard returned sends what is left
/// when `main` ends.
fn init_logging(run: bool) -> Result<Option<OtelGuard>, String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};

    let default = if run {
        "info,aemp_actor::link=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_env("AEMP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(filter);
    let wants_otel = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if !wants_otel {
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        return Ok(None);
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        Err("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this aemp was built without the `otel` feature".into())
    }
    #[cfg(feature = "otel")]
    {
        let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "aemp".to_owned());
        let (otel, guard) = aemp::otel::layer(None, &service).map_err(|e| e.to_string())?;
        let otel_filter = EnvFilter::try_from_env("AEMP_OTEL")
            .unwrap_or_else(|_| EnvFilter::new("aemp=debug,aemp_actor=debug,info"));
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(otel.with_filter(otel_filter))
            .try_init();
        Ok(Some(guard))
    }
}

/// What keeps the span exporter running (nothing without the `otel` feature).
#[cfg(feature = "otel")]
type OtelGuard = aemp::otel::OtelGuard;
#[cfg(not(feature = "otel"))]
type OtelGuard = ();

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
    let _otel = match init_logging(first == Some("run")) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("aemp: {e}");
            return ExitCode::from(2);
        }
    };
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

//! The `flowforge` binary: `serve` runs everything in one process, `migrate`
//! prepares the database. Configuration errors end the process with one line
//! naming the setting.
#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use flowforge_api::{
    config::{Cli, Command, ServeArgs, StorageArgs},
    server,
};
use flowforge_monitoring::telemetry::{self, LogFormat, Telemetry, TelemetrySettings};
use flowforge_outbound::TlsTrust;
use tokio_util::sync::CancellationToken;

/// Runs a tool with its logs on stderr at `warn`, so its stdout stays its own.
async fn with_tool_logging(
    tool: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let _logging = telemetry::init(&TelemetrySettings {
        log_format: LogFormat::Text,
        default_filter: "warn".to_owned(),
        log_to_stderr: true,
        otlp_endpoint: None,
        tls_trust: TlsTrust::public_roots(),
    })?;
    tool.await
}

/// `flowforge migrate`: creates or upgrades the schema.
async fn migrate(storage: StorageArgs) -> anyhow::Result<()> {
    let database = server::open_database(&storage).await?;
    println!("schema is up to date");
    database.close().await;
    Ok(())
}

/// Sends the last queued spans, off the async workers since it blocks.
async fn shutdown_telemetry(telemetry: Telemetry) {
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
}

async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
    token.cancel();
}

/// Logs and traces for `serve`; an `https://` collector is verified against
/// the same trust as every other outbound connection.
fn serve_telemetry(args: &ServeArgs) -> anyhow::Result<Telemetry> {
    let trust = args.tls.outbound_trust()?;
    Ok(telemetry::init(&args.telemetry.settings(trust))?)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match serve_telemetry(&args) {
            Ok(telemetry) => {
                let token = CancellationToken::new();
                let served = match server::start(&args, token.clone()).await {
                    Ok(running) => {
                        tokio::spawn(shutdown_signal(token));
                        running.wait().await;
                        Ok(())
                    }
                    Err(error) => Err(anyhow::Error::new(error)),
                };
                shutdown_telemetry(telemetry).await;
                served
            }
            Err(error) => Err(error),
        },
        Command::Projections(command) => with_tool_logging(cli::projections(command)).await,
        Command::Events(command) => with_tool_logging(cli::events(command)).await,
        Command::Aggregate(command) => with_tool_logging(cli::aggregate(command)).await,
        Command::Users(command) => with_tool_logging(cli::users(command)).await,
        Command::Keys(command) => with_tool_logging(cli::keys(command)).await,
        Command::Migrate(storage) => with_tool_logging(migrate(storage)).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

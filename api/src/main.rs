//! The `flowforge` binary: `serve` runs everything in one process, `migrate`
//! prepares the database. Configuration errors end the process with one line
//! naming the setting.
#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use flowforge_api::{
    config::{Cli, Command, LogFormat},
    server,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Logs of the tools go to stderr at `warn`, so their stdout stays theirs.
fn init_tool_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            let token = CancellationToken::new();
            match server::start(&args, token.clone()).await {
                Ok(running) => {
                    tokio::spawn(shutdown_signal(token));
                    running.wait().await;
                    Ok(())
                }
                Err(error) => Err(anyhow::Error::new(error)),
            }
        }
        Command::Projections(command) => {
            init_tool_logging();
            cli::projections(command).await
        }
        Command::Events(command) => {
            init_tool_logging();
            cli::events(command).await
        }
        Command::Aggregate(command) => {
            init_tool_logging();
            cli::aggregate(command).await
        }
        Command::Migrate(storage) => {
            init_logging(LogFormat::Text);
            match server::open_database(&storage).await {
                Ok(database) => {
                    tracing::info!("schema is up to date");
                    database.close().await;
                    Ok(())
                }
                Err(error) => Err(anyhow::Error::new(error)),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

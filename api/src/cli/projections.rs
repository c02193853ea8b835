//! `flowforge projections list | rebuild NAME | checksum NAME`.

use std::time::Duration;

use anyhow::{bail, Context};
use flowforge_api::config::ProjectionsCommand;
use flowforge_infra::{bus::jetstream::publisher::PUBLISHER_NAME, checkpoints::Checkpoints};
use flowforge_projections::{
    catalog::{self, PROJECTIONS},
    rebuild::rebuild,
};
use indicatif::{ProgressBar, ProgressStyle};

/// Runs one `projections` subcommand.
pub async fn run(command: ProjectionsCommand) -> anyhow::Result<()> {
    match command {
        ProjectionsCommand::List(storage) => {
            let (database, store) = super::open(&storage).await?;
            let head = store.head().await?;
            let stored = Checkpoints::new(database.clone()).all().await?;
            let position = |name: &str| {
                stored
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, p)| *p)
            };
            println!("{:<16} {:>12} {:>12}", "NAME", "CHECKPOINT", "LAG");
            let publishes = stored.iter().any(|(n, _)| n == PUBLISHER_NAME);
            let publisher = publishes.then_some(PUBLISHER_NAME);
            for name in PROJECTIONS.iter().copied().chain(publisher) {
                let at = position(name);
                println!("{name:<16} {at:>12} {:>12}", head.saturating_sub(at));
            }
            println!("head: {head}");
            database.close().await;
        }
        ProjectionsCommand::Rebuild { name, storage } => {
            let (database, store) = super::open(&storage).await?;
            let bar = ProgressBar::new(store.head().await?);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} rebuilding {msg} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
                )
                .context("progress bar template")?
                .progress_chars("=> "),
            );
            bar.set_message(name.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            let report = rebuild(&name, &database, store, |at, head| {
                bar.set_length(head);
                bar.set_position(at);
            })
            .await;
            bar.finish_and_clear();
            let report = report?;
            println!(
                "rebuilt {name}: {} events in {:.2} s ({:.0} events/s); swapped in at position {}",
                report.events,
                report.seconds,
                report.events as f64 / report.seconds.max(f64::EPSILON),
                report.position
            );
            database.close().await;
        }
        ProjectionsCommand::Checksum { name, storage } => {
            let (database, _) = super::open(&storage).await?;
            let Some(sum) = catalog::checksum(&name, &database).await? else {
                bail!(
                    "no projection named {name:?} (known: {})",
                    PROJECTIONS.join(", ")
                );
            };
            println!("{name} rows={} sha256={}", sum.rows, sum.sha256);
            database.close().await;
        }
    }
    Ok(())
}

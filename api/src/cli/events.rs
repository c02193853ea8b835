//! `flowforge events tail | export | import`.

use std::{
    fs::File,
    io::{BufRead, BufReader, BufWriter, Write},
    time::Duration,
};

use anyhow::{bail, Context};
use flowforge_api::config::EventsCommand;
use flowforge_infra::{
    bus::{store_tail::StoreTail, EventSubscription},
    event_store::{RecordedEvent, StreamId},
};

const PAGE: usize = 1000;

/// Runs one `events` subcommand.
pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail {
            follow,
            stream,
            after,
            json,
            storage,
        } => {
            let (database, store) = super::open(&storage).await?;
            let stream = stream.as_deref().map(parse_stream).transpose()?;
            let print = |event: &RecordedEvent| -> anyhow::Result<()> {
                if stream.as_ref().is_some_and(|s| s != &event.stream) {
                    return Ok(());
                }
                if json {
                    println!("{}", serde_json::to_string(event)?);
                } else {
                    println!(
                        "{:>8}  {}  {:<48} v{:<4} {:<28} {}",
                        event.position,
                        event.recorded_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                        event.stream.to_string(),
                        event.version,
                        event.event_type,
                        event.metadata.actor.as_deref().unwrap_or("-")
                    );
                }
                Ok(())
            };
            let mut tail = StoreTail::new(store, after, Duration::from_millis(200));
            loop {
                let batch = tokio::select! {
                    batch = tail.next_batch(PAGE) => batch?,
                    _ = tokio::signal::ctrl_c() => break,
                };
                if batch.is_empty() && !follow {
                    break;
                }
                batch.iter().try_for_each(print)?;
            }
            database.close().await;
        }
        EventsCommand::Export { out, storage } => {
            let (database, store) = super::open(&storage).await?;
            let file =
                File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut writer = BufWriter::new(file);
            let mut after = 0;
            loop {
                let page = store.read_all(after, PAGE).await?;
                let Some(last) = page.last().map(|e| e.position) else {
                    break;
                };
                for event in &page {
                    serde_json::to_writer(&mut writer, event)?;
                    writer.write_all(b"\n")?;
                }
                after = last;
            }
            writer.flush()?;
            println!("exported {after} events to {}", out.display());
            database.close().await;
        }
        EventsCommand::Import {
            file,
            append,
            storage,
        } => {
            let (database, store) = super::open(&storage).await?;
            let head = store.head().await?;
            if head > 0 && !append {
                bail!("the store already holds {head} events; import needs an empty store (or --append to continue it)");
            }
            let reader = BufReader::new(
                File::open(&file).with_context(|| format!("cannot open {}", file.display()))?,
            );
            let mut batch = Vec::with_capacity(PAGE);
            let (mut imported, mut skipped) = (0_u64, 0_u64);
            let mut held: Vec<RecordedEvent> = Vec::new();
            for (number, line) in reader.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let event: RecordedEvent = serde_json::from_str(&line).with_context(|| {
                    format!("{}:{}: not a recorded event", file.display(), number + 1)
                })?;
                if event.position <= head {
                    // Compare against the stored log a page at a time, not an
                    // event at a time.
                    if held.first().is_none_or(|e| e.position > event.position)
                        || held.last().is_none_or(|e| e.position < event.position)
                    {
                        held = store.read_all(event.position - 1, PAGE).await?;
                    }
                    let stored = held.iter().find(|e| e.position == event.position);
                    if stored.map(|e| e.event_id) != Some(event.event_id) {
                        bail!(
                            "position {} holds a different event than the file; not the same log",
                            event.position
                        );
                    }
                    skipped += 1;
                    continue;
                }
                batch.push(event);
                if batch.len() == PAGE {
                    imported += batch.len() as u64;
                    store.import(std::mem::take(&mut batch)).await?;
                }
            }
            imported += batch.len() as u64;
            store.import(batch).await?;
            println!(
                "imported {imported} events ({skipped} already present); head is now {}",
                store.head().await?
            );
            println!("run `flowforge projections rebuild NAME` for each projection, or start `serve`, to build the read models");
            database.close().await;
        }
    }
    Ok(())
}

/// `TYPE/ID` as a stream id.
fn parse_stream(value: &str) -> anyhow::Result<StreamId> {
    let Some((aggregate_type, id)) = value.split_once('/') else {
        bail!("--stream takes TYPE/ID, e.g. workflow/0195f3a0-…");
    };
    Ok(StreamId::new(aggregate_type, id)?)
}

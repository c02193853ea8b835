//! `flowforge aggregate show TYPE ID [--at-version N]`: an aggregate's state
//! folded from its events, as it is now or was at a version.

use anyhow::bail;
use flowforge_api::config::AggregateCommand;
use flowforge_domain::{
    decode_event,
    workflow::{Workflow, WorkflowEvent},
    Aggregate,
};
use flowforge_infra::event_store::StreamId;
use serde_json::json;

/// Runs one `aggregate` subcommand.
pub async fn run(command: AggregateCommand) -> anyhow::Result<()> {
    let AggregateCommand::Show {
        aggregate_type,
        id,
        at_version,
        storage,
    } = command;
    if aggregate_type != Workflow::TYPE {
        bail!(
            "unknown aggregate type {aggregate_type:?} (known: {})",
            Workflow::TYPE
        );
    }
    let (database, store) = super::open(&storage).await?;
    let stream = StreamId::new(aggregate_type.as_str(), id.as_str())?;
    let recorded = store.read_stream(&stream, 0).await?;
    let Some(current) = recorded.last().map(|e| e.version) else {
        bail!("no stream {stream}");
    };
    let version = at_version.unwrap_or(current);
    if version == 0 || version > current {
        bail!("{stream} has versions 1 to {current}; --at-version {version} is not one of them");
    }
    let events = recorded
        .iter()
        .filter(|e| e.version <= version)
        .map(|e| decode_event::<WorkflowEvent>(&e.event_type, &e.payload))
        .collect::<Result<Vec<_>, _>>()?;
    let workflow = Workflow::from_events(events);
    let state = json!({
        "aggregate_type": aggregate_type,
        "id": id,
        "version": version,
        "latest_version": current,
        "state": {
            "name": workflow.name(),
            "status": workflow.status(),
            "tags": workflow.tags(),
            "definition_version": workflow.definition_version(),
            "definition": workflow.definition(),
        }
    });
    println!("{}", serde_json::to_string_pretty(&state)?);
    database.close().await;
    Ok(())
}

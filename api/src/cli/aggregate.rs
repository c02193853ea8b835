//! `flowforge aggregate show TYPE ID [--at-version N]`: an aggregate's state
//! folded from its events, as it is now or was at a version. TYPE is
//! `workflow`, `execution` or `saga`.

use anyhow::bail;
use flowforge_api::config::AggregateCommand;
use flowforge_domain::{
    decode_event,
    execution::{Execution, ExecutionEvent},
    saga::{Saga, SagaEvent},
    workflow::{Workflow, WorkflowEvent},
    Aggregate, DomainEvent,
};
use flowforge_infra::event_store::{RecordedEvent, StreamId};
use serde_json::{json, Value};

const KNOWN: [&str; 3] = [Workflow::TYPE, Execution::TYPE, Saga::TYPE];

/// Decodes the events of a stream.
fn decode<E: DomainEvent>(events: &[&RecordedEvent]) -> anyhow::Result<Vec<E>> {
    Ok(events
        .iter()
        .map(|e| decode_event::<E>(&e.event_type, &e.payload))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The state the events fold into, as JSON.
fn fold(aggregate_type: &str, events: &[&RecordedEvent]) -> anyhow::Result<Value> {
    Ok(match aggregate_type {
        "workflow" => {
            let workflow = Workflow::from_events(decode::<WorkflowEvent>(events)?);
            json!({
                "name": workflow.name(),
                "status": workflow.status(),
                "tags": workflow.tags(),
                "definition_version": workflow.definition_version(),
                "definition": workflow.definition(),
            })
        }
        "execution" => json!(Execution::from_events(decode::<ExecutionEvent>(events)?)),
        "saga" => json!(Saga::from_events(decode::<SagaEvent>(events)?)),
        other => bail!(
            "unknown aggregate type {other:?} (known: {})",
            KNOWN.join(", ")
        ),
    })
}

/// Runs one `aggregate` subcommand.
pub async fn run(command: AggregateCommand) -> anyhow::Result<()> {
    let AggregateCommand::Show {
        aggregate_type,
        id,
        at_version,
        storage,
    } = command;
    if !KNOWN.contains(&aggregate_type.as_str()) {
        bail!(
            "unknown aggregate type {aggregate_type:?} (known: {})",
            KNOWN.join(", ")
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
    let events: Vec<&RecordedEvent> = recorded.iter().filter(|e| e.version <= version).collect();
    let state = json!({
        "aggregate_type": aggregate_type,
        "id": id,
        "version": version,
        "latest_version": current,
        "state": fold(&aggregate_type, &events)?,
    });
    println!("{}", serde_json::to_string_pretty(&state)?);
    database.close().await;
    Ok(())
}

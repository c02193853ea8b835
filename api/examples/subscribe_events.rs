//! An outside subscriber: prints FlowForge's events as they arrive on NATS,
//! using nothing of FlowForge but the documented wire format (a CloudEvents 1.0
//! JSON envelope per message, see docs/events-on-nats.md).
//!
//! ```text
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p flowforge-api --example subscribe_events
//! ```
//!
//! It reads the JetStream stream from its first message with an ephemeral
//! ordered consumer, so it shows history too; `--new` shows only new events.

use futures::StreamExt;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let stream_name =
        std::env::var("FLOWFORGE_NATS_STREAM").unwrap_or_else(|_| "FLOWFORGE_EVENTS".to_owned());
    let only_new = std::env::args().any(|arg| arg == "--new");

    let client = async_nats::connect(url.as_str()).await?;
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream.get_stream(&stream_name).await?;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: if only_new {
                async_nats::jetstream::consumer::DeliverPolicy::New
            } else {
                async_nats::jetstream::consumer::DeliverPolicy::All
            },
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    println!("listening on {url}, stream {stream_name} (Ctrl-C to stop)");
    while let Some(message) = messages.next().await {
        let message = message?;
        let event: Value = serde_json::from_slice(&message.payload)?;
        println!(
            "#{:<6} {:<28} {:<60} v{:<4} by {}",
            event["position"],
            event["type"].as_str().unwrap_or("?"),
            event["subject"].as_str().unwrap_or("?"),
            event["streamversion"],
            event["actor"].as_str().unwrap_or("-"),
        );
    }
    Ok(())
}

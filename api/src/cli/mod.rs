//! The replay and inspection tooling of the `flowforge` binary: projections
//! (list, rebuild, checksum), events (tail, export, import), aggregates
//! (show), users (create-owner) and keys (rotate). Each opens the
//! configured store directly, like `serve` does.

mod aggregate;
mod events;
mod keys;
mod projections;
mod users;

use std::sync::Arc;

use flowforge_api::{config::StorageArgs, server::open_database};
use flowforge_infra::{
    database::Database,
    event_store::{upcasting::Upcasters, EventStore},
};

pub use aggregate::run as aggregate;
pub use events::run as events;
pub use keys::run as keys;
pub use projections::run as projections;
pub use users::run as users;

/// The migrated database and its event store, as the tools use them.
async fn open(storage: &StorageArgs) -> anyhow::Result<(Database, Arc<dyn EventStore>)> {
    let database = open_database(storage).await?;
    let store = database.event_store(Upcasters::default());
    Ok((database, store))
}

//! A workspace's variables (`$vars` in expressions): set, removed and
//! listed through the command bus, so each change is an event of the
//! workspace's `Variables` stream.

use chrono::Utc;
use flowforge_domain::variable::{VariableCommand, VariableError, Variables};
use flowforge_infra::event_store::EventMetadata;

use crate::{CommandBus, CommandError, CommandOutcome};

/// The variables use cases over the command bus.
#[derive(Clone)]
pub struct WorkspaceVariables {
    commands: CommandBus,
}

impl WorkspaceVariables {
    /// Variables recorded through `commands`.
    pub fn new(commands: CommandBus) -> Self {
        Self { commands }
    }

    /// Sets variable `name` of workspace `tenant` to `value`; whether it
    /// changed anything.
    ///
    /// # Errors
    /// A name or value the aggregate refuses, and what the store fails with.
    pub async fn set(
        &self,
        tenant: &str,
        name: String,
        value: String,
        metadata: &EventMetadata,
    ) -> Result<CommandOutcome, CommandError<VariableError>> {
        let command = VariableCommand::Set {
            name,
            value,
            at: Utc::now(),
        };
        self.commands
            .execute::<Variables>(tenant, command, None, metadata)
            .await
    }

    /// Removes variable `name` of workspace `tenant`.
    ///
    /// # Errors
    /// [`VariableError::NotFound`], and what the store fails with.
    pub async fn delete(
        &self,
        tenant: &str,
        name: String,
        metadata: &EventMetadata,
    ) -> Result<(), CommandError<VariableError>> {
        let command = VariableCommand::Delete {
            name,
            at: Utc::now(),
        };
        self.commands
            .execute::<Variables>(tenant, command, None, metadata)
            .await?;
        Ok(())
    }

    /// The variables of workspace `tenant`.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn list(&self, tenant: &str) -> Result<Variables, CommandError<VariableError>> {
        Ok(self.commands.load::<Variables>(tenant).await?.0)
    }
}

//! `flowforge users create-owner`: the installation's first account, made
//! through the same use cases as `POST /api/v1/auth/register`, for setups
//! that are scripted rather than clicked.

use anyhow::{bail, Context};
use flowforge_api::config::UsersCommand;
use flowforge_commands::{
    accounts::{Accounts, Passwords, SecondFactorKey},
    workspaces::Workspaces,
    CommandBus,
};
use flowforge_infra::{event_store::EventMetadata, secrets::SECOND_FACTOR_KEY};

/// Runs a `users` subcommand.
pub async fn run(command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::CreateOwner {
            email,
            password_file,
            name,
            auth,
            storage,
        } => {
            let password = std::fs::read_to_string(&password_file)
                .with_context(|| format!("cannot read {}", password_file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            let (database, store) = super::open(&storage).await?;
            let commands = CommandBus::new(store);
            let workspaces = Workspaces::new(commands.clone(), chrono::Duration::days(7));
            if workspaces.has_first_owner().await? {
                bail!("the installation has an owner already; invite further accounts");
            }
            let second_factor =
                SecondFactorKey::from_hex(&database.secret(SECOND_FACTOR_KEY).await?)?;
            let accounts = Accounts::new(
                commands,
                Passwords::new(auth.argon2())?,
                chrono::Duration::days(i64::from(auth.session_days)),
                second_factor,
            );
            let metadata = EventMetadata {
                actor: Some("cli".to_owned()),
                ..EventMetadata::default()
            };
            let user_id = accounts.register(&email, name, password, &metadata).await?;
            let Some(workspace_id) = workspaces.set_up_first_owner(user_id, &metadata).await?
            else {
                bail!(
                    "another account became the owner at the same moment; {user_id} is an ordinary account"
                );
            };
            println!("owner {user_id} of workspace {workspace_id}");
            Ok(())
        }
    }
}

//! `flowforge keys rotate`: every data key re-wrapped under a new master
//! key, so the old one can be retired (or was exposed).

use anyhow::{bail, Context};
use flowforge_api::{config::KeysCommand, server::open_database};
use flowforge_infra::keys::{
    replace_key_file, rotate, MasterKey, MasterKeyOrigin, DEFAULT_KEY_FILE,
};

/// Runs a `keys` subcommand.
pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate {
            new_key_file,
            storage,
        } => {
            let default_file = storage.data_dir.join(DEFAULT_KEY_FILE);
            let Some((old, origin)) = MasterKey::find(
                storage.encryption_key.as_deref(),
                storage.encryption_key_file.as_deref(),
                &default_file,
            )?
            else {
                bail!(
                    "no master key to rotate from: set FLOWFORGE_ENCRYPTION_KEY or \
                     FLOWFORGE_ENCRYPTION_KEY_FILE, or point FLOWFORGE_DATA_DIR at the data \
                     directory holding master.key"
                );
            };
            let new = MasterKey::read_file(&new_key_file)?;
            let database = open_database(&storage).await?;
            let rows = rotate(&database, &old, &new)
                .await
                .context("the keys were not all re-wrapped")?;
            println!("re-wrapped {rows} keys under the new master key");
            match origin {
                MasterKeyOrigin::File(path) | MasterKeyOrigin::Generated(path)
                    if path == default_file =>
                {
                    replace_key_file(&new_key_file, &default_file)?;
                    println!("{} now holds the new key", default_file.display());
                }
                _ => println!(
                    "start every instance with the new key (FLOWFORGE_ENCRYPTION_KEY or \
                     FLOWFORGE_ENCRYPTION_KEY_FILE); the old one no longer opens this database"
                ),
            }
            Ok(())
        }
    }
}

//! Keys a deployment keeps in its database beside the event log, never in it:
//! each is created at random by the first instance that asks for it (an
//! insert that loses a race changes nothing) and then read by every instance,
//! so all of them derive the same values from it. The resume-link key of Wait
//! nodes is the first.

use uuid::Uuid;

use crate::database::Database;

/// The key resume tokens of Wait nodes are derived with.
pub const RESUME_LINK_KEY: &str = "resume_link_key";
/// The key accounts' authenticator (TOTP) secrets are sealed with.
pub const SECOND_FACTOR_KEY: &str = "second_factor_key";

/// Why a secret could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("cannot read or create secret {name}: {source}")]
pub struct SecretError {
    name: String,
    #[source]
    source: sqlx::Error,
}

impl Database {
    /// The secret `name` (32 random bytes as 64 hex digits), created if this
    /// database has none yet.
    pub async fn secret(&self, name: &str) -> Result<String, SecretError> {
        let insert = "INSERT INTO flowforge_secrets (name, secret) VALUES ($1, $2) \
                      ON CONFLICT (name) DO NOTHING";
        let select = "SELECT secret FROM flowforge_secrets WHERE name = $1";
        self.insert_or_read(insert, select, name, &random_key())
            .await
            .map_err(|source| SecretError {
                name: name.to_owned(),
                source,
            })
    }

    /// Stores `value` under `name` with `insert` (which must do nothing
    /// when `name` is taken) and answers what `select` reads back: of two
    /// instances racing to make a key, both get the winner's.
    pub(crate) async fn insert_or_read(
        &self,
        insert: &str,
        select: &str,
        name: &str,
        value: &str,
    ) -> Result<String, sqlx::Error> {
        match self {
            Database::Postgres(pool) => {
                sqlx::query(insert)
                    .bind(name)
                    .bind(value)
                    .execute(pool)
                    .await?;
                sqlx::query_scalar(select).bind(name).fetch_one(pool).await
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(insert)
                    .bind(name)
                    .bind(value)
                    .execute(writer)
                    .await?;
                sqlx::query_scalar(select)
                    .bind(name)
                    .fetch_one(writer)
                    .await
            }
        }
    }
}

/// 32 bytes from the operating system's random source (through UUIDv4: two of
/// them hold 244 random bits), as hex.
fn random_key() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

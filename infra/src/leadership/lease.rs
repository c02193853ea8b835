//! Leases: who holds a named piece of work right now.

use sqlx::{pool::PoolConnection, Connection, PgConnection, PgPool, Postgres};

use crate::database::Database;

/// Hands out leases on named pieces of work.
#[derive(Debug, Clone)]
pub enum Leadership {
    /// Advisory locks in the shared PostgreSQL database.
    Postgres(PgPool),
    /// A single process: every lease is granted.
    SingleProcess,
}

/// A held lease; dropping it releases the work to other instances.
#[derive(Debug)]
pub struct LeaderLease {
    name: String,
    connection: Option<PgConnection>,
}

impl Leadership {
    /// The leadership matching a database.
    pub fn for_database(database: &Database) -> Self {
        match database {
            Database::Postgres(pool) => Leadership::Postgres(pool.clone()),
            Database::Sqlite { .. } => Leadership::SingleProcess,
        }
    }

    /// Takes the lease on `name` if nobody holds it.
    pub async fn try_acquire(&self, name: &str) -> Result<Option<LeaderLease>, sqlx::Error> {
        let Leadership::Postgres(pool) = self else {
            return Ok(Some(LeaderLease {
                name: name.to_owned(),
                connection: None,
            }));
        };
        let connection: PoolConnection<Postgres> = pool.acquire().await?;
        // Detached: the lock lives exactly as long as this connection, never
        // in the pool where another task could inherit it.
        let mut connection = connection.detach();
        let acquired: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(lease_key(name))
                .fetch_one(&mut connection)
                .await?;
        if acquired {
            Ok(Some(LeaderLease {
                name: name.to_owned(),
                connection: Some(connection),
            }))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }
}

fn lease_key(name: &str) -> String {
    format!("flowforge:{name}")
}

impl LeaderLease {
    /// The work this lease is for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lease is still held (its connection still answers).
    pub async fn is_held(&mut self) -> bool {
        match &mut self.connection {
            None => true,
            Some(connection) => connection.ping().await.is_ok(),
        }
    }

    /// Gives the lease up now.
    pub async fn release(mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
    }
}

//! Accounts against the real store: an address whose claim was left by a
//! registration that stopped half-way (the claim recorded, the account not)
//! is not lost for good, while a fresh claim and a real account keep it.

use chrono::{Duration, Utc};
use flowforge_commands::{
    accounts::{email_stream, AccountError, Accounts, Argon2Settings, Passwords, SecondFactorKey},
    CommandBus, CommandError,
};
use flowforge_domain::user::{UserError, UserId};
use flowforge_infra::{
    event_store::{upcasting::Upcasters, EventMetadata, RecordedEvent, StreamId},
    test_support::TestDatabase,
};
use serde_json::json;
use uuid::Uuid;

fn accounts(bus: CommandBus) -> Accounts {
    let passwords = Passwords::new(Argon2Settings {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .expect("settings");
    let key = SecondFactorKey::from_hex(&"5".repeat(64)).expect("key");
    Accounts::new(bus, passwords, Duration::days(1), key)
}

/// A claim of `email` by an account that was never recorded, made `age` ago.
fn orphaned_claim(email: &str, position: u64, age: Duration) -> RecordedEvent {
    RecordedEvent {
        event_id: Uuid::now_v7(),
        position,
        stream: StreamId::new("user_email", email_stream(email)).expect("stream"),
        version: 1,
        event_type: "EmailClaimed".to_owned(),
        schema_version: 1,
        payload: json!({"email": email, "user_id": UserId::from_uuid(Uuid::now_v7())}),
        metadata: EventMetadata::default(),
        recorded_at: Utc::now() - age,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_left_claimed_by_a_registration_that_stopped_can_be_registered() {
    let db = TestDatabase::sqlite().await;
    let store = db.database.event_store(Upcasters::default());
    store
        .import(vec![
            orphaned_claim("old@example.com", 1, Duration::minutes(5)),
            orphaned_claim("new@example.com", 2, Duration::seconds(1)),
        ])
        .await
        .expect("import");
    let accounts = accounts(CommandBus::new(store));
    let meta = EventMetadata::default();
    let password = || "a long and unusual phrase".to_owned();

    accounts
        .register("old@example.com", "Old".to_owned(), password(), &meta)
        .await
        .expect("a stale orphaned claim passes to the new account");
    // A fresh one may be a registration still under way.
    assert!(matches!(
        accounts
            .register("new@example.com", "New".to_owned(), password(), &meta)
            .await,
        Err(AccountError::User(CommandError::Rejected(
            UserError::EmailTaken
        )))
    ));
    // A real account keeps its address.
    assert!(matches!(
        accounts
            .register("old@example.com", "Again".to_owned(), password(), &meta)
            .await,
        Err(AccountError::User(CommandError::Rejected(
            UserError::EmailTaken
        )))
    ));
    accounts
        .sign_in("old@example.com", password(), None, None, &meta)
        .await
        .expect("the new account signs in");
}

//! The keyring against both real databases: a database remembers the master
//! key it was set up with and refuses another at once; a workspace's data
//! key is made once and shared by every instance (two keyrings on one
//! database open each other's values); a sealed value opens only for the
//! owner it was sealed for, and an altered one is refused, never decrypted
//! to garbage.

use flowforge_infra::{
    keys::{Keyring, KeyringError, MasterKey, SealError},
    test_support::TestDatabase,
};

fn master(digit: char) -> MasterKey {
    MasterKey::parse(&digit.to_string().repeat(64), "test").expect("key")
}

async fn check(database: TestDatabase) {
    let first = Keyring::open(database.database.clone(), master('a'))
        .await
        .expect("a fresh database takes any master key");
    let sealed = first
        .seal("workspace:w1", "credential:c1", b"hunter22")
        .await
        .expect("seal");
    assert!(!sealed.contains("hunter22"));

    let second = Keyring::open(database.database.clone(), master('a'))
        .await
        .expect("the same key opens again");
    assert_eq!(
        second
            .open_sealed("workspace:w1", "credential:c1", &sealed)
            .await
            .expect("another instance opens it"),
        b"hunter22"
    );
    for (scope, owner) in [
        ("workspace:w2", "credential:c1"),
        ("workspace:w1", "credential:c2"),
    ] {
        assert!(matches!(
            second.open_sealed(scope, owner, &sealed).await,
            Err(KeyringError::Seal(SealError::DoesNotOpen))
        ));
    }
    let mut altered = sealed.into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'x' { b'y' } else { b'x' };
    let altered = String::from_utf8(altered).expect("ascii");
    assert!(matches!(
        second
            .open_sealed("workspace:w1", "credential:c1", &altered)
            .await,
        Err(KeyringError::Seal(SealError::DoesNotOpen))
    ));

    let refused = Keyring::open(database.database.clone(), master('b')).await;
    let Err(error) = refused else {
        panic!("another master key was accepted");
    };
    assert!(matches!(error, KeyringError::WrongMasterKey), "{error}");
    assert!(
        error.to_string().contains("FLOWFORGE_ENCRYPTION_KEY"),
        "{error}"
    );
}

#[tokio::test]
async fn sqlite_keeps_keys_under_one_master_key() {
    check(TestDatabase::sqlite().await).await;
}

#[tokio::test]
async fn postgres_keeps_keys_under_one_master_key() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    check(database).await;
}

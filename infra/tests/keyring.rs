//! The keyring against both real databases: a database remembers the master
//! key it was set up with and refuses another at once; a workspace's data
//! key is made once and shared by every instance (two keyrings on one
//! database open each other's values); a sealed value opens only for the
//! owner it was sealed for, and an altered one is refused, never decrypted
//! to garbage; a rotation re-wraps every key while an instance holding both
//! keys keeps working, and the old key is refused after it.

use flowforge_infra::{
    keys::{rotate, Keyring, KeyringError, MasterKey, SealError},
    test_support::TestDatabase,
};

fn master(digit: char) -> MasterKey {
    MasterKey::parse(&digit.to_string().repeat(64), "test").expect("key")
}

async fn check(database: TestDatabase) {
    let first = Keyring::open(database.database.clone(), master('a'), None)
        .await
        .expect("a fresh database takes any master key");
    let sealed = first
        .seal("workspace:w1", "credential:c1", b"hunter22")
        .await
        .expect("seal");
    let sealed_before = sealed.clone();
    assert!(!sealed.contains("hunter22"));

    let second = Keyring::open(database.database.clone(), master('a'), None)
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

    let refused = Keyring::open(database.database.clone(), master('b'), None).await;
    let Err(error) = refused else {
        panic!("another master key was accepted");
    };
    assert!(matches!(error, KeyringError::WrongMasterKey), "{error}");
    assert!(
        error.to_string().contains("FLOWFORGE_ENCRYPTION_KEY"),
        "{error}"
    );

    // Rotation: an instance holding both keys serves throughout; after it,
    // the new key alone opens everything and the old one is refused.
    let during = Keyring::open(database.database.clone(), master('b'), Some(master('a')))
        .await
        .expect("the new key with the old as previous");
    let sealed_during = during
        .seal("workspace:w2", "credential:c9", b"made mid-rotation")
        .await
        .expect("a new data key, wrapped by the new key");
    let rows = rotate(&database.database, &master('a'), &master('b'))
        .await
        .expect("rotated");
    assert_eq!(rows, 3, "the check row and two data keys");
    let again = rotate(&database.database, &master('a'), &master('b'))
        .await
        .expect("running it again changes nothing and fails nothing");
    assert_eq!(again, 3);
    let after = Keyring::open(database.database.clone(), master('b'), None)
        .await
        .expect("the new key alone");
    assert_eq!(
        after
            .open_sealed("workspace:w1", "credential:c1", &sealed_before)
            .await
            .expect("sealed before the rotation, opens after it"),
        b"hunter22"
    );
    assert_eq!(
        after
            .open_sealed("workspace:w2", "credential:c9", &sealed_during)
            .await
            .expect("opens"),
        b"made mid-rotation"
    );
    let old_alone = Keyring::open(database.database.clone(), master('a'), None).await;
    assert!(matches!(old_alone, Err(KeyringError::WrongMasterKey)));
    assert!(matches!(
        rotate(&database.database, &master('c'), &master('d')).await,
        Err(KeyringError::WrongMasterKey)
    ));
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

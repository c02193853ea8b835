//! Given/when/then tests of a workspace's credentials: names unique within
//! the workspace, found by id or name, renamed and re-sealed, deleted.

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::{
    credential::{
        CredentialCommand, CredentialError, CredentialEvent, CredentialId, CredentialKind,
        Credentials, SealedData,
    },
    Aggregate, AggregateTester,
};
use serde_json::json;
use uuid::Uuid;

fn at(second: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(second)
}

fn id(n: u128) -> CredentialId {
    CredentialId::from_uuid(Uuid::from_u128(n))
}

fn sealed(tag: &str) -> SealedData {
    SealedData {
        sealed: format!("v1.{tag}"),
        public: json!({"name": "Authorization"})
            .as_object()
            .cloned()
            .expect("object"),
        secrets_set: vec!["value".to_owned()],
    }
}

fn create(n: u128, name: &str) -> CredentialCommand {
    CredentialCommand::Create {
        id: id(n),
        name: name.to_owned(),
        kind: CredentialKind::HttpHeaderAuth,
        data: sealed("a"),
        at: at(1),
    }
}

fn created(n: u128, name: &str) -> CredentialEvent {
    CredentialEvent::Created {
        id: id(n),
        name: name.to_owned(),
        kind: "http_header_auth".to_owned(),
        data: sealed("a"),
        at: at(1),
    }
}

#[test]
fn a_name_is_unique_in_the_workspace_and_trimmed() {
    AggregateTester::<Credentials>::given(vec![])
        .when(create(1, "  Stripe "))
        .then_expect_events(vec![created(1, "Stripe")]);
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe")])
        .when(create(2, "Stripe"))
        .then_expect_error(|e| *e == CredentialError::NameTaken("Stripe".to_owned()));
    AggregateTester::<Credentials>::given(vec![])
        .when(create(2, " "))
        .then_expect_error(|e| *e == CredentialError::InvalidName);
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe")])
        .when(create(1, "Stripe"))
        .then_expect_no_events();
}

#[test]
fn a_credential_is_found_by_id_or_name() {
    let credentials = Credentials::from_events([created(1, "Stripe"), created(2, "GitHub")]);
    assert_eq!(credentials.find("GitHub").map(|(id, _)| id), Some(id(2)));
    assert_eq!(
        credentials
            .find(&id(1).to_string())
            .map(|(_, c)| c.name.clone()),
        Some("Stripe".to_owned())
    );
    assert!(credentials.find("stripe").is_none());
}

#[test]
fn renaming_and_resealing_keep_the_rest() {
    let given = vec![created(1, "Stripe"), created(2, "GitHub")];
    AggregateTester::<Credentials>::given(given.clone())
        .when(CredentialCommand::Update {
            id: id(1),
            name: Some("GitHub".to_owned()),
            data: None,
            at: at(2),
        })
        .then_expect_error(|e| matches!(e, CredentialError::NameTaken(_)));
    AggregateTester::<Credentials>::given(given.clone())
        .when(CredentialCommand::Update {
            id: id(1),
            name: Some("Stripe".to_owned()),
            data: None,
            at: at(2),
        })
        .then_expect_no_events();
    let update = CredentialEvent::Updated {
        id: id(1),
        name: Some("Stripe live".to_owned()),
        data: Some(sealed("b")),
        at: at(2),
    };
    AggregateTester::<Credentials>::given(given.clone())
        .when(CredentialCommand::Update {
            id: id(1),
            name: Some("Stripe live".to_owned()),
            data: Some(sealed("b")),
            at: at(2),
        })
        .then_expect_events(vec![update.clone()]);
    let mut after = given;
    after.push(update);
    let credentials = Credentials::from_events(after);
    let (_, stripe) = credentials.find("Stripe live").expect("renamed");
    assert_eq!(stripe.data, sealed("b"));
    assert_eq!((stripe.created_at, stripe.updated_at), (at(1), at(2)));
}

#[test]
fn a_deleted_credential_is_gone_and_its_name_free() {
    let given = vec![
        created(1, "Stripe"),
        CredentialEvent::Deleted {
            id: id(1),
            at: at(3),
        },
    ];
    let credentials = Credentials::from_events(given.clone());
    assert!(credentials.find("Stripe").is_none());
    AggregateTester::<Credentials>::given(given.clone())
        .when(CredentialCommand::Delete {
            id: id(1),
            at: at(4),
        })
        .then_expect_error(|e| matches!(e, CredentialError::NotFound(_)));
    AggregateTester::<Credentials>::given(given)
        .when(create(2, "Stripe"))
        .then_expect_events(vec![created(2, "Stripe")]);
}

#[test]
fn a_node_names_credentials_by_known_type() {
    use flowforge_domain::credential::check_references;
    let parameters = |value: serde_json::Value| value.as_object().cloned().expect("object");
    assert!(check_references(&parameters(json!({"url": "x"}))).is_ok());
    assert!(check_references(&parameters(
        json!({"credentials": {"http_header_auth": "Stripe"}})
    ))
    .is_ok());
    for bad in [
        json!({"credentials": "Stripe"}),
        json!({"credentials": {"oauth9": "Stripe"}}),
        json!({"credentials": {"http_header_auth": ""}}),
        json!({"credentials": {"http_header_auth": {"id": "1"}}}),
    ] {
        assert!(check_references(&parameters(bad.clone())).is_err(), "{bad}");
    }
}

#[test]
fn a_credential_is_shared_once_with_another_workspace_and_never_with_its_own() {
    let share = |with: &str| CredentialCommand::Share {
        id: id(1),
        with: with.to_owned(),
        owner: "w1".to_owned(),
        at: at(2),
    };
    let shared = CredentialEvent::Shared {
        id: id(1),
        with: "w2".to_owned(),
        at: at(2),
    };
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe")])
        .when(share("w2"))
        .then_expect_events(vec![shared.clone()]);
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe"), shared.clone()])
        .when(share("w2"))
        .then_expect_no_events();
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe")])
        .when(share("w1"))
        .then_expect_error(|e| *e == CredentialError::ShareWithOwner);
    AggregateTester::<Credentials>::given(vec![])
        .when(share("w2"))
        .then_expect_error(|e| matches!(e, CredentialError::NotFound(_)));
    AggregateTester::<Credentials>::given(vec![created(1, "Stripe"), shared])
        .when(CredentialCommand::Unshare {
            id: id(1),
            with: "w2".to_owned(),
            at: at(3),
        })
        .then_expect_events(vec![CredentialEvent::Unshared {
            id: id(1),
            with: "w2".to_owned(),
            at: at(3),
        }]);
}

#[test]
fn a_linked_credential_is_found_by_id_only_and_forgotten_when_unlinked() {
    let linked = CredentialEvent::Linked {
        id: id(7),
        owner: "w1".to_owned(),
        name: "Team token".to_owned(),
        kind: "http_bearer_auth".to_owned(),
        at: at(1),
    };
    let mut credentials = Credentials::default();
    credentials.apply(linked);
    assert_eq!(
        credentials
            .find_shared(&id(7).to_string())
            .map(|(i, s)| (i, s.owner.clone())),
        Some((id(7), "w1".to_owned()))
    );
    assert!(
        credentials.find_shared("Team token").is_none(),
        "a name never reaches another workspace's credential"
    );
    assert!(
        credentials.find("Team token").is_none(),
        "not one of its own"
    );
    credentials.apply(CredentialEvent::Unlinked {
        id: id(7),
        at: at(2),
    });
    assert!(credentials.find_shared(&id(7).to_string()).is_none());
}

#[test]
fn a_use_is_recorded_once_per_execution() {
    use flowforge_domain::{
        credential::{CredentialUse, CredentialUseCommand, CredentialUseEvent},
        execution::ExecutionId,
    };
    let execution = ExecutionId::from_uuid(Uuid::from_u128(9));
    let command = CredentialUseCommand {
        credential: id(1),
        owner: "w1".to_owned(),
        user: "w2".to_owned(),
        execution,
        node: "Call".to_owned(),
        at: at(5),
    };
    let used = CredentialUseEvent::Used {
        credential: id(1),
        owner: "w1".to_owned(),
        user: "w2".to_owned(),
        execution,
        node: "Call".to_owned(),
        at: at(5),
    };
    AggregateTester::<CredentialUse>::given(vec![])
        .when(command.clone())
        .then_expect_events(vec![used.clone()]);
    AggregateTester::<CredentialUse>::given(vec![used])
        .when(command)
        .then_expect_no_events();
}

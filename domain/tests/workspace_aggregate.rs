//! Given/when/then tests of the Workspace aggregate: creation with an owner,
//! invitations taken up with the right token by the right address, role
//! changes only within what the acting role may hand out, the last owner
//! staying, API keys that never act as owner and record their use sparingly,
//! and the installation's single first owner.

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::{
    user::UserId,
    workspace::{
        ApiKeyId, ClaimFirstOwner, FirstOwner, FirstOwnerEvent, InvitationId, NewApiKey,
        Permission, Role, Workspace, WorkspaceCommand, WorkspaceError, WorkspaceEvent, WorkspaceId,
        API_KEY_USE_PRECISION,
    },
    Aggregate, AggregateTester,
};
use proptest::prelude::*;
use strum::IntoEnumIterator;
use uuid::Uuid;

fn at(second: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(second)
}

fn workspace_id() -> WorkspaceId {
    WorkspaceId::from_uuid(Uuid::from_u128(1))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(10 + n))
}

fn invitation(n: u128) -> InvitationId {
    InvitationId::from_uuid(Uuid::from_u128(100 + n))
}

fn key(n: u128) -> ApiKeyId {
    ApiKeyId::from_uuid(Uuid::from_u128(1000 + n))
}

fn created() -> WorkspaceEvent {
    WorkspaceEvent::Created {
        workspace_id: workspace_id(),
        name: "Acme".to_owned(),
        owner: user(0),
        at: at(0),
    }
}

fn invited(n: u128, email: &str, role: Role) -> WorkspaceEvent {
    WorkspaceEvent::InvitationIssued {
        invitation_id: invitation(n),
        email: email.to_owned(),
        role,
        token_hash: format!("token-{n}"),
        expires_at: at(1_000),
        at: at(1),
    }
}

fn joined(n: u128, role: Role) -> WorkspaceEvent {
    WorkspaceEvent::MemberJoined {
        user_id: user(n),
        role,
        invitation_id: invitation(n),
        at: at(2),
    }
}

fn accept(n: u128, token: &str, email: &str, second: i64) -> WorkspaceCommand {
    WorkspaceCommand::AcceptInvitation {
        invitation_id: invitation(n),
        token_hash: token.to_owned(),
        user_id: user(n),
        email: email.to_owned(),
        at: at(second),
    }
}

fn new_key(role: Role, by: Role) -> NewApiKey {
    NewApiKey {
        key_id: key(1),
        name: "CI".to_owned(),
        role,
        secret_hash: "secret-hash".to_owned(),
        expires_at: None,
        created_by: user(0),
        by,
        at: at(5),
    }
}

fn issued(role: Role) -> WorkspaceEvent {
    WorkspaceEvent::ApiKeyIssued {
        key_id: key(1),
        name: "CI".to_owned(),
        role,
        secret_hash: "secret-hash".to_owned(),
        expires_at: Some(at(100)),
        created_by: user(0),
        at: at(5),
    }
}

#[test]
fn creating_a_workspace_makes_its_creator_the_owner() {
    AggregateTester::<Workspace>::given_no_previous_events()
        .when(WorkspaceCommand::Create {
            workspace_id: workspace_id(),
            name: "  Acme ".to_owned(),
            owner: user(0),
            at: at(0),
        })
        .then_expect_events(vec![created()]);
    let workspace = Workspace::from_events([created()]);
    assert_eq!(workspace.role_of(user(0)), Some(Role::Owner));
    assert_eq!(workspace.name(), "Acme");
}

#[test]
fn a_workspace_needs_a_name_and_is_created_once() {
    AggregateTester::<Workspace>::given_no_previous_events()
        .when(WorkspaceCommand::Create {
            workspace_id: workspace_id(),
            name: " ".to_owned(),
            owner: user(0),
            at: at(0),
        })
        .then_expect_error(|e| *e == WorkspaceError::InvalidName);
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::Create {
            workspace_id: workspace_id(),
            name: "Again".to_owned(),
            owner: user(1),
            at: at(0),
        })
        .then_expect_error(|e| *e == WorkspaceError::AlreadyExists);
}

#[test]
fn an_invitation_taken_up_with_its_token_adds_the_member_with_its_role() {
    AggregateTester::<Workspace>::given(vec![
        created(),
        invited(1, "bo@example.com", Role::Editor),
    ])
    .when(accept(1, "token-1", "bo@example.com", 3))
    .then_expect_events(vec![WorkspaceEvent::MemberJoined {
        user_id: user(1),
        role: Role::Editor,
        invitation_id: invitation(1),
        at: at(3),
    }]);
}

#[test]
fn an_invitation_with_a_wrong_token_lapsed_or_used_is_refused_alike() {
    let given = || vec![created(), invited(1, "bo@example.com", Role::Editor)];
    let invalid = |e: &WorkspaceError| *e == WorkspaceError::InvalidInvitation(invitation(1));
    AggregateTester::<Workspace>::given(given())
        .when(accept(1, "token-2", "bo@example.com", 3))
        .then_expect_error(invalid);
    AggregateTester::<Workspace>::given(given())
        .when(accept(1, "token-1", "bo@example.com", 1_000))
        .then_expect_error(invalid);
    let mut used = given();
    used.push(joined(1, Role::Editor));
    AggregateTester::<Workspace>::given(used)
        .when(accept(1, "token-1", "bo@example.com", 3))
        .then_expect_error(invalid);
    AggregateTester::<Workspace>::given(given())
        .when(accept(1, "token-1", "eve@example.com", 3))
        .then_expect_error(|e| *e == WorkspaceError::InvitationForAnotherAddress);
}

#[test]
fn only_an_owner_invites_an_owner() {
    let invite = |by| WorkspaceCommand::Invite {
        invitation_id: invitation(1),
        email: "bo@example.com".to_owned(),
        role: Role::Owner,
        token_hash: "t".to_owned(),
        expires_at: at(100),
        by,
        at: at(1),
    };
    AggregateTester::<Workspace>::given(vec![created()])
        .when(invite(Role::Admin))
        .then_expect_error(|e| *e == WorkspaceError::NotAllowed(Permission::Own));
    assert!(AggregateTester::<Workspace>::given(vec![created()])
        .when(invite(Role::Owner))
        .inspect_result()
        .is_ok());
}

#[test]
fn an_admin_manages_members_but_not_owners() {
    let given = vec![
        created(),
        invited(1, "a@example.com", Role::Admin),
        joined(1, Role::Admin),
        invited(2, "e@example.com", Role::Editor),
        joined(2, Role::Editor),
    ];
    AggregateTester::<Workspace>::given(given.clone())
        .when(WorkspaceCommand::ChangeRole {
            user_id: user(2),
            role: Role::Viewer,
            by: Role::Admin,
        })
        .then_expect_events(vec![WorkspaceEvent::MemberRoleChanged {
            user_id: user(2),
            role: Role::Viewer,
        }]);
    AggregateTester::<Workspace>::given(given.clone())
        .when(WorkspaceCommand::ChangeRole {
            user_id: user(2),
            role: Role::Owner,
            by: Role::Admin,
        })
        .then_expect_error(|e| *e == WorkspaceError::NotAllowed(Permission::Own));
    AggregateTester::<Workspace>::given(given.clone())
        .when(WorkspaceCommand::RemoveMember {
            user_id: user(0),
            by: Role::Admin,
        })
        .then_expect_error(|e| *e == WorkspaceError::NotAllowed(Permission::Own));
    AggregateTester::<Workspace>::given(given)
        .when(WorkspaceCommand::RemoveMember {
            user_id: user(2),
            by: Role::Editor,
        })
        .then_expect_error(|e| *e == WorkspaceError::NotAllowed(Permission::Administer));
}

#[test]
fn the_last_owner_can_neither_leave_nor_step_down() {
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::RemoveMember {
            user_id: user(0),
            by: Role::Owner,
        })
        .then_expect_error(|e| *e == WorkspaceError::LastOwner);
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::ChangeRole {
            user_id: user(0),
            role: Role::Admin,
            by: Role::Owner,
        })
        .then_expect_error(|e| *e == WorkspaceError::LastOwner);
    AggregateTester::<Workspace>::given(vec![
        created(),
        invited(1, "o@example.com", Role::Owner),
        joined(1, Role::Owner),
    ])
    .when(WorkspaceCommand::RemoveMember {
        user_id: user(0),
        by: Role::Owner,
    })
    .then_expect_events(vec![WorkspaceEvent::MemberRemoved { user_id: user(0) }]);
}

#[test]
fn api_keys_are_issued_by_admins_and_never_act_as_owner() {
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::IssueApiKey(new_key(
            Role::Editor,
            Role::Admin,
        )))
        .then_expect_events(vec![WorkspaceEvent::ApiKeyIssued {
            key_id: key(1),
            name: "CI".to_owned(),
            role: Role::Editor,
            secret_hash: "secret-hash".to_owned(),
            expires_at: None,
            created_by: user(0),
            at: at(5),
        }]);
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::IssueApiKey(new_key(
            Role::Owner,
            Role::Owner,
        )))
        .then_expect_error(|e| *e == WorkspaceError::OwnerKey);
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::IssueApiKey(new_key(
            Role::Viewer,
            Role::Editor,
        )))
        .then_expect_error(|e| *e == WorkspaceError::NotAllowed(Permission::Administer));
    AggregateTester::<Workspace>::given(vec![created()])
        .when(WorkspaceCommand::IssueApiKey(NewApiKey {
            expires_at: Some(at(5)),
            ..new_key(Role::Viewer, Role::Owner)
        }))
        .then_expect_error(|e| *e == WorkspaceError::ExpiryInThePast);
}

#[test]
fn a_key_accepts_its_own_secret_until_it_expires_or_is_revoked() {
    let workspace = Workspace::from_events([created(), issued(Role::Runner)]);
    let stored = &workspace.api_keys()[&key(1)];
    assert!(stored.accepts("secret-hash", at(99)));
    assert!(!stored.accepts("secret-hash", at(100)), "expired");
    assert!(!stored.accepts("secret-hasH", at(99)), "another secret");
    assert!(!stored.accepts("secret", at(99)), "another length");
    let revoked = Workspace::from_events([
        created(),
        issued(Role::Runner),
        WorkspaceEvent::ApiKeyRevoked {
            key_id: key(1),
            at: at(6),
        },
    ]);
    assert!(revoked.api_keys().is_empty());
    AggregateTester::<Workspace>::given(vec![
        created(),
        issued(Role::Runner),
        WorkspaceEvent::ApiKeyRevoked {
            key_id: key(1),
            at: at(6),
        },
    ])
    .when(WorkspaceCommand::RevokeApiKey {
        key_id: key(1),
        at: at(7),
    })
    .then_expect_error(|e| *e == WorkspaceError::NoSuchApiKey(key(1)));
}

#[test]
fn a_keys_use_is_recorded_at_most_once_per_precision_window() {
    let used = WorkspaceEvent::ApiKeyUsed {
        key_id: key(1),
        at: at(10),
    };
    AggregateTester::<Workspace>::given(vec![created(), issued(Role::Viewer)])
        .when(WorkspaceCommand::RecordApiKeyUse {
            key_id: key(1),
            at: at(10),
        })
        .then_expect_events(vec![used.clone()]);
    AggregateTester::<Workspace>::given(vec![created(), issued(Role::Viewer), used.clone()])
        .when(WorkspaceCommand::RecordApiKeyUse {
            key_id: key(1),
            at: at(10) + API_KEY_USE_PRECISION - TimeDelta::seconds(1),
        })
        .then_expect_no_events();
    AggregateTester::<Workspace>::given(vec![created(), issued(Role::Viewer), used])
        .when(WorkspaceCommand::RecordApiKeyUse {
            key_id: key(1),
            at: at(10) + API_KEY_USE_PRECISION,
        })
        .then_expect_events(vec![WorkspaceEvent::ApiKeyUsed {
            key_id: key(1),
            at: at(10) + API_KEY_USE_PRECISION,
        }]);
}

#[test]
fn the_installation_has_exactly_one_first_owner() {
    let claim = |n| ClaimFirstOwner {
        user_id: user(n),
        workspace_id: workspace_id(),
    };
    let claimed = FirstOwnerEvent::Claimed {
        user_id: user(0),
        workspace_id: workspace_id(),
    };
    AggregateTester::<FirstOwner>::given_no_previous_events()
        .when(claim(0))
        .then_expect_events(vec![claimed.clone()]);
    AggregateTester::<FirstOwner>::given(vec![claimed.clone()])
        .when(claim(0))
        .then_expect_no_events();
    AggregateTester::<FirstOwner>::given(vec![claimed])
        .when(claim(1))
        .then_expect_error(|e| *e == WorkspaceError::AlreadyExists);
}

#[test]
fn roles_allow_nested_sets_of_permissions() {
    use Permission::{Administer, Edit, Own, Read, Run};
    let allowed = |role: Role| -> Vec<Permission> {
        [Read, Run, Edit, Administer, Own]
            .into_iter()
            .filter(|p| role.allows(*p))
            .collect()
    };
    assert_eq!(allowed(Role::Owner), [Read, Run, Edit, Administer, Own]);
    assert_eq!(allowed(Role::Admin), [Read, Run, Edit, Administer]);
    assert_eq!(allowed(Role::Editor), [Read, Run, Edit]);
    assert_eq!(allowed(Role::Viewer), [Read]);
    assert_eq!(allowed(Role::Runner), [Run]);
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::iter().collect::<Vec<_>>())
}

fn membership_command() -> impl Strategy<Value = WorkspaceCommand> {
    let member = (0u128..4).prop_map(user);
    prop_oneof![
        (member.clone(), role(), role())
            .prop_map(|(user_id, role, by)| WorkspaceCommand::ChangeRole { user_id, role, by }),
        (member, role()).prop_map(|(user_id, by)| WorkspaceCommand::RemoveMember { user_id, by }),
    ]
}

proptest! {
    /// Whatever members do to each other, in any order, the workspace
    /// keeps an owner.
    #[test]
    fn a_workspace_always_keeps_an_owner(commands in prop::collection::vec(membership_command(), 0..40)) {
        let mut workspace = Workspace::from_events([
            created(),
            invited(1, "a@example.com", Role::Admin),
            joined(1, Role::Admin),
            invited(2, "o@example.com", Role::Owner),
            joined(2, Role::Owner),
            invited(3, "v@example.com", Role::Viewer),
            joined(3, Role::Viewer),
        ]);
        for command in commands {
            if let Ok(events) = workspace.handle(command) {
                for event in events {
                    workspace.apply(event);
                }
            }
            prop_assert!(workspace.members().values().any(|r| *r == Role::Owner));
        }
    }
}

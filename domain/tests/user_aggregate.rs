//! Given/when/then tests of the User aggregate: registration, sign-in
//! failures and the lock they lead to, sessions whose refresh tokens rotate
//! on every use (and are revoked whole when a rotated token comes back),
//! signing out, a password change ending every other session, and the
//! TOTP second factor with its single-use codes.

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::{
    user::{
        SecondFactor, SecondFactorProof, SessionEndReason, SessionId, User, UserCommand, UserError,
        UserEvent, UserId, LOCKOUT, MAX_FAILED_SIGN_INS,
    },
    Aggregate, AggregateTester,
};
use proptest::prelude::*;
use uuid::Uuid;

fn at(second: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(second)
}

fn user_id() -> UserId {
    UserId::from_uuid(Uuid::from_u128(1))
}

fn session(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(100 + n))
}

fn registered() -> UserEvent {
    UserEvent::Registered {
        user_id: user_id(),
        email: "ada@example.com".to_owned(),
        name: "Ada".to_owned(),
        password_hash: "$argon2id$v=19$first".to_owned(),
        at: at(0),
    }
}

fn started(n: u128, token: &str) -> UserEvent {
    UserEvent::SessionStarted {
        session_id: session(n),
        refresh_token_hash: token.to_owned(),
        expires_at: at(10_000),
        source: None,
        second_factor: None,
        at: at(1),
    }
}

fn failed(consecutive: u32, second: i64) -> UserEvent {
    UserEvent::SignInFailed {
        source: Some("10.0.0.9".to_owned()),
        consecutive,
        locked_until: None,
        at: at(second),
    }
}

fn rotate(n: u128, presented: &str, new: &str, second: i64) -> UserCommand {
    UserCommand::RotateRefreshToken {
        session_id: session(n),
        presented_hash: presented.to_owned(),
        new_hash: new.to_owned(),
        expires_at: at(20_000),
        at: at(second),
    }
}

mod registration {
    use super::*;

    #[test]
    fn an_account_is_registered_with_its_address_lower_cased() {
        AggregateTester::<User>::given_no_previous_events()
            .when(UserCommand::Register {
                user_id: user_id(),
                email: "  Ada@Example.COM ".to_owned(),
                name: " Ada ".to_owned(),
                password_hash: "$argon2id$v=19$first".to_owned(),
                at: at(0),
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn registering_twice_is_refused() {
        AggregateTester::<User>::given(vec![registered()])
            .when(UserCommand::Register {
                user_id: user_id(),
                email: "ada@example.com".to_owned(),
                name: "Ada".to_owned(),
                password_hash: "x".to_owned(),
                at: at(2),
            })
            .then_expect_error(|e| *e == UserError::AlreadyRegistered);
    }

    #[test]
    fn addresses_and_names_that_are_not_are_refused() {
        for email in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            AggregateTester::<User>::given_no_previous_events()
                .when(UserCommand::Register {
                    user_id: user_id(),
                    email: email.to_owned(),
                    name: "Ada".to_owned(),
                    password_hash: "x".to_owned(),
                    at: at(0),
                })
                .then_expect_error(|e| matches!(e, UserError::InvalidEmail(_)));
        }
        for name in ["", "   ", &"n".repeat(201)] {
            AggregateTester::<User>::given_no_previous_events()
                .when(UserCommand::Register {
                    user_id: user_id(),
                    email: "ada@example.com".to_owned(),
                    name: name.to_owned(),
                    password_hash: "x".to_owned(),
                    at: at(0),
                })
                .then_expect_error(|e| *e == UserError::InvalidName);
        }
    }

    #[test]
    fn commands_to_an_account_that_does_not_exist_are_refused() {
        AggregateTester::<User>::given_no_previous_events()
            .when(UserCommand::RecordFailedSignIn {
                source: None,
                at: at(0),
            })
            .then_expect_error(|e| *e == UserError::NotFound);
    }
}

mod lockout {
    use super::*;

    fn failures(count: u32) -> Vec<UserEvent> {
        let mut history = vec![registered()];
        history.extend((1..=count).map(|n| failed(n, i64::from(n))));
        history
    }

    #[test]
    fn the_failure_that_reaches_the_limit_locks_the_account() {
        AggregateTester::<User>::given(failures(MAX_FAILED_SIGN_INS - 1))
            .when(UserCommand::RecordFailedSignIn {
                source: None,
                at: at(100),
            })
            .then_expect_events(vec![UserEvent::SignInFailed {
                source: None,
                consecutive: MAX_FAILED_SIGN_INS,
                locked_until: Some(at(100) + LOCKOUT),
                at: at(100),
            }]);
    }

    #[test]
    fn a_locked_account_refuses_even_the_right_password_until_the_lock_runs_out() {
        let mut history = failures(MAX_FAILED_SIGN_INS - 1);
        history.push(UserEvent::SignInFailed {
            source: None,
            consecutive: MAX_FAILED_SIGN_INS,
            locked_until: Some(at(100) + LOCKOUT),
            at: at(100),
        });
        let sign_in = |second| UserCommand::StartSession {
            session_id: session(1),
            refresh_token_hash: "t1".to_owned(),
            expires_at: at(second + 1000),
            source: None,
            second_factor: None,
            at: at(second),
        };
        AggregateTester::<User>::given(history.clone())
            .when(sign_in(160))
            .then_expect_error(|e| {
                *e == UserError::Locked {
                    retry_after_secs: 840,
                }
            });
        let after = 100 + LOCKOUT.num_seconds();
        AggregateTester::<User>::given(history)
            .when(sign_in(after))
            .then_expect_events(vec![UserEvent::SessionStarted {
                session_id: session(1),
                refresh_token_hash: "t1".to_owned(),
                expires_at: at(after + 1000),
                source: None,
                second_factor: None,
                at: at(after),
            }]);
    }

    #[test]
    fn a_successful_sign_in_starts_the_count_again() {
        let mut history = failures(MAX_FAILED_SIGN_INS - 1);
        history.push(started(1, "t1"));
        AggregateTester::<User>::given(history)
            .when(UserCommand::RecordFailedSignIn {
                source: None,
                at: at(50),
            })
            .then_expect_events(vec![UserEvent::SignInFailed {
                source: None,
                consecutive: 1,
                locked_until: None,
                at: at(50),
            }]);
    }
}

mod refresh_tokens {
    use super::*;

    #[test]
    fn the_current_token_is_exchanged_for_a_new_one() {
        AggregateTester::<User>::given(vec![registered(), started(1, "t1")])
            .when(rotate(1, "t1", "t2", 5))
            .then_expect_events(vec![UserEvent::RefreshTokenRotated {
                session_id: session(1),
                refresh_token_hash: "t2".to_owned(),
                expires_at: at(20_000),
                at: at(5),
            }]);
    }

    #[test]
    fn a_rotated_token_presented_again_ends_the_whole_session() {
        let rotated = UserEvent::RefreshTokenRotated {
            session_id: session(1),
            refresh_token_hash: "t2".to_owned(),
            expires_at: at(20_000),
            at: at(5),
        };
        AggregateTester::<User>::given(vec![registered(), started(1, "t1"), rotated])
            .when(rotate(1, "t1", "t3", 6))
            .then_expect_events(vec![UserEvent::SessionEnded {
                session_id: session(1),
                reason: SessionEndReason::TokenReuse,
                at: at(6),
            }]);
    }

    #[test]
    fn a_token_the_session_never_had_is_refused_and_ends_nothing() {
        AggregateTester::<User>::given(vec![registered(), started(1, "t1")])
            .when(rotate(1, "forged", "t2", 5))
            .then_expect_error(|e| *e == UserError::InvalidRefreshToken);
    }

    #[test]
    fn an_expired_token_is_refused() {
        AggregateTester::<User>::given(vec![registered(), started(1, "t1")])
            .when(rotate(1, "t1", "t2", 10_000))
            .then_expect_error(|e| *e == UserError::SessionExpired);
    }

    #[test]
    fn a_signed_out_session_cannot_be_refreshed() {
        let ended = UserEvent::SessionEnded {
            session_id: session(1),
            reason: SessionEndReason::SignedOut,
            at: at(3),
        };
        AggregateTester::<User>::given(vec![registered(), started(1, "t1"), ended])
            .when(rotate(1, "t1", "t2", 5))
            .then_expect_error(|e| *e == UserError::NoSuchSession(session(1)));
    }
}

mod sessions {
    use super::*;

    #[test]
    fn signing_out_ends_that_session_only() {
        AggregateTester::<User>::given(vec![registered(), started(1, "a"), started(2, "b")])
            .when(UserCommand::EndSession {
                session_id: session(2),
                at: at(9),
            })
            .then_expect_events(vec![UserEvent::SessionEnded {
                session_id: session(2),
                reason: SessionEndReason::SignedOut,
                at: at(9),
            }]);
    }

    #[test]
    fn a_password_change_ends_every_other_session() {
        AggregateTester::<User>::given(vec![
            registered(),
            started(1, "a"),
            started(2, "b"),
            started(3, "c"),
        ])
        .when(UserCommand::ChangePassword {
            password_hash: "$argon2id$v=19$second".to_owned(),
            keep: Some(session(2)),
            at: at(9),
        })
        .then_expect_events(vec![
            UserEvent::PasswordChanged {
                password_hash: "$argon2id$v=19$second".to_owned(),
                at: at(9),
            },
            UserEvent::SessionEnded {
                session_id: session(1),
                reason: SessionEndReason::PasswordChanged,
                at: at(9),
            },
            UserEvent::SessionEnded {
                session_id: session(3),
                reason: SessionEndReason::PasswordChanged,
                at: at(9),
            },
        ]);
    }
}

proptest! {
    /// However refreshes and replays interleave, a session accepts only its
    /// newest token, and the first replay of an older one ends it whole.
    #[test]
    fn only_the_newest_token_works_and_a_replay_ends_the_family(
        steps in proptest::collection::vec(any::<Option<u8>>(), 1..30)
    ) {
        // None presents the newest token; Some(k) replays an older one.
        let mut user = User::from_events(vec![registered(), started(1, "t0")]);
        let mut newest = 0usize;
        for (step, choice) in steps.into_iter().enumerate() {
            let second = 10 + i64::try_from(step).expect("few steps");
            let presented = match choice {
                Some(k) if newest > 0 => usize::from(k) % newest,
                _ => newest,
            };
            let events = user
                .handle(rotate(1, &format!("t{presented}"), &format!("t{}", newest + 1), second))
                .expect("a live session decides");
            let replayed = presented != newest;
            if replayed {
                let ended = matches!(
                    events.as_slice(),
                    [UserEvent::SessionEnded { reason: SessionEndReason::TokenReuse, .. }]
                );
                prop_assert!(ended, "{:?}", events);
            } else {
                let rotated = matches!(events.as_slice(), [UserEvent::RefreshTokenRotated { .. }]);
                prop_assert!(rotated, "{:?}", events);
                newest += 1;
            }
            for event in events {
                user.apply(event);
            }
            prop_assert_eq!(user.sessions().is_empty(), replayed);
            if replayed {
                break;
            }
        }
    }
}

mod email_claims {
    use flowforge_domain::user::{ClaimEmail, EmailClaim, EmailClaimEvent};

    use super::*;

    fn claim(user: u128) -> ClaimEmail {
        ClaimEmail {
            email: "ada@example.com".to_owned(),
            user_id: UserId::from_uuid(Uuid::from_u128(user)),
            replacing: None,
        }
    }

    #[test]
    fn a_claim_passes_only_from_the_holder_the_edge_names() {
        let held = EmailClaimEvent::Claimed {
            email: "ada@example.com".to_owned(),
            user_id: user_id(),
        };
        AggregateTester::<EmailClaim>::given(vec![held.clone()])
            .when(ClaimEmail {
                replacing: Some(user_id()),
                ..claim(2)
            })
            .then_expect_events(vec![EmailClaimEvent::Claimed {
                email: "ada@example.com".to_owned(),
                user_id: UserId::from_uuid(Uuid::from_u128(2)),
            }]);
        AggregateTester::<EmailClaim>::given(vec![held])
            .when(ClaimEmail {
                replacing: Some(UserId::from_uuid(Uuid::from_u128(3))),
                ..claim(2)
            })
            .then_expect_error(|e| *e == UserError::EmailTaken);
    }

    #[test]
    fn the_first_account_gets_the_address_and_another_is_refused() {
        AggregateTester::<EmailClaim>::given_no_previous_events()
            .when(claim(1))
            .then_expect_events(vec![EmailClaimEvent::Claimed {
                email: "ada@example.com".to_owned(),
                user_id: user_id(),
            }]);
        let held = EmailClaimEvent::Claimed {
            email: "ada@example.com".to_owned(),
            user_id: user_id(),
        };
        AggregateTester::<EmailClaim>::given(vec![held.clone()])
            .when(claim(2))
            .then_expect_error(|e| *e == UserError::EmailTaken);
        AggregateTester::<EmailClaim>::given(vec![held])
            .when(claim(1))
            .then_expect_no_events();
    }
}

#[test]
fn an_account_keeps_its_workspaces_in_the_order_it_joined_them() {
    use flowforge_domain::workspace::WorkspaceId;
    let workspace = |n: u128| WorkspaceId::from_uuid(Uuid::from_u128(500 + n));
    let joined = |n: u128| UserEvent::JoinedWorkspace {
        workspace_id: workspace(n),
    };
    AggregateTester::<User>::given(vec![registered()])
        .when(UserCommand::JoinWorkspace {
            workspace_id: workspace(1),
        })
        .then_expect_events(vec![joined(1)]);
    AggregateTester::<User>::given(vec![registered(), joined(1)])
        .when(UserCommand::JoinWorkspace {
            workspace_id: workspace(1),
        })
        .then_expect_no_events();
    AggregateTester::<User>::given(vec![registered(), joined(1)])
        .when(UserCommand::LeaveWorkspace {
            workspace_id: workspace(2),
        })
        .then_expect_no_events();
    let user = User::from_events([registered(), joined(2), joined(1)]);
    assert_eq!(user.workspaces(), [workspace(2), workspace(1)]);
    let left = User::from_events([
        registered(),
        joined(2),
        joined(1),
        UserEvent::LeftWorkspace {
            workspace_id: workspace(2),
        },
    ]);
    assert_eq!(left.workspaces(), [workspace(1)]);
}

mod second_factor {
    use super::*;

    fn enrolling() -> UserEvent {
        UserEvent::TotpEnrolmentBegun {
            sealed_secret: "sealed".to_owned(),
            at: at(2),
        }
    }

    fn enabled(step: u64) -> UserEvent {
        UserEvent::TotpEnabled {
            recovery_code_hashes: vec!["r1".to_owned(), "r2".to_owned()],
            step,
            at: at(3),
        }
    }

    fn sign_in(second_factor: Option<SecondFactorProof>) -> UserCommand {
        UserCommand::StartSession {
            session_id: session(1),
            refresh_token_hash: "t1".to_owned(),
            expires_at: at(10_000),
            source: None,
            second_factor,
            at: at(5),
        }
    }

    fn totp(step: u64) -> Option<SecondFactorProof> {
        Some(SecondFactorProof::Totp { step })
    }

    fn recovery(hash: &str) -> Option<SecondFactorProof> {
        Some(SecondFactorProof::RecoveryCode {
            hash: hash.to_owned(),
        })
    }

    fn session_with(second_factor: Option<SecondFactorProof>) -> UserEvent {
        UserEvent::SessionStarted {
            session_id: session(1),
            refresh_token_hash: "t1".to_owned(),
            expires_at: at(10_000),
            source: None,
            second_factor,
            at: at(5),
        }
    }

    #[test]
    fn an_enrolment_is_on_only_once_a_code_confirms_it() {
        AggregateTester::<User>::given(vec![registered()])
            .when(UserCommand::ConfirmTotp {
                step: 7,
                recovery_code_hashes: Vec::new(),
                at: at(3),
            })
            .then_expect_error(|e| *e == UserError::NotEnrolling);
        AggregateTester::<User>::given(vec![registered(), enrolling()])
            .when(sign_in(None))
            .then_expect_events(vec![session_with(None)]);
        AggregateTester::<User>::given(vec![registered(), enrolling()])
            .when(UserCommand::ConfirmTotp {
                step: 7,
                recovery_code_hashes: vec!["r1".to_owned(), "r2".to_owned()],
                at: at(3),
            })
            .then_expect_events(vec![enabled(7)]);
        let user = User::from_events([registered(), enrolling(), enabled(7)]);
        assert_eq!(
            user.second_factor(),
            &SecondFactor::On {
                sealed_secret: "sealed".to_owned(),
                recovery_code_hashes: vec!["r1".to_owned(), "r2".to_owned()],
                last_step: 7,
            }
        );
        AggregateTester::<User>::given(vec![registered(), enrolling(), enabled(7)])
            .when(UserCommand::BeginTotpEnrolment {
                sealed_secret: "other".to_owned(),
                at: at(4),
            })
            .then_expect_error(|e| *e == UserError::SecondFactorAlreadyOn);
    }

    #[test]
    fn a_sign_in_needs_a_code_whose_step_is_new() {
        let on = vec![registered(), enrolling(), enabled(7)];
        AggregateTester::<User>::given(on.clone())
            .when(sign_in(None))
            .then_expect_error(|e| *e == UserError::SecondFactorRequired);
        for used in [6, 7] {
            AggregateTester::<User>::given(on.clone())
                .when(sign_in(totp(used)))
                .then_expect_error(|e| *e == UserError::InvalidSecondFactor);
        }
        AggregateTester::<User>::given(on.clone())
            .when(sign_in(totp(8)))
            .then_expect_events(vec![session_with(totp(8))]);
        let mut after = on;
        after.push(session_with(totp(8)));
        AggregateTester::<User>::given(after)
            .when(sign_in(totp(8)))
            .then_expect_error(|e| *e == UserError::InvalidSecondFactor);
    }

    #[test]
    fn a_recovery_code_opens_the_account_once() {
        let on = vec![registered(), enrolling(), enabled(7)];
        AggregateTester::<User>::given(on.clone())
            .when(sign_in(recovery("nope")))
            .then_expect_error(|e| *e == UserError::InvalidSecondFactor);
        AggregateTester::<User>::given(on.clone())
            .when(sign_in(recovery("r2")))
            .then_expect_events(vec![session_with(recovery("r2"))]);
        let mut after = on;
        after.push(session_with(recovery("r2")));
        let user = User::from_events(after.clone());
        assert!(user.second_factor().has_recovery_code("r1"));
        assert!(!user.second_factor().has_recovery_code("r2"));
        AggregateTester::<User>::given(after)
            .when(sign_in(recovery("r2")))
            .then_expect_error(|e| *e == UserError::InvalidSecondFactor);
    }

    #[test]
    fn turning_it_off_needs_a_good_code_and_then_a_password_signs_in() {
        AggregateTester::<User>::given(vec![registered()])
            .when(UserCommand::DisableTotp {
                proof: SecondFactorProof::Totp { step: 9 },
                at: at(6),
            })
            .then_expect_error(|e| *e == UserError::SecondFactorOff);
        let on = vec![registered(), enrolling(), enabled(7)];
        AggregateTester::<User>::given(on.clone())
            .when(UserCommand::DisableTotp {
                proof: SecondFactorProof::Totp { step: 7 },
                at: at(6),
            })
            .then_expect_error(|e| *e == UserError::InvalidSecondFactor);
        AggregateTester::<User>::given(on.clone())
            .when(UserCommand::DisableTotp {
                proof: SecondFactorProof::RecoveryCode {
                    hash: "r1".to_owned(),
                },
                at: at(6),
            })
            .then_expect_events(vec![UserEvent::TotpDisabled { at: at(6) }]);
        let mut off = on;
        off.push(UserEvent::TotpDisabled { at: at(6) });
        AggregateTester::<User>::given(off)
            .when(sign_in(totp(3)))
            .then_expect_events(vec![session_with(None)]);
    }

    #[test]
    fn sessions_recorded_before_second_factors_existed_still_read() {
        let event: UserEvent = serde_json::from_value(serde_json::json!({
            "type": "UserSessionStarted",
            "data": {"session_id": session(1), "refresh_token_hash": "t1",
                     "expires_at": at(10_000), "source": null, "at": at(5)}
        }))
        .expect("an old event reads");
        assert_eq!(event, session_with(None));
    }
}

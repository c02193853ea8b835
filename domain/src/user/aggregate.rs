//! The account's state and its decisions.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{SecondFactor, SessionEndReason, SessionId, UserCommand, UserError, UserEvent, UserId};
use crate::{aggregate::Aggregate, workspace::WorkspaceId};

/// Failed sign-ins in a row that lock the account.
pub const MAX_FAILED_SIGN_INS: u32 = 5;
/// How long a lock holds.
pub const LOCKOUT: Duration = Duration::minutes(15);
/// The longest display name.
const MAX_NAME_CHARS: usize = 200;
/// The longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// One live session: its current refresh token and the ones it rotated away.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// SHA-256 of the token that works now.
    pub current_hash: String,
    /// SHA-256 of every token rotated away, to recognise reuse.
    pub rotated_hashes: Vec<String>,
    /// When the current token stops working.
    pub expires_at: DateTime<Utc>,
    /// When the session began.
    pub started_at: DateTime<Utc>,
    /// Where it began.
    pub source: Option<String>,
}

/// An account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    id: Option<UserId>,
    email: String,
    name: String,
    password_hash: String,
    sessions: BTreeMap<SessionId, Session>,
    failed_in_a_row: u32,
    locked_until: Option<DateTime<Utc>>,
    workspaces: Vec<WorkspaceId>,
    second_factor: SecondFactor,
}

impl User {
    /// Whether the account exists.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Its id, once registered.
    pub fn id(&self) -> Option<UserId> {
        self.id
    }

    /// Its e-mail address, lower-cased.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// Its display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The password's Argon2id hash, for the edge to verify a sign-in against.
    pub fn password_hash(&self) -> &str {
        &self.password_hash
    }

    /// The live sessions.
    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    /// The workspaces the account belongs to, in the order it joined them:
    /// the first is where a new session starts.
    pub fn workspaces(&self) -> &[WorkspaceId] {
        &self.workspaces
    }

    /// Where the account's second factor stands.
    pub fn second_factor(&self) -> &SecondFactor {
        &self.second_factor
    }

    /// Until when sign-ins are refused, if the account is locked at `now`.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    fn existing(&self) -> Result<(), UserError> {
        if self.exists() {
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    fn unlocked(&self, at: DateTime<Utc>) -> Result<(), UserError> {
        match self.locked_until(at) {
            Some(until) => Err(UserError::Locked {
                retry_after_secs: (until - at).num_seconds().max(1),
            }),
            None => Ok(()),
        }
    }

    fn register(
        &self,
        user_id: UserId,
        email: String,
        name: String,
        password_hash: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if self.exists() {
            return Err(UserError::AlreadyRegistered);
        }
        let email = normalise_email(&email)?;
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(UserError::InvalidName);
        }
        Ok(vec![UserEvent::Registered {
            user_id,
            email,
            name,
            password_hash,
            at,
        }])
    }

    fn failed_sign_in(
        &self,
        source: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.existing()?;
        // A lock that has run out starts the count again.
        let before = if self.locked_until.is_some_and(|until| until <= at) {
            0
        } else {
            self.failed_in_a_row
        };
        let consecutive = before + 1;
        let locked_until = (consecutive >= MAX_FAILED_SIGN_INS && self.locked_until(at).is_none())
            .then(|| at + LOCKOUT);
        Ok(vec![UserEvent::SignInFailed {
            source,
            consecutive,
            locked_until,
            at,
        }])
    }

    fn rotate(
        &self,
        session_id: SessionId,
        presented_hash: &str,
        new_hash: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.existing()?;
        let session = self
            .sessions
            .get(&session_id)
            .ok_or(UserError::NoSuchSession(session_id))?;
        if session.rotated_hashes.iter().any(|h| h == presented_hash) {
            return Ok(vec![UserEvent::SessionEnded {
                session_id,
                reason: SessionEndReason::TokenReuse,
                at,
            }]);
        }
        if session.current_hash != presented_hash {
            return Err(UserError::InvalidRefreshToken);
        }
        if session.expires_at <= at {
            return Err(UserError::SessionExpired);
        }
        Ok(vec![UserEvent::RefreshTokenRotated {
            session_id,
            refresh_token_hash: new_hash,
            expires_at,
            at,
        }])
    }
}

/// The address lower-cased and trimmed, if it looks like one: something,
/// an `@`, a domain with a dot, no spaces. The edge derives an address's
/// [`EmailClaim`](super::EmailClaim) stream from this form.
///
/// # Errors
/// [`UserError::InvalidEmail`] when it does not look like an address.
pub fn normalise_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(UserError::InvalidEmail(email))
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn handle(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Register {
                user_id,
                email,
                name,
                password_hash,
                at,
            } => self.register(user_id, email, name, password_hash, at),
            UserCommand::RecordFailedSignIn { source, at } => self.failed_sign_in(source, at),
            UserCommand::StartSession {
                session_id,
                refresh_token_hash,
                expires_at,
                source,
                second_factor,
                at,
            } => {
                self.existing()?;
                self.unlocked(at)?;
                self.second_factor.admits(second_factor.as_ref())?;
                Ok(vec![UserEvent::SessionStarted {
                    session_id,
                    refresh_token_hash,
                    expires_at,
                    source,
                    second_factor: second_factor.filter(|_| self.second_factor.is_on()),
                    at,
                }])
            }
            UserCommand::RotateRefreshToken {
                session_id,
                presented_hash,
                new_hash,
                expires_at,
                at,
            } => self.rotate(session_id, &presented_hash, new_hash, expires_at, at),
            UserCommand::EndSession { session_id, at } => {
                self.existing()?;
                if !self.sessions.contains_key(&session_id) {
                    return Err(UserError::NoSuchSession(session_id));
                }
                Ok(vec![UserEvent::SessionEnded {
                    session_id,
                    reason: SessionEndReason::SignedOut,
                    at,
                }])
            }
            UserCommand::ChangePassword {
                password_hash,
                keep,
                at,
            } => {
                self.existing()?;
                let mut events = vec![UserEvent::PasswordChanged { password_hash, at }];
                events.extend(self.sessions.keys().filter(|id| Some(**id) != keep).map(
                    |&session_id| UserEvent::SessionEnded {
                        session_id,
                        reason: SessionEndReason::PasswordChanged,
                        at,
                    },
                ));
                Ok(events)
            }
            UserCommand::BeginTotpEnrolment { sealed_secret, at } => {
                self.existing()?;
                if self.second_factor.is_on() {
                    return Err(UserError::SecondFactorAlreadyOn);
                }
                Ok(vec![UserEvent::TotpEnrolmentBegun { sealed_secret, at }])
            }
            UserCommand::ConfirmTotp {
                step,
                recovery_code_hashes,
                at,
            } => {
                self.existing()?;
                match self.second_factor {
                    SecondFactor::Enrolling { .. } => Ok(vec![UserEvent::TotpEnabled {
                        recovery_code_hashes,
                        step,
                        at,
                    }]),
                    SecondFactor::On { .. } => Err(UserError::SecondFactorAlreadyOn),
                    SecondFactor::Off => Err(UserError::NotEnrolling),
                }
            }
            UserCommand::DisableTotp { proof, at } => {
                self.existing()?;
                if !self.second_factor.is_on() {
                    return Err(UserError::SecondFactorOff);
                }
                self.second_factor.admits(Some(&proof))?;
                Ok(vec![UserEvent::TotpDisabled { at }])
            }
            UserCommand::JoinWorkspace { workspace_id } => {
                self.existing()?;
                Ok(if self.workspaces.contains(&workspace_id) {
                    Vec::new()
                } else {
                    vec![UserEvent::JoinedWorkspace { workspace_id }]
                })
            }
            UserCommand::LeaveWorkspace { workspace_id } => {
                self.existing()?;
                Ok(if self.workspaces.contains(&workspace_id) {
                    vec![UserEvent::LeftWorkspace { workspace_id }]
                } else {
                    Vec::new()
                })
            }
        }
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::Registered {
                user_id,
                email,
                name,
                password_hash,
                ..
            } => {
                self.id = Some(user_id);
                self.email = email;
                self.name = name;
                self.password_hash = password_hash;
            }
            UserEvent::SignInFailed {
                consecutive,
                locked_until,
                ..
            } => {
                self.failed_in_a_row = consecutive;
                if locked_until.is_some() {
                    self.locked_until = locked_until;
                }
            }
            UserEvent::SessionStarted {
                session_id,
                refresh_token_hash,
                expires_at,
                source,
                second_factor,
                at,
            } => {
                self.failed_in_a_row = 0;
                self.locked_until = None;
                if let Some(proof) = &second_factor {
                    self.second_factor.spend(proof);
                }
                self.sessions.insert(
                    session_id,
                    Session {
                        current_hash: refresh_token_hash,
                        rotated_hashes: Vec::new(),
                        expires_at,
                        started_at: at,
                        source,
                    },
                );
            }
            UserEvent::RefreshTokenRotated {
                session_id,
                refresh_token_hash,
                expires_at,
                ..
            } => {
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    let old = std::mem::replace(&mut session.current_hash, refresh_token_hash);
                    session.rotated_hashes.push(old);
                    session.expires_at = expires_at;
                }
            }
            UserEvent::SessionEnded { session_id, .. } => {
                self.sessions.remove(&session_id);
            }
            UserEvent::PasswordChanged { password_hash, .. } => {
                self.password_hash = password_hash;
            }
            UserEvent::TotpEnrolmentBegun { sealed_secret, .. } => {
                self.second_factor = SecondFactor::Enrolling { sealed_secret };
            }
            UserEvent::TotpEnabled {
                recovery_code_hashes,
                step,
                ..
            } => {
                if let SecondFactor::Enrolling { sealed_secret } =
                    std::mem::take(&mut self.second_factor)
                {
                    self.second_factor = SecondFactor::On {
                        sealed_secret,
                        recovery_code_hashes,
                        last_step: step,
                    };
                }
            }
            UserEvent::TotpDisabled { .. } => self.second_factor = SecondFactor::Off,
            UserEvent::JoinedWorkspace { workspace_id } => self.workspaces.push(workspace_id),
            UserEvent::LeftWorkspace { workspace_id } => {
                self.workspaces.retain(|w| *w != workspace_id);
            }
        }
    }
}

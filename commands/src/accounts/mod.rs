//! Accounts: register, sign in, refresh a session, sign out. The decisions
//! are the `User` and `EmailClaim` aggregates'; this module does what they
//! must not: hash passwords and tokens, generate ids, and find an account by
//! its address (the address's claim stream names it).
//!
//! Layout: `passwords` (Argon2id, strength checks), `refresh_tokens` (the
//! opaque token and its hash) and the use cases here.

mod passwords;
mod refresh_tokens;

pub use passwords::{Argon2Settings, PasswordError, Passwords, MIN_PASSWORD_CHARS};
pub use refresh_tokens::RefreshToken;

use chrono::{Duration, Utc};
use flowforge_domain::{
    user::{
        normalise_email, ClaimEmail, EmailClaim, SessionId, User, UserCommand, UserError, UserId,
    },
    Aggregate,
};
use flowforge_infra::event_store::EventMetadata;
use uuid::Uuid;

use crate::{CommandBus, CommandError};

/// The namespace of e-mail claim stream ids (a fixed, random UUID).
const EMAIL_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2c8e_93a4_4e7b_b5d0_7a21_c9e3_f048);

/// How old a claim on an address must be before a holder that is no
/// account counts as a registration that stopped half-way.
const ORPHANED_CLAIM_AGE: Duration = Duration::minutes(1);

/// Why an account use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The password is too weak, or could not be hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Wrong address or password: the same answer for both.
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    /// The refresh token is not a live session's current token.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// A refresh token that was already exchanged came back: the session has
    /// been ended, as someone else holds its tokens.
    #[error("this refresh token was already used; the session has been ended")]
    RefreshTokenReused,
    /// The account or its address refused, or the store failed.
    #[error(transparent)]
    User(#[from] CommandError<UserError>),
}

/// A session just opened or refreshed.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// The refresh token to give the client (shown once).
    pub refresh_token: String,
}

/// The account use cases, over the command bus.
#[derive(Clone)]
pub struct Accounts {
    commands: CommandBus,
    passwords: Passwords,
    session_lifetime: Duration,
}

impl Accounts {
    /// Accounts whose sessions last `session_lifetime` from their last refresh.
    pub fn new(commands: CommandBus, passwords: Passwords, session_lifetime: Duration) -> Self {
        Self {
            commands,
            passwords,
            session_lifetime,
        }
    }

    /// Creates an account; refuses a weak password, a bad address or name,
    /// and an address another account holds.
    ///
    /// # Errors
    /// [`AccountError`] saying which.
    pub async fn register(
        &self,
        email: &str,
        name: String,
        password: String,
        metadata: &EventMetadata,
    ) -> Result<UserId, AccountError> {
        Passwords::check_strength(&password)?;
        let user_id = UserId::from_uuid(Uuid::now_v7());
        let email = normalise_email(email).map_err(CommandError::Rejected)?;
        let register = |password_hash| UserCommand::Register {
            user_id,
            email: email.clone(),
            name: name.clone(),
            password_hash,
            at: Utc::now(),
        };
        // Decided once before anything is written, so a bad name cannot
        // leave the address claimed by an account that was never made.
        User::default()
            .handle(register(String::new()))
            .map_err(CommandError::Rejected)?;
        let password_hash = self.passwords.hash(password).await?;
        self.claim_email(&email, user_id, metadata).await?;
        self.commands
            .execute::<User>(
                &user_id.to_string(),
                register(password_hash),
                Some(0),
                metadata,
            )
            .await?;
        Ok(user_id)
    }

    /// Signs in with an address and a password: a new session, or
    /// [`AccountError::InvalidCredentials`] whether the address or the
    /// password was wrong (in the same time). Failures count towards the
    /// account's lock.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`], a locked account's refusal, and
    /// what the store fails with.
    pub async fn sign_in(
        &self,
        email: &str,
        password: String,
        source: Option<String>,
        metadata: &EventMetadata,
    ) -> Result<SignedIn, AccountError> {
        let account = match normalise_email(email) {
            Ok(email) => self.find(&email).await?,
            Err(_) => None,
        };
        let hash = account
            .as_ref()
            .map(|(user, _)| user.password_hash().to_owned());
        let matched = self.passwords.verify(hash, password).await;
        let Some((user, user_id)) = account else {
            return Err(AccountError::InvalidCredentials);
        };
        let at = Utc::now();
        if !matched {
            let command = UserCommand::RecordFailedSignIn { source, at };
            self.commands
                .execute::<User>(&user_id.to_string(), command, None, metadata)
                .await?;
            return Err(AccountError::InvalidCredentials);
        }
        if let Some(until) = user.locked_until(at) {
            let retry_after_secs = (until - at).num_seconds().max(1);
            return Err(CommandError::Rejected(UserError::Locked { retry_after_secs }).into());
        }
        let session_id = SessionId::from_uuid(Uuid::now_v7());
        let token = RefreshToken::mint(user_id, session_id);
        let command = UserCommand::StartSession {
            session_id,
            refresh_token_hash: token.hash(),
            expires_at: at + self.session_lifetime,
            source,
            at,
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(SignedIn {
            user_id,
            session_id,
            refresh_token: token.reveal(),
        })
    }

    /// Exchanges a refresh token for a new one in the same session. A token
    /// already exchanged ends the session.
    ///
    /// # Errors
    /// [`AccountError::InvalidRefreshToken`], [`AccountError::RefreshTokenReused`],
    /// and what the store fails with.
    pub async fn refresh(
        &self,
        presented: &str,
        metadata: &EventMetadata,
    ) -> Result<SignedIn, AccountError> {
        let presented = RefreshToken::parse(presented).ok_or(AccountError::InvalidRefreshToken)?;
        let (user_id, session_id) = (presented.user_id, presented.session_id);
        let next = RefreshToken::mint(user_id, session_id);
        let at = Utc::now();
        let command = UserCommand::RotateRefreshToken {
            session_id,
            presented_hash: presented.hash(),
            new_hash: next.hash(),
            expires_at: at + self.session_lifetime,
            at,
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await
            .map_err(|error| match error {
                CommandError::Rejected(
                    UserError::NotFound
                    | UserError::NoSuchSession(_)
                    | UserError::InvalidRefreshToken
                    | UserError::SessionExpired,
                ) => AccountError::InvalidRefreshToken,
                other => other.into(),
            })?;
        // A rotation keeps the session with the new token; a replay of a
        // rotated token ends it instead.
        let (user, _) = self.commands.load::<User>(&user_id.to_string()).await?;
        let rotated = user
            .sessions()
            .get(&session_id)
            .is_some_and(|session| session.current_hash == next.hash());
        if !rotated {
            return Err(AccountError::RefreshTokenReused);
        }
        Ok(SignedIn {
            user_id,
            session_id,
            refresh_token: next.reveal(),
        })
    }

    /// Ends a session of an account.
    ///
    /// # Errors
    /// The account's refusal (no such session), and what the store fails with.
    pub async fn sign_out(
        &self,
        user_id: UserId,
        session_id: SessionId,
        metadata: &EventMetadata,
    ) -> Result<(), AccountError> {
        let command = UserCommand::EndSession {
            session_id,
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// Replaces the password of `user_id`, given its current one; every
    /// session but `keep` ends.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] for a wrong current password, a
    /// weak new one, and what the store fails with.
    pub async fn change_password(
        &self,
        user_id: UserId,
        keep: SessionId,
        current: String,
        new: String,
        metadata: &EventMetadata,
    ) -> Result<(), AccountError> {
        Passwords::check_strength(&new)?;
        let account = self.account(user_id).await?;
        let hash = account.as_ref().map(|user| user.password_hash().to_owned());
        if !self.passwords.verify(hash, current).await || account.is_none() {
            return Err(AccountError::InvalidCredentials);
        }
        let password_hash = self.passwords.hash(new).await?;
        let command = UserCommand::ChangePassword {
            password_hash,
            keep: Some(keep),
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// The account with this id, if it exists.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn account(&self, user_id: UserId) -> Result<Option<User>, AccountError> {
        let (user, _) = self.commands.load::<User>(&user_id.to_string()).await?;
        Ok(user.exists().then_some(user))
    }

    /// Claims `email` for `user_id`. A claim whose holder is no account a
    /// while after it was made (a registration that stopped between claiming
    /// the address and recording the account) passes to the new account
    /// instead of keeping the address taken for good; a fresh one may be a
    /// registration still under way, so it stays taken.
    async fn claim_email(
        &self,
        email: &str,
        user_id: UserId,
        metadata: &EventMetadata,
    ) -> Result<(), AccountError> {
        let stream = email_stream(email);
        let claim = |replacing| ClaimEmail {
            email: email.to_owned(),
            user_id,
            replacing,
        };
        match self
            .commands
            .execute::<EmailClaim>(&stream, claim(None), None, metadata)
            .await
        {
            Ok(_) => Ok(()),
            Err(CommandError::Rejected(UserError::EmailTaken)) => {
                let (held, _) = self.commands.load::<EmailClaim>(&stream).await?;
                let Some(holder) = held.holder() else {
                    return Err(CommandError::Rejected(UserError::EmailTaken).into());
                };
                let claimed_at = self
                    .commands
                    .store()
                    .read_stream(
                        &flowforge_infra::event_store::StreamId::new(EmailClaim::TYPE, &stream)
                            .map_err(CommandError::InvalidId)?,
                        0,
                    )
                    .await
                    .map_err(CommandError::Store)?
                    .last()
                    .map(|event| event.recorded_at);
                let recent = claimed_at.is_none_or(|at| Utc::now() - at < ORPHANED_CLAIM_AGE);
                if recent || self.account(holder).await?.is_some() {
                    return Err(CommandError::Rejected(UserError::EmailTaken).into());
                }
                self.commands
                    .execute::<EmailClaim>(&stream, claim(Some(holder)), None, metadata)
                    .await?;
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The account holding a (normalised) address, with its id.
    async fn find(&self, email: &str) -> Result<Option<(User, UserId)>, AccountError> {
        let (claim, _) = self
            .commands
            .load::<EmailClaim>(&email_stream(email))
            .await?;
        let Some(user_id) = claim.holder() else {
            return Ok(None);
        };
        Ok(self.account(user_id).await?.map(|user| (user, user_id)))
    }
}

/// The id of the claim stream of a normalised address (for tools and tests
/// that look an address up without an account).
pub fn email_stream(email: &str) -> String {
    Uuid::new_v5(&EMAIL_NAMESPACE, email.as_bytes()).to_string()
}

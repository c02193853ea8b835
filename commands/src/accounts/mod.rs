//! Accounts: register, sign in, refresh a session, sign out. The decisions
//! are the `User` and `EmailClaim` aggregates'; this module does what they
//! must not: hash passwords and tokens, generate ids, and find an account by
//! its address (the address's claim stream names it).
//!
//! Layout: `passwords` (Argon2id, strength checks), `refresh_tokens` (the
//! opaque token and its hash), `second_factor` (TOTP secrets sealed,
//! codes checked, recovery codes) and the use cases here.

mod passwords;
mod refresh_tokens;
mod second_factor;

pub use passwords::{Argon2Settings, PasswordError, Passwords, MIN_PASSWORD_CHARS};
pub use refresh_tokens::RefreshToken;
pub use second_factor::{recovery_code_hash, SecondFactorError, SecondFactorKey, TotpEnrolment};

use std::sync::Arc;

use chrono::{Duration, Utc};
use flowforge_domain::{
    user::{
        normalise_email, ClaimEmail, EmailClaim, SecondFactor, SecondFactorProof, SessionId, User,
        UserCommand, UserError, UserId,
    },
    Aggregate,
};
use flowforge_infra::event_store::EventMetadata;
use uuid::Uuid;

use crate::{unix_time::unix_now, CommandBus, CommandError};

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
    /// The second factor's cryptography failed (a secret that does not open
    /// with this deployment's key among them).
    #[error(transparent)]
    SecondFactor(#[from] SecondFactorError),
}

impl AccountError {
    fn rejected(error: UserError) -> Self {
        Self::User(CommandError::Rejected(error))
    }
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
    second_factor: Arc<SecondFactorKey>,
}

impl Accounts {
    /// Accounts whose sessions last `session_lifetime` from their last
    /// refresh, with authenticator secrets sealed under `second_factor`.
    pub fn new(
        commands: CommandBus,
        passwords: Passwords,
        session_lifetime: Duration,
        second_factor: SecondFactorKey,
    ) -> Self {
        Self {
            commands,
            passwords,
            session_lifetime,
            second_factor: Arc::new(second_factor),
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

    /// Signs in with an address and a password (and, when the account's
    /// second factor is on, a code from its authenticator or a recovery
    /// code): a new session, or [`AccountError::InvalidCredentials`] whether
    /// the address or the password was wrong (in the same time). Failures,
    /// wrong codes among them, count towards the account's lock.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`], a locked account's refusal, a
    /// missing or wrong second factor, and what the store fails with.
    pub async fn sign_in(
        &self,
        email: &str,
        password: String,
        second_factor: Option<&str>,
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
            self.record_failure(user_id, source, metadata).await?;
            return Err(AccountError::InvalidCredentials);
        }
        if let Some(until) = user.locked_until(at) {
            let retry_after_secs = (until - at).num_seconds().max(1);
            return Err(AccountError::rejected(UserError::Locked {
                retry_after_secs,
            }));
        }
        let proof = match (user.second_factor().is_on(), second_factor) {
            (false, _) => None,
            (true, None) => return Err(AccountError::rejected(UserError::SecondFactorRequired)),
            (true, Some(code)) => match self.prove(&user, user_id, code)? {
                Some(proof) => Some(proof),
                None => {
                    self.record_failure(user_id, source, metadata).await?;
                    return Err(AccountError::rejected(UserError::InvalidSecondFactor));
                }
            },
        };
        let session_id = SessionId::from_uuid(Uuid::now_v7());
        let token = RefreshToken::mint(user_id, session_id);
        let command = UserCommand::StartSession {
            session_id,
            refresh_token_hash: token.hash(),
            expires_at: at + self.session_lifetime,
            source,
            second_factor: proof,
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
        self.with_password(user_id, current).await?;
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

    /// Begins setting up an authenticator for `user_id`: a new shared
    /// secret to show once (recorded only sealed). Until a code from it
    /// confirms it, sign-ins need no code.
    ///
    /// # Errors
    /// The account's refusal (its second factor is on already), and what
    /// the store or the cryptography fail with.
    pub async fn begin_totp(
        &self,
        user_id: UserId,
        metadata: &EventMetadata,
    ) -> Result<TotpEnrolment, AccountError> {
        let user = self.existing(user_id).await?;
        if user.second_factor().is_on() {
            return Err(AccountError::rejected(UserError::SecondFactorAlreadyOn));
        }
        let (enrolment, sealed_secret) = self.second_factor.enrol(user_id, user.email())?;
        let command = UserCommand::BeginTotpEnrolment {
            sealed_secret,
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(enrolment)
    }

    /// Turns the second factor of `user_id` on with a `code` from the
    /// authenticator being set up; answers the recovery codes (shown once).
    ///
    /// # Errors
    /// The account's refusal (nothing being set up, a wrong code), and what
    /// the store or the cryptography fail with.
    pub async fn confirm_totp(
        &self,
        user_id: UserId,
        code: &str,
        metadata: &EventMetadata,
    ) -> Result<Vec<String>, AccountError> {
        let user = self.existing(user_id).await?;
        let SecondFactor::Enrolling { sealed_secret } = user.second_factor() else {
            return Err(AccountError::rejected(if user.second_factor().is_on() {
                UserError::SecondFactorAlreadyOn
            } else {
                UserError::NotEnrolling
            }));
        };
        let proof =
            self.second_factor
                .prove(user_id, user.email(), sealed_secret, code, unix_now())?;
        let Some(SecondFactorProof::Totp { step }) = proof else {
            return Err(AccountError::rejected(UserError::InvalidSecondFactor));
        };
        let (codes, recovery_code_hashes) = self.second_factor.recovery_codes()?;
        let command = UserCommand::ConfirmTotp {
            step,
            recovery_code_hashes,
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(codes)
    }

    /// Turns the second factor of `user_id` off, given its password and a
    /// code (or a recovery code): a stolen access token alone cannot.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] for a wrong password, the
    /// account's refusal (off already, a wrong code), and what the store or
    /// the cryptography fail with.
    pub async fn disable_totp(
        &self,
        user_id: UserId,
        password: String,
        code: &str,
        metadata: &EventMetadata,
    ) -> Result<(), AccountError> {
        let user = self.with_password(user_id, password).await?;
        if !user.second_factor().is_on() {
            return Err(AccountError::rejected(UserError::SecondFactorOff));
        }
        let proof = self
            .prove(&user, user_id, code)?
            .ok_or(AccountError::rejected(UserError::InvalidSecondFactor))?;
        let command = UserCommand::DisableTotp {
            proof,
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// What `code` proves for an account whose second factor is on, if the
    /// account would accept it now (a new time step, an unused recovery
    /// code).
    fn prove(
        &self,
        user: &User,
        user_id: UserId,
        code: &str,
    ) -> Result<Option<SecondFactorProof>, AccountError> {
        let Some(sealed) = user.second_factor().sealed_secret() else {
            return Ok(None);
        };
        let proof = self
            .second_factor
            .prove(user_id, user.email(), sealed, code, unix_now())?;
        Ok(proof.filter(|proof| user.second_factor().admits(Some(proof)).is_ok()))
    }

    /// Account `user_id`, if `password` is its password (verified in the
    /// same time whether or not the account exists).
    async fn with_password(&self, user_id: UserId, password: String) -> Result<User, AccountError> {
        let account = self.account(user_id).await?;
        let hash = account.as_ref().map(|user| user.password_hash().to_owned());
        let matched = self.passwords.verify(hash, password).await;
        account
            .filter(|_| matched)
            .ok_or(AccountError::InvalidCredentials)
    }

    /// Counts a failed sign-in towards the account's lock.
    async fn record_failure(
        &self,
        user_id: UserId,
        source: Option<String>,
        metadata: &EventMetadata,
    ) -> Result<(), AccountError> {
        let command = UserCommand::RecordFailedSignIn {
            source,
            at: Utc::now(),
        };
        self.commands
            .execute::<User>(&user_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// The account with this id, or its refusal as not found.
    async fn existing(&self, user_id: UserId) -> Result<User, AccountError> {
        self.account(user_id)
            .await?
            .ok_or(AccountError::rejected(UserError::NotFound))
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

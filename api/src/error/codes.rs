//! The stable `code` of every error the API answers with. The codes are a
//! contract with clients, documented in `docs/errors.md`; a test holds the
//! two together in both directions.

use strum::{EnumIter, IntoStaticStr};

/// What went wrong, as a stable snake_case identifier for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON.
    MalformedJson,
    /// JSON of the wrong shape.
    InvalidBody,
    /// A bad path or query parameter, or header.
    InvalidParameter,
    /// No such resource or route.
    NotFound,
    /// The route does not take the method.
    MethodNotAllowed,
    /// A stale expected version, or a lost race.
    VersionConflict,
    /// A command on (or a start of) an archived workflow.
    WorkflowArchived,
    /// A create on an id that exists.
    AlreadyExists,
    /// A command the execution's state refuses.
    ExecutionConflict,
    /// A webhook route another active workflow holds.
    WebhookPathTaken,
    /// A retry of an execution that did not fail and was not cancelled.
    NotRetryable,
    /// A `consistent_with` position beyond the log's head.
    PositionBeyondHead,
    /// A saga command its state refuses.
    SagaConflict,
    /// A body over the limit.
    PayloadTooLarge,
    /// A body not declared as JSON.
    UnsupportedMediaType,
    /// A workflow definition that fails validation.
    InvalidWorkflow,
    /// A workflow definition over a size limit.
    WorkflowTooLarge,
    /// A tag that is empty or too long.
    InvalidTag,
    /// More tags than allowed.
    TooManyTags,
    /// An update without an expected version.
    PreconditionRequired,
    /// The execution backlog has no room.
    BacklogFull,
    /// A webhook's execution failed or was cancelled.
    ExecutionFailed,
    /// A bug or corrupt data.
    Internal,
    /// The read model did not reach the position in time.
    NotCaughtUp,
    /// The database did not answer.
    Unavailable,
    /// The instance stopped while the request waited.
    ShuttingDown,
    /// A webhook's execution did not answer in time.
    ExecutionTimedOut,
    /// No valid access token, or its session ended.
    Unauthenticated,
    /// Wrong e-mail address or password.
    InvalidCredentials,
    /// Too many failed sign-ins.
    AccountLocked,
    /// The e-mail address has an account.
    EmailTaken,
    /// The password is too weak.
    WeakPassword,
    /// The e-mail address or name is not valid.
    InvalidAccount,
    /// The account's second factor is on and no code came.
    TotpRequired,
    /// A second-factor code that is wrong or was used already.
    InvalidTotp,
    /// The second factor is on already, off, or not being set up.
    TotpState,
    /// The workspace has a credential of this name.
    CredentialNameTaken,
    /// A credential's type, data or name is not valid.
    InvalidCredential,
    /// A credential's sealed data does not open.
    CredentialUnreadable,
    /// A variable's name or value is not valid, or there are too many.
    InvalidVariable,
    /// An OAuth 2.0 grant callback that cannot complete.
    InvalidOauth2Grant,
    /// An OAuth 2.0 provider refused a code or could not be reached.
    Oauth2Provider,
    /// The refresh token is not valid.
    InvalidRefreshToken,
    /// A refresh token came back after it was exchanged.
    RefreshTokenReused,
    /// The API key is unknown, revoked or expired.
    InvalidApiKey,
    /// The caller's role does not allow the request.
    Forbidden,
    /// The invitation token is not a live invitation for this account.
    InvalidInvitation,
    /// A workspace, member or API key change that is not valid.
    InvalidWorkspaceChange,
    /// The change would leave a workspace without an owner.
    LastOwner,
    /// The account is a member of the workspace already.
    AlreadyMember,
    /// Registration needs an invitation.
    RegistrationClosed,
    /// A webhook call failed its webhook's authentication check.
    WebhookUnauthorized,
    /// Over a rate limit.
    RateLimited,
}

impl ErrorCode {
    /// The code as it appears in the error body.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use strum::IntoEnumIterator;

    use super::ErrorCode;

    /// The error reference, as shipped beside the code.
    const ERROR_REFERENCE: &str = include_str!("../../../docs/errors.md");

    /// The codes the reference's table lists: the first cell of each row,
    /// in backticks.
    fn documented_codes() -> BTreeSet<&'static str> {
        ERROR_REFERENCE
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`').map(|(code, _)| code))
            .collect()
    }

    #[test]
    fn every_code_the_api_answers_with_is_in_the_error_reference() {
        // Given the reference's table
        let documented = documented_codes();
        // When every code is looked up
        let missing: Vec<_> = ErrorCode::iter()
            .map(ErrorCode::as_str)
            .filter(|code| !documented.contains(code))
            .collect();
        // Then none is missing
        assert!(missing.is_empty(), "docs/errors.md lacks {missing:?}");
    }

    #[test]
    fn the_error_reference_lists_no_code_the_api_cannot_answer_with() {
        let known: BTreeSet<_> = ErrorCode::iter().map(ErrorCode::as_str).collect();
        let stale: Vec<_> = documented_codes()
            .into_iter()
            .filter(|code| !known.contains(code))
            .collect();
        assert!(
            stale.is_empty(),
            "docs/errors.md lists unknown codes {stale:?}"
        );
    }
}

//! The API's one error type and its one mapping to HTTP: every failure leaves as
//! `{"error": {"code", "message", "details"?}}` with the status chosen here, in a
//! single exhaustive match, so a new variant cannot silently become a 500.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use flowforge_commands::{
    accounts::{AccountError, PasswordError},
    credentials::{GrantError, VaultError},
    workflow_lifecycle::LifecycleError,
    workspaces::WorkspacesError,
    CommandError,
};
use flowforge_domain::{
    credential::CredentialError,
    execution::ExecutionError,
    saga::SagaError,
    user::UserError,
    variable::VariableError,
    webhook_path::WebhookPathError,
    workflow::{DefinitionError, ExceededLimit, WorkflowError},
    workspace::{Permission, Role, WorkspaceError},
};
use flowforge_engine::{execution_controls::ControlError, StartError};
use flowforge_infra::{event_store::EventStoreError, read_model::ReadModelError};
use flowforge_outbound::OAuth2Failure;
use flowforge_sagas::SagaControlError;
use serde::Serialize;
use serde_json::{json, Value};
use tracing::error;

use crate::config::workflow_limit_setting;
use flowforge_engine::backlog::BacklogScope;
use utoipa::ToSchema;

mod codes;

pub use codes::ErrorCode;

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but not the shape this endpoint takes.
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    /// A path or query parameter could not be read.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The route exists but not with this method.
    #[error("this route does not take that method")]
    MethodNotAllowed,
    /// The body is not declared as JSON.
    #[error("expected a body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The workflow definition failed validation.
    #[error("invalid workflow: {0}")]
    InvalidWorkflow(DefinitionError),
    /// The workflow definition is over a configured size limit.
    #[error("workflow too large: {error}; raise {} to allow more", workflow_limit_setting(.exceeded.limit))]
    WorkflowTooLarge {
        /// What the definition went past.
        error: DefinitionError,
        /// The limit, the definition's value and the limit's value.
        exceeded: ExceededLimit,
    },
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// The aggregate refused the command in its current state.
    #[error("{0}")]
    Rejected(WorkflowError),
    /// The execution aggregate refused the command in its current state.
    #[error("{0}")]
    ExecutionRejected(flowforge_domain::execution::ExecutionError),
    /// The saga aggregate refused the command in its current state.
    #[error("{0}")]
    SagaRejected(flowforge_domain::saga::SagaError),
    /// Only a failed or cancelled execution can be retried.
    #[error(
        "execution {execution_id} is {status}; only a failed or cancelled execution can be retried"
    )]
    NotRetryable {
        /// The execution.
        execution_id: String,
        /// Its status.
        status: &'static str,
    },
    /// The execution behind a webhook failed.
    #[error("execution {execution_id} failed: {message}")]
    ExecutionFailed {
        /// The execution.
        execution_id: String,
        /// The node that failed, if one did.
        node: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// The execution behind a webhook did not answer in time.
    #[error("execution {0} did not answer in time; it goes on running")]
    ExecutionTimedOut(String),
    /// This instance shut down while the request waited for an execution.
    #[error("this instance is shutting down before execution {0} answered; it goes on running elsewhere or after a restart: retry with the same Idempotency-Key, or read the execution")]
    ShuttingDown(String),
    /// Another workflow holds an overlapping webhook route.
    #[error("webhook {method} /webhook/{path} is taken by workflow {workflow_id} ({workflow_name:?}); deactivate or change that one first")]
    WebhookPathTaken {
        /// The method the other workflow holds (`*` for any).
        method: String,
        /// The path.
        path: String,
        /// The workflow holding it.
        workflow_id: String,
        /// Its name.
        workflow_name: String,
    },
    /// The caller's expected version is stale.
    #[error("the resource is at version {current_version}, not {expected}")]
    VersionConflict {
        /// What the caller sent.
        expected: String,
        /// Where the resource is now.
        current_version: u64,
    },
    /// An update without an expected version.
    #[error(
        "send the version you are changing, as an If-Match header or an expected_version field"
    )]
    PreconditionRequired,
    /// A `consistent_with` position the log has not reached: no write has
    /// been given it yet, so waiting for it would only run out the clock.
    #[error("position {position} is beyond the event log's head ({head}); pass a position a write returned")]
    PositionBeyondHead {
        /// The position asked for.
        position: u64,
        /// The log's newest position.
        head: u64,
    },
    /// The read model did not reach the requested position in time.
    #[error(
        "the read model has not reached position {position} yet (at {current}); retry shortly"
    )]
    NotCaughtUp {
        /// The position asked for.
        position: u64,
        /// Where the read model is.
        current: u64,
    },
    /// The backlog of pending executions has no room: 503 when the whole
    /// deployment's is full, 429 when the workflow's share is.
    #[error(transparent)]
    BacklogFull(#[from] flowforge_engine::backlog::BacklogFull),
    /// No valid access token (`Authorization: Bearer …`) came with a request
    /// that needs one, or its session has ended.
    #[error("sign in first: {0}")]
    Unauthenticated(String),
    /// Wrong e-mail address or password (the same answer for both).
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    /// The account is locked after too many failed sign-ins.
    #[error("too many failed sign-ins; try again in {retry_after_secs} seconds")]
    AccountLocked {
        /// How long the lock still holds.
        retry_after_secs: i64,
    },
    /// Another account has this e-mail address.
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    /// The password is too weak.
    #[error("weak password: {0}")]
    WeakPassword(&'static str),
    /// The e-mail address or name of a new account is not valid.
    #[error("{0}")]
    InvalidAccount(String),
    /// The account's second factor is on and no code came.
    #[error("this account needs a code from its authenticator: send it as `totp` (a recovery code works too)")]
    TotpRequired,
    /// A second-factor code that is wrong or was used already.
    #[error("the code is wrong or was used already")]
    InvalidTotp,
    /// The second factor is not in the state the request needs.
    #[error("{0}")]
    TotpState(String),
    /// The workspace has a credential of this name.
    #[error("{0}")]
    CredentialNameTaken(String),
    /// A credential that is not valid: its type, data or name.
    #[error("{0}")]
    InvalidCredential(String),
    /// A credential's sealed data does not open (altered, or another key).
    #[error("{0}")]
    CredentialUnreadable(String),
    /// A variable's name or value that is not valid, or one too many.
    #[error("{0}")]
    InvalidVariable(String),
    /// An OAuth 2.0 grant callback that cannot complete: the user refused,
    /// or the state is not valid or has expired.
    #[error("{0}")]
    InvalidOAuth2Grant(String),
    /// An OAuth 2.0 provider refused a code, or could not be reached.
    #[error("{0}")]
    OAuth2Provider(String),
    /// The refresh token is not a live session's current token.
    #[error("the refresh token is not valid; sign in again")]
    InvalidRefreshToken,
    /// A refresh token that was already exchanged came back; its session has been ended.
    #[error("this refresh token was already used, so its session has been ended; sign in again")]
    RefreshTokenReused,
    /// The API key is unknown, revoked or expired (one answer for all).
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// The caller's role in the workspace does not allow the request.
    #[error("your role ({role}) does not allow this; it needs the {needs} permission")]
    Forbidden {
        /// The caller's role.
        role: Role,
        /// What the request needs.
        needs: Permission,
    },
    /// The invitation token is not a live invitation for this account.
    #[error("the invitation is not valid: {0}")]
    InvalidInvitation(String),
    /// Over a rate limit.
    #[error("too many requests ({limit} limit); retry in {retry_after_secs} seconds")]
    RateLimited {
        /// Which limit: `api`, `webhook` or `sign_in`.
        limit: &'static str,
        /// How long until a request would be let through.
        retry_after_secs: i64,
    },
    /// A webhook call failed its webhook's authentication check.
    #[error("the webhook's authentication check failed")]
    WebhookUnauthorized,
    /// Registration is by invitation once the installation has an owner.
    #[error("registration is by invitation: ask a workspace admin for one")]
    RegistrationClosed,
    /// The workspace refused a change.
    #[error("{0}")]
    WorkspaceRejected(WorkspaceError),
    /// A dependency (the database) is unavailable; the cause is logged, not returned.
    #[error("a dependency is unavailable; retry shortly")]
    Unavailable(String),
    /// A bug or an unexpected state; details are logged, not returned.
    #[error("internal error")]
    Internal(String),
}

/// The JSON error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case identifier.
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
    /// Structured context (the node at fault, the current version…); absent
    /// when the code says it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, required = false)]
    pub details: Option<Value>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, ErrorCode, Option<Value>) {
        match self {
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, None),
            ApiError::InvalidBody(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, None),
            ApiError::InvalidParameter(_) => {
                (StatusCode::BAD_REQUEST, ErrorCode::InvalidParameter, None)
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, None),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                None,
            ),
            ApiError::VersionConflict {
                current_version, ..
            } => (
                StatusCode::CONFLICT,
                ErrorCode::VersionConflict,
                Some(json!({ "current_version": current_version })),
            ),
            ApiError::WebhookPathTaken {
                method,
                path,
                workflow_id,
                workflow_name,
            } => (
                StatusCode::CONFLICT,
                ErrorCode::WebhookPathTaken,
                Some(
                    json!({ "method": method, "path": path, "workflow_id": workflow_id, "workflow_name": workflow_name }),
                ),
            ),
            ApiError::Rejected(rejection) => rejection_parts(rejection),
            ApiError::ExecutionRejected(rejection) => (
                StatusCode::CONFLICT,
                ErrorCode::ExecutionConflict,
                Some(json!({ "reason": rejection.to_string() })),
            ),
            ApiError::SagaRejected(flowforge_domain::saga::SagaError::NotFound) => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound, None)
            }
            ApiError::SagaRejected(rejection) => (
                StatusCode::CONFLICT,
                ErrorCode::SagaConflict,
                Some(json!({ "reason": rejection.to_string() })),
            ),
            ApiError::NotRetryable {
                execution_id,
                status,
            } => (
                StatusCode::CONFLICT,
                ErrorCode::NotRetryable,
                Some(json!({ "execution_id": execution_id, "status": status })),
            ),
            ApiError::PositionBeyondHead { position, head } => (
                StatusCode::CONFLICT,
                ErrorCode::PositionBeyondHead,
                Some(json!({ "position": position, "head": head })),
            ),
            ApiError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                Some(json!({ "limit_bytes": limit })),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                None,
            ),
            ApiError::InvalidWorkflow(definition) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidWorkflow,
                Some(json!({ "node": definition.node() })),
            ),
            ApiError::WorkflowTooLarge { error, exceeded } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::WorkflowTooLarge,
                Some(json!({
                    "limit": exceeded.limit.as_str(),
                    "actual": exceeded.actual,
                    "max": exceeded.max,
                    "setting": workflow_limit_setting(exceeded.limit),
                    "node": error.node(),
                })),
            ),
            ApiError::PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                ErrorCode::PreconditionRequired,
                None,
            ),
            ApiError::ExecutionFailed {
                execution_id, node, ..
            } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ExecutionFailed,
                Some(json!({ "execution_id": execution_id, "node": node })),
            ),
            ApiError::ExecutionTimedOut(execution_id) => (
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::ExecutionTimedOut,
                Some(json!({ "execution_id": execution_id })),
            ),
            ApiError::ShuttingDown(execution_id) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ShuttingDown,
                Some(json!({ "execution_id": execution_id })),
            ),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, None),
            ApiError::NotCaughtUp { position, current } => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NotCaughtUp,
                Some(json!({ "position": position, "read_model_position": current })),
            ),
            ApiError::BacklogFull(full) => (
                match full.scope {
                    BacklogScope::Global => StatusCode::SERVICE_UNAVAILABLE,
                    BacklogScope::Workflow => StatusCode::TOO_MANY_REQUESTS,
                },
                ErrorCode::BacklogFull,
                Some(json!({ "pending": full.pending, "limit": full.limit })),
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                None,
            ),
            ApiError::Unauthenticated(_) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, None)
            }
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                None,
            ),
            ApiError::AccountLocked { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::AccountLocked,
                Some(json!({ "retry_after_secs": retry_after_secs })),
            ),
            ApiError::EmailTaken => (StatusCode::CONFLICT, ErrorCode::EmailTaken, None),
            ApiError::WeakPassword(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::WeakPassword,
                None,
            ),
            ApiError::InvalidAccount(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidAccount,
                None,
            ),
            ApiError::TotpRequired => (StatusCode::UNAUTHORIZED, ErrorCode::TotpRequired, None),
            ApiError::InvalidTotp => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidTotp, None),
            ApiError::TotpState(_) => (StatusCode::CONFLICT, ErrorCode::TotpState, None),
            ApiError::CredentialNameTaken(_) => {
                (StatusCode::CONFLICT, ErrorCode::CredentialNameTaken, None)
            }
            ApiError::InvalidCredential(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidCredential,
                None,
            ),
            ApiError::CredentialUnreadable(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::CredentialUnreadable,
                None,
            ),
            ApiError::InvalidVariable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidVariable,
                None,
            ),
            ApiError::InvalidOAuth2Grant(_) => {
                (StatusCode::FORBIDDEN, ErrorCode::InvalidOauth2Grant, None)
            }
            ApiError::OAuth2Provider(_) => {
                (StatusCode::BAD_GATEWAY, ErrorCode::Oauth2Provider, None)
            }
            ApiError::InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRefreshToken,
                None,
            ),
            ApiError::RefreshTokenReused => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::RefreshTokenReused,
                None,
            ),
            ApiError::InvalidApiKey => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidApiKey, None),
            ApiError::Forbidden { role, needs } => (
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                Some(json!({ "role": role, "needs": needs.to_string() })),
            ),
            ApiError::InvalidInvitation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidInvitation,
                None,
            ),
            ApiError::RateLimited {
                limit,
                retry_after_secs,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                Some(json!({ "limit": limit, "retry_after_secs": retry_after_secs })),
            ),
            ApiError::WebhookUnauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::WebhookUnauthorized,
                None,
            ),
            ApiError::RegistrationClosed => {
                (StatusCode::FORBIDDEN, ErrorCode::RegistrationClosed, None)
            }
            ApiError::WorkspaceRejected(rejection) => workspace_rejection_parts(rejection),
        }
    }
}

fn workspace_rejection_parts(rejection: &WorkspaceError) -> (StatusCode, ErrorCode, Option<Value>) {
    match rejection {
        WorkspaceError::NotFound
        | WorkspaceError::NoSuchMember(_)
        | WorkspaceError::NoSuchApiKey(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, None),
        WorkspaceError::NotAllowed(needs) => (
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            Some(json!({ "needs": needs.to_string() })),
        ),
        WorkspaceError::LastOwner => (StatusCode::CONFLICT, ErrorCode::LastOwner, None),
        WorkspaceError::AlreadyMember => (StatusCode::CONFLICT, ErrorCode::AlreadyMember, None),
        WorkspaceError::AlreadyExists => (StatusCode::CONFLICT, ErrorCode::AlreadyExists, None),
        WorkspaceError::InvalidInvitation(_) | WorkspaceError::InvitationForAnotherAddress => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInvitation,
            None,
        ),
        WorkspaceError::InvalidName
        | WorkspaceError::InvalidKeyName
        | WorkspaceError::OwnerKey
        | WorkspaceError::ExpiryInThePast => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidWorkspaceChange,
            None,
        ),
    }
}

fn rejection_parts(rejection: &WorkflowError) -> (StatusCode, ErrorCode, Option<Value>) {
    match rejection {
        WorkflowError::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound, None),
        WorkflowError::AlreadyExists { workflow_id } => (
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            Some(json!({ "workflow_id": workflow_id })),
        ),
        WorkflowError::Archived { workflow_id } => (
            StatusCode::CONFLICT,
            ErrorCode::WorkflowArchived,
            Some(json!({ "workflow_id": workflow_id })),
        ),
        WorkflowError::InvalidTag { tag, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidTag,
            Some(json!({ "tag": tag })),
        ),
        WorkflowError::TooManyTags { count } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooManyTags,
            Some(json!({ "count": count })),
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
        let message = match &self {
            ApiError::Internal(cause) => {
                error!(%cause, "internal error");
                self.to_string()
            }
            ApiError::Unavailable(cause) => {
                error!(%cause, "dependency unavailable");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.as_str(),
                message,
                details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::AccountLocked { retry_after_secs }
        | ApiError::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            if let Ok(value) = axum::http::HeaderValue::try_from(retry_after_secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        } else if matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// What a 503 or 429 tells the caller to wait before trying again, in
/// seconds: long enough for a backlog to drain a little or a database to come
/// back, short enough not to idle.
const RETRY_AFTER_SECS: &str = "1";

impl From<DefinitionError> for ApiError {
    /// A definition over a size limit is `workflow_too_large`, naming the
    /// setting to raise; any other problem is `invalid_workflow`.
    fn from(error: DefinitionError) -> Self {
        match error.exceeded_limit() {
            Some(exceeded) => ApiError::WorkflowTooLarge { error, exceeded },
            None => ApiError::InvalidWorkflow(error),
        }
    }
}

impl From<CommandError<WorkflowError>> for ApiError {
    fn from(error: CommandError<WorkflowError>) -> Self {
        command_error(error, ApiError::Rejected, |expected, actual| match actual {
            // A stream at version 0 has never been written: nothing to conflict with.
            0 => ApiError::NotFound("workflow".to_owned()),
            _ => ApiError::VersionConflict {
                expected: expected.to_string(),
                current_version: actual,
            },
        })
    }
}

impl From<CommandError<ExecutionError>> for ApiError {
    fn from(error: CommandError<ExecutionError>) -> Self {
        command_error(
            error,
            |rejected| match rejected {
                ExecutionError::NotFound => ApiError::NotFound("execution".to_owned()),
                rejected => ApiError::ExecutionRejected(rejected),
            },
            |_, actual| ApiError::VersionConflict {
                expected: "a new execution".to_owned(),
                current_version: actual,
            },
        )
    }
}

impl From<CommandError<SagaError>> for ApiError {
    fn from(error: CommandError<SagaError>) -> Self {
        command_error(error, ApiError::SagaRejected, |_, actual| {
            ApiError::VersionConflict {
                expected: "the saga's current version".to_owned(),
                current_version: actual,
            }
        })
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::ExecutionNotFound(id) => ApiError::NotFound(format!("execution {id}")),
            ControlError::NoNodeWaiting(_) => {
                ApiError::NotFound("a node waiting for this token".to_owned())
            }
            ControlError::NotRetryable {
                execution_id,
                status,
            } => ApiError::NotRetryable {
                execution_id: execution_id.to_string(),
                status,
            },
            no_request @ ControlError::NoRequest(_) => ApiError::Internal(no_request.to_string()),
            ControlError::BacklogFull(full) => ApiError::BacklogFull(full),
            ControlError::Start(start) => start.into(),
            ControlError::Command(command) => command.into(),
            ControlError::Store(store) => store.into(),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::WorkflowNotFound(id) => ApiError::NotFound(format!("workflow {id}")),
            StartError::WorkflowArchived(workflow_id) => {
                ApiError::Rejected(WorkflowError::Archived { workflow_id })
            }
            StartError::Workflow(error) => error.into(),
            StartError::Execution(error) => error.into(),
            // Only sub-workflow starts are counted in a tree or rate-limited;
            // the API starts roots.
            unexpected @ (StartError::TooManyDescendants { .. }
            | StartError::StartRateExceeded { .. }
            | StartError::Tree(_)) => ApiError::Internal(unexpected.to_string()),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Workflow(error) => error.into(),
            LifecycleError::Path(error) => command_error(
                error,
                |WebhookPathError::Taken {
                     route,
                     workflow_id,
                     workflow_name,
                 }| ApiError::WebhookPathTaken {
                    method: route.method,
                    path: route.path,
                    workflow_id: workflow_id.to_string(),
                    workflow_name,
                },
                |_, _| ApiError::Unavailable("webhook paths are too busy to claim".to_owned()),
            ),
        }
    }
}

impl From<CommandError<UserError>> for ApiError {
    fn from(error: CommandError<UserError>) -> Self {
        command_error(
            error,
            |rejected| match rejected {
                UserError::Locked { retry_after_secs } => {
                    ApiError::AccountLocked { retry_after_secs }
                }
                UserError::EmailTaken | UserError::AlreadyRegistered => ApiError::EmailTaken,
                invalid @ (UserError::InvalidEmail(_) | UserError::InvalidName) => {
                    ApiError::InvalidAccount(invalid.to_string())
                }
                UserError::NotFound | UserError::NoSuchSession(_) => {
                    ApiError::Unauthenticated("the session has ended".to_owned())
                }
                UserError::InvalidRefreshToken | UserError::SessionExpired => {
                    ApiError::InvalidRefreshToken
                }
                UserError::SecondFactorRequired => ApiError::TotpRequired,
                UserError::InvalidSecondFactor => ApiError::InvalidTotp,
                state @ (UserError::SecondFactorAlreadyOn
                | UserError::NotEnrolling
                | UserError::SecondFactorOff) => ApiError::TotpState(state.to_string()),
            },
            // Two sign-ins at once on one account: the loser may retry.
            |_, _| ApiError::Unavailable("the account changed concurrently".to_owned()),
        )
    }
}

impl From<CommandError<WorkspaceError>> for ApiError {
    fn from(error: CommandError<WorkspaceError>) -> Self {
        command_error(error, ApiError::WorkspaceRejected, |_, _| {
            ApiError::Unavailable("the workspace changed concurrently".to_owned())
        })
    }
}

impl From<WorkspacesError> for ApiError {
    fn from(error: WorkspacesError) -> Self {
        match error {
            WorkspacesError::Workspace(command) => command.into(),
            WorkspacesError::User(command) => command.into(),
            WorkspacesError::InvalidApiKey => ApiError::InvalidApiKey,
            WorkspacesError::InvalidInvitation => {
                ApiError::InvalidInvitation("not a live invitation".to_owned())
            }
        }
    }
}

impl From<CommandError<CredentialError>> for ApiError {
    fn from(error: CommandError<CredentialError>) -> Self {
        command_error(
            error,
            |rejected| match rejected {
                CredentialError::NotFound(what) => ApiError::NotFound(format!("credential {what}")),
                taken @ CredentialError::NameTaken(_) => {
                    ApiError::CredentialNameTaken(taken.to_string())
                }
                invalid @ (CredentialError::InvalidName
                | CredentialError::UnknownKind(_)
                | CredentialError::ShareWithOwner
                | CredentialError::InvalidData { .. }) => {
                    ApiError::InvalidCredential(invalid.to_string())
                }
            },
            |_, _| ApiError::Unavailable("the credentials changed concurrently".to_owned()),
        )
    }
}

impl From<CommandError<VariableError>> for ApiError {
    fn from(error: CommandError<VariableError>) -> Self {
        command_error(
            error,
            |rejected| match rejected {
                VariableError::NotFound(name) => ApiError::NotFound(format!("variable {name:?}")),
                invalid @ (VariableError::InvalidName(_)
                | VariableError::ValueTooLarge(_)
                | VariableError::TooMany) => ApiError::InvalidVariable(invalid.to_string()),
            },
            |_, _| ApiError::Unavailable("the variables changed concurrently".to_owned()),
        )
    }
}

impl From<VaultError> for ApiError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Credential(command) => command.into(),
            VaultError::Use(store) => ApiError::Internal(store.to_string()),
            unreadable @ (VaultError::Keys(_) | VaultError::Corrupt) => {
                tracing::error!(error = %unreadable, "a credential does not open");
                ApiError::CredentialUnreadable(unreadable.to_string())
            }
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(error: GrantError) -> Self {
        match error {
            GrantError::Vault(vault) => vault.into(),
            invalid @ GrantError::InvalidState => ApiError::InvalidOAuth2Grant(invalid.to_string()),
            GrantError::Provider(url @ OAuth2Failure::InvalidUrl { .. }) => {
                ApiError::InvalidCredential(url.to_string())
            }
            GrantError::Provider(denied @ OAuth2Failure::Denied(_)) => {
                ApiError::InvalidOAuth2Grant(denied.to_string())
            }
            GrantError::Provider(provider) => ApiError::OAuth2Provider(provider.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Password(PasswordError::Weak(why)) => ApiError::WeakPassword(why),
            AccountError::Password(hashing @ PasswordError::Hashing(_)) => {
                ApiError::Internal(hashing.to_string())
            }
            AccountError::InvalidCredentials => ApiError::InvalidCredentials,
            AccountError::InvalidRefreshToken => ApiError::InvalidRefreshToken,
            AccountError::RefreshTokenReused => ApiError::RefreshTokenReused,
            AccountError::User(command) => command.into(),
            AccountError::SecondFactor(crypto) => ApiError::Internal(crypto.to_string()),
        }
    }
}

impl From<SagaControlError> for ApiError {
    fn from(error: SagaControlError) -> Self {
        match error {
            SagaControlError::SagaNotFound(id) => ApiError::NotFound(format!("saga {id}")),
            SagaControlError::Command(command) => command.into(),
        }
    }
}

/// Maps a command-bus failure: the failures every aggregate shares (a bad
/// id, an undecodable event, the store) in one place, the aggregate's own
/// refusal through `rejected`, and a version conflict through `conflict`
/// (given the expected version and the actual one).
fn command_error<E: std::error::Error + 'static>(
    error: CommandError<E>,
    rejected: impl FnOnce(E) -> ApiError,
    conflict: impl FnOnce(flowforge_infra::event_store::ExpectedVersion, u64) -> ApiError,
) -> ApiError {
    match error {
        CommandError::Rejected(rejection) => rejected(rejection),
        CommandError::Conflict { expected, actual } => conflict(expected, actual),
        CommandError::InvalidId(invalid) => ApiError::InvalidParameter(invalid.to_string()),
        CommandError::Codec(codec) => ApiError::Internal(codec.to_string()),
        CommandError::Store(store) => store.into(),
    }
}

impl From<EventStoreError> for ApiError {
    fn from(error: EventStoreError) -> Self {
        match error {
            EventStoreError::Database(db) => ApiError::Unavailable(db.to_string()),
            transient @ (EventStoreError::Interrupted(_)
            | EventStoreError::GroupCommitFailed(_)) => {
                ApiError::Unavailable(transient.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ReadModelError> for ApiError {
    fn from(error: ReadModelError) -> Self {
        match error {
            ReadModelError::Database(db) => ApiError::Unavailable(db.to_string()),
            ReadModelError::Corrupt(reason) => ApiError::Internal(reason),
            moved @ ReadModelError::CheckpointMoved { .. } => ApiError::Internal(moved.to_string()),
        }
    }
}

//! The signed-in account's second factor: set up an authenticator (TOTP),
//! confirm it with a code (and receive recovery codes, once), turn it off
//! with the password and a code. While it is on, signing in needs `totp`.

use axum::{extract::State, http::StatusCode, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::JsonBodyErrors,
};
use crate::{
    error::{ApiError, ErrorBody},
    extract::JsonBody,
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(begin))
        .routes(routes!(confirm))
        .routes(routes!(disable))
}

/// An authenticator to set up.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The shared secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://totp/…` address (show it as a QR code).
    pub otpauth_url: String,
}

/// A code from the authenticator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The six digits it shows now.
    pub code: String,
}

/// The recovery codes: each opens the account once without the
/// authenticator. Shown this once; only their hashes are kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes.
    pub recovery_codes: Vec<String>,
}

/// The password and a code, to turn the second factor off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotpRequest {
    /// The account's password.
    pub password: String,
    /// A code from the authenticator, or a recovery code.
    pub code: String,
}

/// Begins setting up an authenticator: a new shared secret (shown once;
/// kept only encrypted). Signing in needs no code until it is confirmed;
/// beginning again replaces a setup not yet confirmed.
#[utoipa::path(
    post, path = "/api/v1/me/totp", tag = "auth",
    responses(
        (status = 200, description = "The secret to set up", body = TotpSetup),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "The second factor is on already (totp_state)", body = ErrorBody),
    )
)]
async fn begin(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Json<TotpSetup>, ApiError> {
    let (user_id, _) = caller.account()?;
    let enrolment = state.accounts.begin_totp(user_id, &metadata).await?;
    Ok(Json(TotpSetup {
        secret: enrolment.secret,
        otpauth_url: enrolment.otpauth_url,
    }))
}

/// Confirms the authenticator being set up with a code it shows: the second
/// factor is on, and the answer holds the recovery codes.
#[utoipa::path(
    post, path = "/api/v1/me/totp/confirm", tag = "auth",
    request_body = ConfirmTotpRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "On; the recovery codes, shown once", body = RecoveryCodes),
        (status = 401, description = "Not signed in, or a wrong code (invalid_totp)", body = ErrorBody),
        (status = 409, description = "Nothing is being set up, or it is on already (totp_state)", body = ErrorBody),
    )
)]
async fn confirm(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<ConfirmTotpRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let (user_id, _) = caller.account()?;
    let recovery_codes = state
        .accounts
        .confirm_totp(user_id, &body.code, &metadata)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turns the second factor off, given the password and a code (or a
/// recovery code), so that an access token alone cannot.
#[utoipa::path(
    post, path = "/api/v1/me/totp/disable", tag = "auth",
    request_body = DisableTotpRequest,
    responses(
        JsonBodyErrors,
        (status = 204, description = "Off: a password signs in again"),
        (status = 401, description = "Not signed in, a wrong password (invalid_credentials), or a wrong code (invalid_totp)", body = ErrorBody),
        (status = 409, description = "The second factor is off (totp_state)", body = ErrorBody),
    )
)]
async fn disable(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<DisableTotpRequest>,
) -> Result<StatusCode, ApiError> {
    let (user_id, _) = caller.account()?;
    state
        .accounts
        .disable_totp(user_id, body.password, &body.code, &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

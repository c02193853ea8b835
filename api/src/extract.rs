//! Extractors that turn axum's rejections into [`ApiError`]s, so malformed JSON,
//! a wrong content type, an oversized body or a bad query parameter get the same
//! error envelope as everything else.

use axum::{
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        FromRequest, FromRequestParts, Request,
    },
    http::{request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;

use crate::{error::ApiError, state::AppState};

/// `axum::Json` with FlowForge's errors.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::MalformedJson(e.body_text())),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidBody(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::PayloadTooLarge {
                    limit: state.max_body_bytes,
                })
            }
            Err(other) => Err(ApiError::InvalidBody(other.body_text())),
        }
    }
}

/// `axum::extract::Query` with FlowForge's errors.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|e: QueryRejection| ApiError::InvalidParameter(e.body_text()))
    }
}

/// `axum::extract::Path` with FlowForge's errors.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParams(value))
            .map_err(|e: PathRejection| ApiError::InvalidParameter(e.body_text()))
    }
}

/// A JSON body that may be absent: an empty body is `None`, anything else must
/// be JSON of the expected shape (with `Content-Type: application/json`).
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|length| length == "0")
            || (req
                .headers()
                .get(axum::http::header::CONTENT_LENGTH)
                .is_none()
                && req
                    .headers()
                    .get(axum::http::header::TRANSFER_ENCODING)
                    .is_none());
        if empty {
            return Ok(OptionalJsonBody(None));
        }
        let JsonBody(value) = JsonBody::<T>::from_request(req, state).await?;
        Ok(OptionalJsonBody(Some(value)))
    }
}

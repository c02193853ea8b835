//! Cross-origin requests from browsers, off unless origins are configured
//! (`FLOWFORGE_CORS_ORIGINS`): a page served elsewhere (a dashboard, a
//! portal) may then call the API with a bearer token or an API key. No
//! cookies are involved, so credentials mode stays off.

use std::time::Duration;

use axum::http::{
    header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION, RETRY_AFTER},
    HeaderName, HeaderValue, Method,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// A configured origin that is not one.
#[derive(Debug, thiserror::Error)]
#[error("FLOWFORGE_CORS_ORIGINS: {0:?} is not an origin like https://app.example.com")]
pub struct InvalidOrigin(pub String);

/// `scheme://host[:port]`, nothing more.
fn is_origin(origin: &str) -> bool {
    origin.split_once("://").is_some_and(|(scheme, host)| {
        matches!(scheme, "http" | "https")
            && !host.is_empty()
            && !host.contains(['/', ' ', '?', '#', '@'])
    })
}

/// The CORS layer for `origins`; `None` (CORS off) for none.
///
/// # Errors
/// [`InvalidOrigin`] for an entry that is not `scheme://host[:port]`.
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, InvalidOrigin> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            is_origin(origin)
                .then(|| HeaderValue::from_str(origin).ok())
                .flatten()
                .ok_or_else(|| InvalidOrigin(origin.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    if origins.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                IF_MATCH,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-workspace-id"),
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-correlation-id"),
            ])
            .expose_headers([
                ETAG,
                LOCATION,
                RETRY_AFTER,
                HeaderName::from_static("x-correlation-id"),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_none_means_off() {
        assert!(layer(&[]).expect("valid").is_none());
        assert!(layer(&[" ".to_owned()]).expect("valid").is_none());
        assert!(layer(&[
            "https://app.example.com".to_owned(),
            "http://localhost:3000".to_owned()
        ])
        .expect("valid")
        .is_some());
        for bad in [
            "app.example.com",
            "https://",
            "https://a.com/path",
            "ftp://a.com",
            "*",
        ] {
            assert!(layer(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}

//! Headers every response carries so a browser treats the API as data, not
//! a page: no content sniffing, no referrer leaking ids in URLs, and (except
//! for webhooks, whose answers a workflow shapes, HTML included) a content
//! security policy that allows nothing to load and nothing to frame it. A
//! header the response set already is kept.

use axum::{
    extract::Request,
    http::{
        header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS},
        HeaderValue,
    },
    middleware::Next,
    response::Response,
};

/// What the API's own responses allow a browser to load: nothing.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the security headers to the response of `request`.
pub async fn add_security_headers(request: Request, next: Next) -> Response {
    let webhook = request.uri().path().starts_with("/webhook/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if !webhook {
        headers
            .entry(CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(API_CSP));
    }
    response
}

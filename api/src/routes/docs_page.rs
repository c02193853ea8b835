//! An interactive page for the API, served by the binary at `/api/docs`:
//! it reads `/api/v1/openapi.json` and lists every operation by tag, with
//! its parameters, its body and its answers, and sends a request from a
//! form with the token or API key given at the top. Everything it loads
//! comes from this server (three small embedded files, no CDN), so it works
//! offline; its content security policy allows only that.

use axum::{
    extract::Path,
    http::{
        header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE},
        HeaderValue,
    },
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::{error::ApiError, state::AppState};

const INDEX: &str = include_str!("docs_page/index.html");
const SCRIPT: &str = include_str!("docs_page/app.js");
const STYLE: &str = include_str!("docs_page/style.css");

/// What the page may load and call: this server only.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The page's routes (public: the page holds no data; what it shows of the
/// API comes from the public document, and its requests carry the
/// visitor's own credentials).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(index))
        .route("/api/docs/{file}", get(asset))
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => page("text/javascript; charset=utf-8", SCRIPT),
        "style.css" => page("text/css; charset=utf-8", STYLE),
        _ => ApiError::NotFound(format!("docs file {file}")).into_response(),
    }
}

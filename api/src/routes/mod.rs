//! The HTTP routes, one module per resource, gathered into one router whose
//! OpenAPI document is generated from the same declarations.

mod access;
mod api_keys;
pub mod audit;
mod auth;
mod credentials;
mod docs_page;
pub mod events;
mod execution_stream;
pub mod executions;
pub mod health;
mod metrics;
mod oauth2_grants;
mod oversized_body;
pub mod projections;
pub mod rate_limit;
mod request_context;
mod request_span;
mod sagas;
mod second_factor;
mod security_headers;
mod shared_responses;
mod variables;
mod webhooks;
mod workflow_schema;
pub mod workflows;
mod workspace_scope;
mod workspaces;

use std::sync::Arc;

use axum::{extract::DefaultBodyLimit, Extension, Json, Router};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::ApiError, state::AppState};

/// The OpenAPI document's fixed parts; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FlowForge API",
        description = "Commands and queries of FlowForge, an event-sourced workflow-automation platform."
    ),
    tags(
        (name = "auth", description = "Accounts: register, sign in, refresh and sign out; access tokens (JWT) and rotating refresh tokens"),
        (name = "workspaces", description = "Workspaces, their members with roles, invitations and API keys"),
        (name = "workflows", description = "Create, change, activate and read workflows"),
        (name = "credentials", description = "The workspace's credentials vault: secrets sealed at rest, write-only through the API, used by nodes by name or id"),
        (name = "variables", description = "The workspace's variables, read by expressions as `$vars.<name>`: not secret (credentials are for secrets)"),
        (name = "events", description = "The event log (one stream, or the global log), the audit log, and projection progress"),
        (name = "executions", description = "Run workflows and follow their executions node by node"),
        (name = "health", description = "Liveness and readiness probes, and Prometheus metrics")
    )
)]
struct ApiDoc;

/// Declares the two ways to authenticate and, on every operation, which of
/// them it takes, read from the same table the server enforces
/// ([`access::rule`]): none for a public route, an access token for an
/// account route, an access token or an API key in a workspace.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from /api/v1/auth/login, or an API key (ffk_…)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key from POST /api/v1/api-keys",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let catch_all = path
                .strip_suffix("{path}")
                .map(|head| format!("{head}{{*path}}"));
            let template = match &catch_all {
                Some(template) if webhooks::WEBHOOK_ROUTES.contains(&template.as_str()) => {
                    template.as_str()
                }
                _ => path.as_str(),
            };
            for (method, operation) in [
                (axum::http::Method::GET, &mut item.get),
                (axum::http::Method::POST, &mut item.post),
                (axum::http::Method::PUT, &mut item.put),
                (axum::http::Method::PATCH, &mut item.patch),
                (axum::http::Method::DELETE, &mut item.delete),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
                let api_key = SecurityRequirement::new("api_key", Vec::<String>::new());
                let rule = access::rule(&method, template);
                operation.security = Some(match rule {
                    Some(access::Access::Public) | None => vec![SecurityRequirement::default()],
                    Some(access::Access::Account | access::Access::AccountInWorkspace(_)) => {
                        vec![bearer]
                    }
                    Some(_) => vec![bearer, api_key],
                });
                let limited = !matches!(rule, Some(access::Access::Public) | None)
                    || webhooks::WEBHOOK_ROUTES.contains(&template)
                    || rate_limit::SIGN_IN_ROUTES.contains(&template);
                if limited {
                    operation
                        .responses
                        .responses
                        .entry("429".to_owned())
                        .or_insert_with(|| {
                            error_response("Over a rate limit (rate_limited); see Retry-After")
                        });
                }
                if !matches!(rule, Some(access::Access::Public) | None) {
                    let answers = &mut operation.responses.responses;
                    answers.entry("401".to_owned()).or_insert_with(|| {
                        error_response("No valid credentials (unauthenticated, invalid_api_key)")
                    });
                    answers.entry("403".to_owned()).or_insert_with(|| {
                        error_response("The caller's role does not allow this (forbidden)")
                    });
                    answers.entry("404".to_owned()).or_insert_with(|| {
                        error_response("Not found, or in a workspace the caller is not a member of")
                    });
                }
            }
        }
    }
}

/// The webhook routes take any method, so they are registered by hand; this
/// puts them in the document.
#[derive(OpenApi)]
#[openapi(paths(webhooks::webhook, webhooks::workspace_webhook))]
struct WebhookDoc;

/// A documented error answer with the JSON error envelope.
fn error_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::response::Response> {
    use utoipa::openapi::{content::ContentBuilder, response::ResponseBuilder, Ref};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The whole API with its OpenAPI document served at `/api/v1/openapi.json`.
pub fn router(state: AppState) -> Router {
    let max_body = usize::try_from(state.max_body_bytes).unwrap_or(usize::MAX);
    let (router, openapi) = split_documented_routes();
    router
        .layer(Extension(Arc::new(openapi)))
        .route(
            webhooks::WEBHOOK_ROUTES[0],
            axum::routing::any(webhooks::webhook),
        )
        .route(
            webhooks::WEBHOOK_ROUTES[1],
            axum::routing::any(webhooks::workspace_webhook),
        )
        .merge(docs_page::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::enforce,
        ))
        .route_layer(axum::middleware::from_fn(metrics::record_http))
        .route_layer(axum::middleware::from_fn(request_span::trace_request))
        .fallback(|| async { ApiError::NotFound("route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            oversized_body::refuse_oversized_body,
        ))
        .layer(axum::middleware::from_fn(
            security_headers::add_security_headers,
        ))
        .with_state(state)
}

/// The OpenAPI document alone, for tooling and tests.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split_documented_routes().1
}

/// The routes and their document, with the security of every operation.
fn split_documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (router, mut openapi) = documented_routes().split_for_parts();
    SecuritySchemes.modify(&mut openapi);
    (router, openapi)
}

fn documented_routes() -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    doc.merge(WebhookDoc::openapi());
    OpenApiRouter::with_openapi(doc)
        .merge(auth::routes())
        .merge(second_factor::routes())
        .merge(credentials::routes())
        .merge(variables::routes())
        .merge(oauth2_grants::routes())
        .merge(workspaces::routes())
        .merge(api_keys::routes())
        .merge(workflows::routes())
        .merge(events::routes())
        .merge(executions::routes())
        .merge(execution_stream::routes())
        .merge(sagas::routes())
        .merge(audit::routes())
        .merge(projections::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .routes(routes!(openapi_document))
}

/// This document: every route of the API, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_document(
    Extension(openapi): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(openapi.as_ref().clone())
}

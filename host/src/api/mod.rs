//! The REST API: Powabase's agent surface (`/api/agents`, tools, knowledge bases, MCP servers,
//! hooks, sessions, runs) plus API keys, with errors always `{"error": "<message>"}`.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive it with `oneshot`
//! and `corral serve` hands it to a listener. Every route is declared through utoipa, so the
//! OpenAPI document served at `/openapi.json` cannot miss one.
//!
//! # Layout
//! One module per resource ([`keys`], [`agents`], [`tool_assignments`], [`tools`],
//! [`knowledge_bases`], [`mcp_servers`], [`hooks`], [`runs`]); [`auth`] (who is calling),
//! [`extract`] (bodies and paths with clear rejections), [`error`] (the error type),
//! [`openapi`] (the document's frame).

pub mod agents;
pub mod auth;
pub mod error;
pub mod execute;
pub mod extract;
pub mod hooks;
pub mod keys;
pub mod knowledge_bases;
pub mod mcp_servers;
pub mod openapi;
pub mod runs;
pub mod streaming;
pub mod tool_assignments;
pub mod tools;

use crate::registry::ToolRegistry;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Request};
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest component upload (413 above).
    pub max_upload_bytes: usize,
    /// Origins allowed by CORS; empty = no CORS headers, `*` = any origin.
    pub cors_origins: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 64 * 1024 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Builtin and custom tools.
    pub registry: Arc<ToolRegistry>,
    /// HTTP settings.
    pub config: Arc<ApiConfig>,
    /// The run engine.
    pub engine: Arc<crate::engine::Engine>,
}

/// The OpenAPI document and the router, built together so they list the same routes.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::health))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::delete_key))
        .routes(routes!(agents::list_agents, agents::create_agent))
        .routes(routes!(
            agents::get_agent,
            agents::update_agent,
            agents::delete_agent
        ))
        .routes(routes!(
            tool_assignments::list_assignments,
            tool_assignments::create_assignment
        ))
        .routes(routes!(
            tool_assignments::get_assignment,
            tool_assignments::update_assignment,
            tool_assignments::delete_assignment
        ))
        .routes(routes!(tools::list_tools, tools::create_tool))
        .routes(routes!(
            tools::get_tool,
            tools::replace_tool,
            tools::delete_tool
        ))
        .routes(routes!(
            knowledge_bases::list_knowledge_bases,
            knowledge_bases::create_knowledge_base
        ))
        .routes(routes!(
            knowledge_bases::get_knowledge_base,
            knowledge_bases::update_knowledge_base,
            knowledge_bases::delete_knowledge_base
        ))
        .routes(routes!(
            knowledge_bases::list_agent_knowledge_bases,
            knowledge_bases::assign_knowledge_base
        ))
        .routes(routes!(knowledge_bases::unassign_knowledge_base))
        .routes(routes!(
            mcp_servers::list_mcp_servers,
            mcp_servers::create_mcp_server
        ))
        .routes(routes!(
            mcp_servers::get_mcp_server,
            mcp_servers::update_mcp_server,
            mcp_servers::delete_mcp_server
        ))
        .routes(routes!(hooks::list_hooks, hooks::create_hook))
        .routes(routes!(hooks::delete_hook))
        .routes(routes!(runs::list_sessions))
        .routes(routes!(runs::get_run))
        .routes(routes!(execute::run))
        .routes(routes!(execute::run_stream))
        .routes(routes!(execute::run_events))
        .routes(routes!(execute::cancel_run))
        .routes(routes!(execute::approve_run))
        .split_for_parts()
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (router, api) = routes();
    let api = Arc::new(api);
    let cors = cors_layer(&state.config.cors_origins);
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { axum::Json(api.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this method is not allowed on this path".into())
        })
        .layer(DefaultBodyLimit::max(state.config.max_upload_bytes))
        .layer(RequestDecompressionLayer::new().gzip(true))
        .with_state(state);
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::Internal("a request handler panicked".into()).into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(Any)
            .max_age(Duration::from_secs(600)),
    )
}

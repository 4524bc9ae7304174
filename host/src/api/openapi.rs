//! The frame of the OpenAPI 3.1 document (info, security schemes); the paths come from the
//! handlers' `#[utoipa::path]` annotations as the router is built.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Corral",
        description = "An agent server whose tools all run as sandboxed WebAssembly components. \
                       Errors are always `{\"error\": \"<message>\"}`."
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("apikey" = []), ("x-api-key" = []))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "apikey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("apikey"))),
        );
        components.add_security_scheme(
            "x-api-key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// Liveness: answers without a key, so load balancers can probe it.
#[utoipa::path(get, path = "/health", tag = "server", security(()),
    responses((status = 200, description = "The server is up")))]
pub async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

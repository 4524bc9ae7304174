//! `GET/POST /api/tools`, `GET/PUT/DELETE /api/tools/{id}`: the builtin tools and custom ones.
//!
//! `POST /api/tools` takes either JSON, for a declarative HTTP tool in either Powabase shape
//! (`{"type": "http", "config": {"endpoint", "method", "headers", "timeout_seconds"}}` or
//! top-level `endpoint_url`/`method`), or a WASM component (`Content-Type: application/wasm`,
//! or a multipart form with a `file` field). A component must export `corral:tool`; its
//! `describe()` runs in the sandbox and it is stored content-addressed and compiled into the
//! cache before the response lists its tools, their schemas and the capabilities it imports.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, from_value, is_json, parse_json, read_body};
use super::tool_assignments::MASK;
use crate::boundary::catalog::CatalogTool;
use crate::boundary::http_tool::HttpEndpoint;
use crate::sandbox::imports::{Import, capabilities};
use crate::store::keys::Scope;
use crate::store::tools::{StoredTool, ToolFields, ToolKind};
use crate::tool::{Confirmation, ToolDescriptor};
use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A tool as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolView {
    /// Custom tools: their id. Builtins: their name.
    pub id: String,
    /// Name the model calls.
    pub name: String,
    /// What the model reads.
    pub description: String,
    /// `builtin`, `http` or `wasm`.
    pub source: String,
    /// A label for humans (`http`, `storage`, `database`, ...).
    pub tool_type: Option<String>,
    /// JSON Schema of the arguments.
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// JSON Schema of the result, when declared.
    #[schema(value_type = Object)]
    pub output_schema: Option<Value>,
    /// The tool's own default: `never` or `always`.
    pub confirmation: Confirmation,
    /// HTTP tools: endpoint, method, headers (values masked), timeout_seconds.
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    /// WASM tools: the component's SHA-256.
    pub component_sha256: Option<String>,
    /// WASM tools: the capabilities the component imports.
    pub capabilities: Vec<String>,
    /// Custom tools: created.
    pub created_at: Option<String>,
    /// Custom tools: last changed.
    pub updated_at: Option<String>,
}

/// What an upload produced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadView {
    /// The stored component.
    pub component: ComponentView,
    /// Its tools.
    pub tools: Vec<ToolView>,
}

/// A stored component.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComponentView {
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: usize,
    /// The capabilities it imports (each denied unless an assignment grants it).
    pub capabilities: Vec<String>,
    /// Every interface it imports.
    #[schema(value_type = Vec<Object>)]
    pub imports: Vec<Import>,
}

/// A declarative HTTP tool, in either Powabase shape.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpToolBody {
    /// snake_case name, unique across all tools.
    pub name: String,
    /// What the model reads to decide when to call it.
    pub description: String,
    /// `http` (the only type created from JSON; upload a component for WASM tools).
    #[serde(default, rename = "type")]
    pub tool_type: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// Skill shape: endpoint, method, headers, timeout_seconds, allow_private_network.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    /// Docs shape: the endpoint.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Docs shape: the method (POST by default).
    #[serde(default)]
    pub method: Option<String>,
    /// Docs shape: headers.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Docs shape: timeout.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
}

/// Checks a tool name: snake_case, as the model will call it.
fn check_tool_name(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "tool name `{name}` must be snake_case: a lowercase letter, then lowercase letters, digits or `_`, at most 64 characters"
        )))
    }
}

impl HttpToolBody {
    /// The fields to store, or a 400 naming what is wrong.
    fn into_fields(self) -> Result<ToolFields, ApiError> {
        if let Some(t) = &self.tool_type
            && t != "http"
        {
            return Err(ApiError::BadRequest(format!(
                "tool type `{t}` cannot be created from JSON: use `\"type\": \"http\"`, or upload a WASM component with `Content-Type: application/wasm`"
            )));
        }
        check_tool_name(&self.name)?;
        if self.description.trim().is_empty() {
            return Err(ApiError::BadRequest(
                "`description` is required: the model reads it to decide when to call the tool"
                    .into(),
            ));
        }
        let docs_shape = self.endpoint_url.is_some()
            || self.method.is_some()
            || self.headers.is_some()
            || self.timeout_seconds.is_some();
        let mut endpoint: HttpEndpoint = match (self.config, docs_shape) {
            (Some(_), true) => {
                return Err(ApiError::BadRequest(
                    "give the endpoint either in `config` or as top-level `endpoint_url`/`method`, not both".into(),
                ));
            }
            (Some(config), false) => from_value(config).map_err(|e| match e {
                ApiError::BadRequest(m) => ApiError::BadRequest(format!(
                    "`config` {}",
                    m.trim_start_matches("invalid request body ")
                )),
                other => other,
            })?,
            (None, _) => {
                let mut config = Map::new();
                let Some(url) = self.endpoint_url else {
                    return Err(ApiError::BadRequest(
                        "an HTTP tool needs an endpoint: `config.endpoint` or `endpoint_url`"
                            .into(),
                    ));
                };
                config.insert("endpoint".into(), url.into());
                if let Some(m) = self.method {
                    config.insert("method".into(), m.into());
                }
                if let Some(h) = self.headers {
                    config.insert(
                        "headers".into(),
                        serde_json::to_value(h).unwrap_or_default(),
                    );
                }
                if let Some(t) = self.timeout_seconds {
                    config.insert("timeout_seconds".into(), t.into());
                }
                from_value(Value::Object(config))?
            }
        };
        endpoint.validate().map_err(ApiError::BadRequest)?;
        check_input_schema(&self.name, &self.input_schema)?;
        Ok(ToolFields {
            name: self.name,
            description: self.description,
            kind: ToolKind::Http,
            input_schema: self.input_schema,
            config: serde_json::to_value(&endpoint).unwrap_or_default(),
            component_sha256: None,
            descriptor: None,
        })
    }
}

fn check_input_schema(name: &str, schema: &Value) -> Result<(), ApiError> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(ApiError::BadRequest(
            "`input_schema` must be a JSON Schema with `\"type\": \"object\"` (tool arguments are an object)".into(),
        ));
    }
    let descriptor = ToolDescriptor {
        name: name.into(),
        description: String::new(),
        input_schema: schema.clone(),
        output_schema: None,
        confirmation: Confirmation::Never,
        tool_type: None,
        confirm_if: None,
    };
    CatalogTool::new(
        descriptor,
        crate::boundary::catalog::Implementation::Http(std::sync::Arc::new(HttpEndpoint {
            endpoint: "http://unused.invalid/".into(),
            method: "POST".into(),
            headers: BTreeMap::new(),
            timeout_seconds: 1.0,
            allow_private_network: false,
        })),
    )
    .map(|_| ())
    .map_err(|e| ApiError::BadRequest(format!("`input_schema`: {e}")))
}

fn masked_config(config: &Value) -> Value {
    let mut config = config.clone();
    if let Some(Value::Object(headers)) = config.get_mut("headers") {
        for value in headers.values_mut() {
            *value = Value::String(MASK.into());
        }
    }
    config
}

fn capability_names(imports: &Value) -> Vec<String> {
    let imports: Vec<Import> = serde_json::from_value(imports.clone()).unwrap_or_default();
    capabilities(&imports)
        .into_iter()
        .map(|c| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        })
        .collect()
}

fn builtin_view(tool: &CatalogTool, capabilities: Vec<String>) -> ToolView {
    let d = &tool.descriptor;
    ToolView {
        id: d.name.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        source: "builtin".into(),
        tool_type: d.tool_type.clone(),
        input_schema: d.input_schema.clone(),
        output_schema: d.output_schema.clone(),
        confirmation: d.confirmation,
        config: None,
        component_sha256: None,
        capabilities,
        created_at: None,
        updated_at: None,
    }
}

async fn custom_view(state: &AppState, stored: &StoredTool) -> Result<ToolView, ApiError> {
    let (capabilities, confirmation, output_schema, tool_type) = match stored.kind {
        ToolKind::Http => (
            vec!["http".to_string()],
            Confirmation::Never,
            None,
            Some("http".into()),
        ),
        ToolKind::Wasm => {
            let imports = match &stored.component_sha256 {
                Some(sha) => state.registry.component_imports(sha).await?,
                None => Value::Null,
            };
            let d = stored.descriptor.as_ref();
            (
                capability_names(&imports),
                d.map_or(Confirmation::Never, |d| d.confirmation),
                d.and_then(|d| d.output_schema.clone()),
                d.and_then(|d| d.tool_type.clone()),
            )
        }
    };
    Ok(ToolView {
        id: stored.id.clone(),
        name: stored.name.clone(),
        description: stored.description.clone(),
        source: match stored.kind {
            ToolKind::Http => "http",
            ToolKind::Wasm => "wasm",
        }
        .into(),
        tool_type,
        input_schema: stored.input_schema.clone(),
        output_schema,
        confirmation,
        config: (stored.kind == ToolKind::Http).then(|| masked_config(&stored.config)),
        component_sha256: stored.component_sha256.clone(),
        capabilities,
        created_at: Some(stored.created_at.clone()),
        updated_at: Some(stored.updated_at.clone()),
    })
}

/// List builtin and custom tools with their input schemas.
#[utoipa::path(get, path = "/api/tools", tag = "tools",
    responses((status = 200, body = [ToolView]), (status = 401)))]
pub async fn list_tools(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ToolView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let mut views: Vec<ToolView> = state
        .registry
        .builtins()
        .iter()
        .map(|t| builtin_view(t, state.registry.builtin_capabilities(&t.descriptor.name)))
        .collect();
    for stored in state.store.list_tools().await? {
        views.push(custom_view(&state, &stored).await?);
    }
    Ok(Json(views))
}

/// Create a custom tool: JSON for a declarative HTTP tool, or a WASM component
/// (`application/wasm` body or multipart `file`).
#[utoipa::path(post, path = "/api/tools", tag = "tools",
    request_body(content(
        (HttpToolBody = "application/json"),
        (Vec<u8> = "application/wasm"),
        (Object = "multipart/form-data")
    )),
    responses((status = 201, description = "The HTTP tool (JSON) or the upload result (component)"),
        (status = 400), (status = 401), (status = 403), (status = 409), (status = 413),
        (status = 415), (status = 422)))]
pub async fn create_tool(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Scope::ToolsWrite)?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if is_json(request.headers()) {
        let bytes = read_body(request, &state).await?;
        let body: HttpToolBody = parse_json(&bytes)?;
        let name = body.name.clone();
        let fields = body.into_fields()?;
        if state.registry.is_builtin(&name) {
            return Err(ApiError::Conflict(format!(
                "`{name}` is a builtin tool's name"
            )));
        }
        let created = state
            .store
            .create_tools(vec![fields])
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict => {
                    ApiError::Conflict(format!("a tool named `{name}` already exists"))
                }
                other => other.into(),
            })?;
        let view = custom_view(&state, &created[0]).await?;
        return Ok((
            StatusCode::CREATED,
            Json(serde_json::to_value(view).unwrap_or_default()),
        ));
    }
    let bytes = if content_type.starts_with("application/wasm")
        || content_type.starts_with("application/octet-stream")
    {
        read_body(request, &state).await?.to_vec()
    } else if content_type.starts_with("multipart/form-data") {
        component_from_multipart(request, &state).await?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send JSON (`application/json`) for an HTTP tool, or a component as `application/wasm` or a multipart form with a `file` field".into(),
        ));
    };
    if bytes.len() > state.config.max_upload_bytes {
        return Err(too_large(&state));
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(ApiError::Unprocessable(
            "the upload is not a WebAssembly component (it does not start with `\\0asm`)".into(),
        ));
    }
    let (component, tools) = state.registry.upload(&bytes).await?;
    let mut views = Vec::new();
    for tool in &tools {
        views.push(custom_view(&state, tool).await?);
    }
    let imports = component.imports().to_vec();
    let upload = UploadView {
        component: ComponentView {
            sha256: component.content_hash().to_string(),
            size: component.size(),
            capabilities: capability_names(&serde_json::to_value(&imports).unwrap_or_default()),
            imports,
        },
        tools: views,
    };
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(upload).unwrap_or_default()),
    ))
}

fn too_large(state: &AppState) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the component is larger than the {} MiB upload limit (the operator can raise it with `corral serve --max-upload-mib`)",
        state.config.max_upload_bytes / (1024 * 1024)
    ))
}

async fn component_from_multipart(request: Request, state: &AppState) -> Result<Vec<u8>, ApiError> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("invalid multipart form: {e}")))?;
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(state)
        } else {
            ApiError::BadRequest(format!("invalid multipart form: {e}"))
        }
    })? {
        if field.name() == Some("file") || field.file_name().is_some() {
            return field.bytes().await.map(|b| b.to_vec()).map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(state)
                } else {
                    ApiError::BadRequest(format!("invalid multipart form: {e}"))
                }
            });
        }
    }
    Err(ApiError::BadRequest(
        "the multipart form has no `file` field with the component".into(),
    ))
}

async fn find_custom(state: &AppState, id: &str) -> Result<StoredTool, ApiError> {
    state
        .store
        .get_tool(id)
        .await?
        .ok_or_else(|| ApiError::not_found("custom tool", id))
}

/// Get a tool: a custom tool by id, or a builtin by name.
#[utoipa::path(get, path = "/api/tools/{id}", tag = "tools",
    params(("id" = String, Path, description = "Custom tool id, or a builtin's name")),
    responses((status = 200, body = ToolView), (status = 401), (status = 404)))]
pub async fn get_tool(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<ToolView>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    if let Some(tool) = state
        .registry
        .builtins()
        .iter()
        .find(|t| t.descriptor.name == id)
    {
        return Ok(Json(builtin_view(
            tool,
            state.registry.builtin_capabilities(&id),
        )));
    }
    let stored = find_custom(&state, &id).await?;
    Ok(Json(custom_view(&state, &stored).await?))
}

/// Replace a custom tool. HTTP tools take the same body as at creation; WASM tools take only
/// `description` (their schema comes from the component: upload a new one to change it).
#[utoipa::path(put, path = "/api/tools/{id}", tag = "tools", request_body = HttpToolBody,
    params(("id" = String, Path, description = "Custom tool id")),
    responses((status = 200, body = ToolView), (status = 400), (status = 401), (status = 404),
        (status = 409)))]
pub async fn replace_tool(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<ToolView>, ApiError> {
    caller.require(Scope::ToolsWrite)?;
    if state.registry.is_builtin(&id) {
        return Err(ApiError::BadRequest(
            "builtin tools cannot be changed".into(),
        ));
    }
    let stored = find_custom(&state, &id).await?;
    let fields = match stored.kind {
        ToolKind::Http => {
            let body: HttpToolBody = from_value(Value::Object(body))?;
            let fields = body.into_fields()?;
            if fields.name != stored.name {
                if state.registry.is_builtin(&fields.name) {
                    return Err(ApiError::Conflict(format!(
                        "`{}` is a builtin tool's name",
                        fields.name
                    )));
                }
                if state.store.count_assignments_of(&stored.name).await? > 0 {
                    return Err(ApiError::Conflict(format!(
                        "`{}` is assigned to agents; remove those assignments before renaming it",
                        stored.name
                    )));
                }
            }
            fields
        }
        ToolKind::Wasm => {
            if let Some(key) = body.keys().find(|k| k.as_str() != "description") {
                return Err(ApiError::BadRequest(format!(
                    "`{key}` cannot be changed on a WASM tool: its name and schemas come from the component; upload a new component with POST /api/tools (only `description` can be changed here)"
                )));
            }
            let description = match body.get("description") {
                Some(Value::String(d)) if !d.trim().is_empty() => d.clone(),
                _ => {
                    return Err(ApiError::BadRequest(
                        "`description` (a non-empty string) is required".into(),
                    ));
                }
            };
            ToolFields {
                name: stored.name.clone(),
                description,
                kind: ToolKind::Wasm,
                input_schema: stored.input_schema.clone(),
                config: stored.config.clone(),
                component_sha256: stored.component_sha256.clone(),
                descriptor: stored.descriptor.clone(),
            }
        }
    };
    let name = fields.name.clone();
    let updated = state
        .store
        .update_tool(&id, fields)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict => {
                ApiError::Conflict(format!("a tool named `{name}` already exists"))
            }
            other => other.into(),
        })?
        .ok_or_else(|| ApiError::not_found("custom tool", &id))?;
    Ok(Json(custom_view(&state, &updated).await?))
}

/// Delete a custom tool that no agent uses.
#[utoipa::path(delete, path = "/api/tools/{id}", tag = "tools",
    params(("id" = String, Path, description = "Custom tool id")),
    responses((status = 204), (status = 400), (status = 401), (status = 404), (status = 409)))]
pub async fn delete_tool(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ToolsWrite)?;
    if state.registry.is_builtin(&id) {
        return Err(ApiError::BadRequest(
            "builtin tools cannot be deleted".into(),
        ));
    }
    let stored = find_custom(&state, &id).await?;
    let users = state.store.count_assignments_of(&stored.name).await?;
    if users > 0 {
        return Err(ApiError::Conflict(format!(
            "`{}` is assigned to {users} agent(s); remove those assignments first",
            stored.name
        )));
    }
    state.store.delete_tool(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

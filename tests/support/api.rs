//! A REST API under test: the real router (`corral::api::app`) over a fresh database, driven
//! with `oneshot` requests. Each fixture gets its own SQLite file or its own Postgres schema,
//! so tests run in parallel without seeing each other's rows.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use corral::api::{AppState, app};
use corral::server::config::{FileConfig, Overrides, ServerConfig};
use corral::server::{AdminKey, build_state, ensure_admin_key};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The Postgres the tests use: `CORRAL_TEST_POSTGRES_URL`, or the one every dev machine and
/// CI run has (127.0.0.1:5432, database `test`, trust auth).
pub fn postgres_base_url() -> String {
    std::env::var("CORRAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Which database a fixture runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file in the fixture's data directory.
    Sqlite,
    /// A fresh schema in the test Postgres database.
    Postgres,
}

/// A server under test.
pub struct TestApi {
    /// The router.
    pub router: Router,
    /// The state behind it (store, registry).
    pub state: AppState,
    /// An admin key.
    pub admin: String,
    /// The data directory.
    pub data: tempfile::TempDir,
    /// The settings it was started with (a restart reuses them).
    pub config: ServerConfig,
    schema: Option<String>,
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body.
    pub body: Value,
    /// Headers.
    pub headers: axum::http::HeaderMap,
}

impl Reply {
    /// The `error` message of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_else(|| {
            panic!(
                "expected an {{\"error\"}} body, got {} {}",
                self.status, self.body
            )
        })
    }
}

impl TestApi {
    /// A fresh server on `db`.
    pub async fn new(db: Db) -> Self {
        Self::new_with(db, |_| {}).await
    }

    /// A fresh server on `db` with adjusted settings.
    pub async fn new_with(db: Db, tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let (url, schema) = match db {
            Db::Sqlite => (corral::store::Store::sqlite_url(data.path()), None),
            Db::Postgres => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let base = postgres_base_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("the API tests need Postgres at {base} (set CORRAL_TEST_POSTGRES_URL): {e}")
                    });
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    Some(schema),
                )
            }
        };
        let overrides = Overrides {
            data_dir: Some(data.path().to_path_buf()),
            database_url: Some(url),
            cache_dir: Some(crate::shared_cache_dir()),
            ..Overrides::default()
        };
        let mut config = ServerConfig::resolve(overrides, FileConfig::default()).expect("config");
        tweak(&mut config);
        Self::with_config(config, data, schema).await
    }

    /// A server with explicit settings.
    pub async fn with_config(
        config: ServerConfig,
        data: tempfile::TempDir,
        schema: Option<String>,
    ) -> Self {
        let state = build_state(&config).await.expect("server state");
        let AdminKey::Generated(admin) = ensure_admin_key(&state.store, None)
            .await
            .expect("admin key")
        else {
            panic!("a fresh database must get a generated admin key");
        };
        Self {
            router: app(state.clone()),
            state,
            admin,
            data,
            config,
            schema,
        }
    }

    /// A new server process on the same database and data directory: a fresh engine with
    /// nothing in memory, as after a restart (or another instance sharing the database).
    pub async fn restarted(&self) -> Router {
        let state = build_state(&self.config).await.expect("server state");
        app(state)
    }

    /// Sends a request and reads a server-sent event stream to its end, returning each event's
    /// `id` and JSON data.
    pub async fn sse_on(
        router: &Router,
        request: Request<Body>,
    ) -> (StatusCode, Vec<(i64, Value)>) {
        let response = router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        if status != StatusCode::OK {
            return (
                status,
                vec![(
                    0,
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                )],
            );
        }
        let mut events = Vec::new();
        for frame in text.split("\n\n") {
            let mut id = 0;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().unwrap_or(0);
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).expect("each data line is JSON"));
                }
            }
            if let Some(data) = data {
                events.push((id, data));
            }
        }
        (status, events)
    }

    /// POSTs a run to `/run/stream` as `key` and reads the stream to its end.
    pub async fn run_stream(&self, agent: &str, key: &str, body: Value) -> Vec<(i64, Value)> {
        let request = Request::post(format!("/api/agents/{agent}/run/stream"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, events) = Self::sse_on(&self.router, request).await;
        assert_eq!(status, StatusCode::OK, "{events:?}");
        events
    }

    /// Sends a request with `key` (if any) and a JSON body (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.raw(request.body(body).expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{status}: the body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// GET as admin.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Some(&self.admin), None).await
    }

    /// POST JSON as admin.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&self.admin), Some(body))
            .await
    }

    /// PATCH JSON as admin.
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(&self.admin), Some(body))
            .await
    }

    /// PUT JSON as admin.
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(&self.admin), Some(body))
            .await
    }

    /// DELETE as admin.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, Some(&self.admin), None)
            .await
    }

    /// Uploads a component file as admin (`POST /api/tools`, `application/wasm`).
    pub async fn upload(&self, path: &str) -> Reply {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        self.raw(
            Request::post("/api/tools")
                .header("authorization", format!("Bearer {}", self.admin))
                .header("content-type", "application/wasm")
                .body(Body::from(bytes))
                .expect("request"),
        )
        .await
    }

    /// Creates a key with `scopes` (and a user) and returns its secret.
    pub async fn key(&self, scopes: &[&str], user: Option<&str>) -> String {
        let reply = self
            .post(
                "/api/keys",
                serde_json::json!({"name": "test", "scopes": scopes, "user_ref": user}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["key"].as_str().expect("key").to_string()
    }

    /// Creates an agent and returns its id.
    pub async fn agent(&self, name: &str) -> String {
        let reply = self
            .post(
                "/api/agents",
                serde_json::json!({"name": name, "model": "scripted", "system_prompt": "Be brief."}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_string()
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        // Drop the test's Postgres schema; a fixture must not leave rows behind in CI's database.
        if let Some(schema) = self.schema.take() {
            let base = postgres_base_url();
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    if let Ok(mut conn) =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&base).await
                    {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

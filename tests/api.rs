//! Black-box tests of the REST API, each run on SQLite and on Postgres: every route's happy
//! path, its 4xx rules, auth and scopes, and ownership of sessions and runs.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use corral::artifacts;
use corral_tests::api::{Db, Reply, TestApi};
use serde_json::{Value, json};
use std::io::Write;

/// Runs each listed test on both databases.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(corral_tests::api::TestApi::new(corral_tests::api::Db::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(corral_tests::api::TestApi::new(corral_tests::api::Db::Postgres).await).await
                }
            )*
        }
    };
}

on_both_databases!(
    auth_and_keys,
    agents_crud_and_validation,
    uploaded_component_is_listed_assigned_and_overridden,
    assignment_settings_are_checked,
    database_tool_schemas_rules,
    upload_refusals,
    http_tools_in_both_shapes,
    knowledge_bases_and_assignments,
    mcp_servers,
    hooks,
    sessions_and_runs_are_owned,
    http_hygiene,
);

fn status(reply: &Reply, expected: StatusCode) {
    assert_eq!(reply.status, expected, "body: {}", reply.body);
}

async fn auth_and_keys(api: TestApi) {
    // No key, a wrong key: 401 with a message naming the headers.
    let none = api.send(Method::GET, "/api/agents", None, None).await;
    status(&none, StatusCode::UNAUTHORIZED);
    assert!(none.error().contains("x-api-key"), "{}", none.error());
    let wrong = api
        .send(Method::GET, "/api/agents", Some("corral_nope"), None)
        .await;
    status(&wrong, StatusCode::UNAUTHORIZED);
    // All three headers work.
    for header in ["authorization", "apikey", "x-api-key"] {
        let value = if header == "authorization" {
            format!("Bearer {}", api.admin)
        } else {
            api.admin.clone()
        };
        let reply = api
            .raw(
                Request::get("/api/agents")
                    .header(header, value)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        status(&reply, StatusCode::OK);
    }
    // Health needs no key.
    status(
        &api.send(Method::GET, "/health", None, None).await,
        StatusCode::OK,
    );

    // Keys: created with scopes, listed without secrets, stored hashed.
    let created = api
        .post(
            "/api/keys",
            json!({"name": "reader", "scopes": ["agents:read"]}),
        )
        .await;
    status(&created, StatusCode::CREATED);
    let reader = created.body["key"].as_str().unwrap().to_string();
    assert!(reader.starts_with("corral_"));
    let listed = api.get("/api/keys").await;
    status(&listed, StatusCode::OK);
    let text = listed.body.to_string();
    assert!(
        !text.contains(&reader) && !text.contains(&api.admin),
        "secrets leaked: {text}"
    );
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    let admin_row = &listed.body[0];
    assert!(admin_row["created_at"].is_string());
    assert!(
        admin_row["last_used_at"].is_string(),
        "last_used_at is set once used"
    );

    // Scopes: a reader can read but not write, and cannot manage keys.
    status(
        &api.send(Method::GET, "/api/agents", Some(&reader), None)
            .await,
        StatusCode::OK,
    );
    let denied = api
        .send(
            Method::POST,
            "/api/agents",
            Some(&reader),
            Some(json!({"name": "x", "model": "scripted"})),
        )
        .await;
    status(&denied, StatusCode::FORBIDDEN);
    assert!(denied.error().contains("agents:write"));
    status(
        &api.send(Method::GET, "/api/keys", Some(&reader), None)
            .await,
        StatusCode::FORBIDDEN,
    );
    // service_role does everything but key management.
    let service = api.key(&["service_role"], None).await;
    status(
        &api.send(
            Method::POST,
            "/api/agents",
            Some(&service),
            Some(json!({"name": "s", "model": "scripted"})),
        )
        .await,
        StatusCode::CREATED,
    );
    status(
        &api.send(Method::GET, "/api/keys", Some(&service), None)
            .await,
        StatusCode::FORBIDDEN,
    );

    // Bad key requests.
    for (body, needle) in [
        (json!({"name": "x", "scopes": ["root"]}), "scopes"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "", "scopes": ["agents:read"]}), "name"),
        (json!({"scopes": ["agents:read"]}), "name"),
        (
            json!({"name": "u", "scopes": ["service_role"], "user_ref": "alice"}),
            "user_ref",
        ),
    ] {
        let reply = api.post("/api/keys", body.clone()).await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }

    // Deleting: unknown 404, the last admin 409, others 204 and the key stops working.
    status(&api.delete("/api/keys/nope").await, StatusCode::NOT_FOUND);
    let admin_id = admin_row["id"].as_str().unwrap();
    let last = api.delete(&format!("/api/keys/{admin_id}")).await;
    status(&last, StatusCode::CONFLICT);
    assert!(last.error().contains("last admin key"));
    let reader_id = created.body["id"].as_str().unwrap();
    status(
        &api.delete(&format!("/api/keys/{reader_id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.send(Method::GET, "/api/agents", Some(&reader), None)
            .await,
        StatusCode::UNAUTHORIZED,
    );
}

async fn agents_crud_and_validation(api: TestApi) {
    let created = api
        .post(
            "/api/agents",
            json!({"name": "My Agent", "model": "gpt-4o", "system_prompt": "You are helpful.",
                   "settings": {"temperature": 0.7, "max_steps": 4}}),
        )
        .await;
    status(&created, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.body["settings"],
        json!({"temperature": 0.7, "max_steps": 4})
    );

    let listed = api.get("/api/agents").await;
    status(&listed, StatusCode::OK);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let got = api.get(&format!("/api/agents/{id}")).await;
    status(&got, StatusCode::OK);
    assert_eq!(got.body["system_prompt"], "You are helpful.");

    // PATCH merges settings key by key; null removes one.
    let patched = api
        .patch(
            &format!("/api/agents/{id}"),
            json!({"settings": {"temperature": 0.5, "max_steps": null}, "name": "Renamed"}),
        )
        .await;
    status(&patched, StatusCode::OK);
    assert_eq!(patched.body["settings"], json!({"temperature": 0.5}));
    assert_eq!(patched.body["name"], "Renamed");
    assert_eq!(patched.body["model"], "gpt-4o");

    for (body, needle) in [
        (json!({"model": "scripted"}), "name"),
        (json!({"name": "x"}), "model"),
        (json!({"name": "  ", "model": "scripted"}), "name"),
        (json!({"name": "x", "model": "has space"}), "model"),
        (
            json!({"name": "x", "model": "scripted", "settings": {"temperature": 9}}),
            "temperature",
        ),
        (
            json!({"name": "x", "model": "scripted", "settings": {"temprature": 1}}),
            "temprature",
        ),
        (
            json!({"name": "x", "model": "scripted", "settings": [1]}),
            "settings",
        ),
        (json!({"name": 5, "model": "scripted"}), "name"),
        (
            json!({"name": "x", "model": "scripted", "colour": "red"}),
            "colour",
        ),
    ] {
        let reply = api.post("/api/agents", body.clone()).await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }
    let bad_patch = api
        .patch(
            &format!("/api/agents/{id}"),
            json!({"settings": {"max_steps": 0}}),
        )
        .await;
    status(&bad_patch, StatusCode::BAD_REQUEST);
    status(
        &api.patch("/api/agents/nope", json!({"name": "x"})).await,
        StatusCode::NOT_FOUND,
    );
    status(&api.get("/api/agents/nope").await, StatusCode::NOT_FOUND);

    status(
        &api.delete(&format!("/api/agents/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.get(&format!("/api/agents/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    status(
        &api.delete(&format!("/api/agents/{id}")).await,
        StatusCode::NOT_FOUND,
    );
}

async fn uploaded_component_is_listed_assigned_and_overridden(api: TestApi) {
    // Upload the echo component: describe() ran in the sandbox, the tools come back.
    let uploaded = api.upload(artifacts::ECHO).await;
    status(&uploaded, StatusCode::CREATED);
    let tools = uploaded.body["tools"].as_array().unwrap();
    let add = tools
        .iter()
        .find(|t| t["name"] == "add")
        .expect("add listed");
    assert_eq!(add["source"], "wasm");
    assert_eq!(add["input_schema"]["type"], "object");
    let sha = uploaded.body["component"]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    let caps = uploaded.body["component"]["capabilities"]
        .as_array()
        .unwrap();
    assert!(
        caps.iter().any(|c| c == "config") && caps.iter().any(|c| c == "log"),
        "{caps:?}"
    );

    // GET /api/tools lists it with its schema; GET /api/tools/{id} shows one.
    let listed = api.get("/api/tools").await;
    status(&listed, StatusCode::OK);
    // The builtins shipped inside the server are listed with their schemas too.
    let builtins: Vec<&Value> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] == "builtin")
        .collect();
    for name in [
        "storage_read",
        "storage_write",
        "http_request",
        "web_scrape",
        "web_search",
        "database_query",
        "database_write",
        "code_execute",
    ] {
        let tool = builtins
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("builtin {name} not listed"));
        assert_eq!(tool["input_schema"]["type"], "object", "{name}");
    }
    let listed_add = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "add")
        .unwrap()
        .clone();
    assert_eq!(listed_add["input_schema"], add["input_schema"]);
    let one = api
        .get(&format!("/api/tools/{}", add["id"].as_str().unwrap()))
        .await;
    status(&one, StatusCode::OK);
    assert_eq!(one.body["component_sha256"], sha);

    // Assign it, then PATCH a config_override: the key not in the schema comes back ignored.
    let agent = api.agent("calc").await;
    let assigned = api
        .post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "add"}),
        )
        .await;
    status(&assigned, StatusCode::CREATED);
    let assignment = assigned.body["id"].as_str().unwrap().to_string();
    let patched = api
        .patch(
            &format!("/api/agents/{agent}/tools/{assignment}"),
            json!({"config_override": {"b": 100, "max_results": 3}}),
        )
        .await;
    status(&patched, StatusCode::OK);
    assert_eq!(patched.body["applied_keys"], json!(["b"]));
    assert_eq!(patched.body["ignored_keys"], json!(["max_results"]));
    // Read back: same report.
    let read = api
        .get(&format!("/api/agents/{agent}/tools/{assignment}"))
        .await;
    status(&read, StatusCode::OK);
    assert_eq!(read.body["ignored_keys"], json!(["max_results"]));
    assert_eq!(
        read.body["config_override"],
        json!({"b": 100, "max_results": 3})
    );
    let list = api.get(&format!("/api/agents/{agent}/tools")).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);

    // The stored assignment, run through the boundary: the forced `b` wins over the model's.
    let stored = api
        .state
        .store
        .get_assignment(&agent, &assignment)
        .await
        .unwrap()
        .unwrap();
    let resolved = api.state.registry.resolve("add").await.unwrap().unwrap();
    let prepared = corral::boundary::assignment::Assignment::for_tool(
        stored.spec,
        resolved.tool,
        &api.state.registry.sandbox().config().ceilings,
    )
    .unwrap();
    let mut toolset = corral::boundary::assignment::Toolset::new();
    toolset.insert(prepared);
    let boundary = corral::boundary::Boundary::new(
        api.state.registry.sandbox().clone(),
        std::sync::Arc::new(corral::boundary::gate::MemoryPendingStore::default()),
        std::sync::Arc::new(corral::boundary::record::NoRecorder),
    );
    let outcome = boundary
        .call(
            &toolset,
            corral_tests::call("add", json!({"a": 1, "b": 2})),
            false,
        )
        .await;
    let corral::boundary::CallOutcome::Finished(done) = outcome else {
        panic!("not gated")
    };
    assert_eq!(done.result.unwrap(), json!({"sum": 101.0}));

    // Assigned twice: 409. Unknown tool: 404. Delete: 204, then 404.
    status(
        &api.post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "add"}),
        )
        .await,
        StatusCode::CONFLICT,
    );
    let unknown = api
        .post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "nope"}),
        )
        .await;
    status(&unknown, StatusCode::NOT_FOUND);
    assert!(unknown.error().contains("GET /api/tools"));
    status(
        &api.post(&format!("/api/agents/{agent}/tools"), json!({}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    status(
        &api.post("/api/agents/nope/tools", json!({"tool_name": "add"}))
            .await,
        StatusCode::NOT_FOUND,
    );
    // A custom tool in use cannot be deleted.
    let in_use = api
        .delete(&format!("/api/tools/{}", add["id"].as_str().unwrap()))
        .await;
    status(&in_use, StatusCode::CONFLICT);
    status(
        &api.delete(&format!("/api/agents/{agent}/tools/{assignment}"))
            .await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.get(&format!("/api/agents/{agent}/tools/{assignment}"))
            .await,
        StatusCode::NOT_FOUND,
    );
    status(
        &api.delete(&format!("/api/agents/{agent}/tools/{assignment}"))
            .await,
        StatusCode::NOT_FOUND,
    );
    status(
        &api.delete(&format!("/api/tools/{}", add["id"].as_str().unwrap()))
            .await,
        StatusCode::NO_CONTENT,
    );
}

async fn assignment_settings_are_checked(api: TestApi) {
    status(&api.upload(artifacts::ECHO).await, StatusCode::CREATED);
    let agent = api.agent("settings").await;
    let created = api
        .post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "config_get", "secrets": {"token": "s3cret-value"}, "config_values": {"region": "eu"}}),
        )
        .await;
    status(&created, StatusCode::CREATED);
    assert_eq!(created.body["secrets"], json!({"token": "********"}));
    assert!(!created.body.to_string().contains("s3cret-value"));
    assert_eq!(created.body["config_values"], json!({"region": "eu"}));
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/api/agents/{agent}/tools/{id}");

    // Every setting in one PATCH.
    let patched = api
        .patch(
            &path,
            json!({"confirmation": "always",
                   "grants": {"http": {"hosts": ["api.example.com"]}, "storage": {"bucket": "reports"}},
                   "limits": {"memory_mib": 32, "timeout_ms": 2000, "output_kib": 64},
                   "secrets": {"token": null, "other": "x"}}),
        )
        .await;
    status(&patched, StatusCode::OK);
    assert_eq!(patched.body["confirmation"], "always");
    assert_eq!(patched.body["requires_confirmation"], true);
    assert_eq!(patched.body["grants"]["storage"]["bucket"], "reports");
    assert_eq!(patched.body["limits"]["memory_mib"], 32);
    assert_eq!(patched.body["secrets"], json!({"other": "********"}));

    // Powabase's silent no-op `config` is a 400 naming the accepted keys.
    let config = api.patch(&path, json!({"config": {"schemas": {}}})).await;
    status(&config, StatusCode::BAD_REQUEST);
    for key in [
        "config_override",
        "confirmation",
        "grants",
        "limits",
        "secrets",
    ] {
        assert!(config.error().contains(key), "{}", config.error());
    }
    for (body, needle) in [
        (json!({"confirmation": "sometimes"}), "confirmation"),
        (json!({"grants": {"http": {"hostz": []}}}), "grants"),
        (
            json!({"grants": {"http": {"hosts": ["bad host!"]}}}),
            "host",
        ),
        (
            json!({"grants": {"storage": {"bucket": "../up"}}}),
            "bucket",
        ),
        (json!({"limits": {"memory_mib": 100000}}), "memory"),
        (json!({"limits": {"timeout_ms": 0}}), "timeout"),
        (json!({"config_override": [1]}), "config_override"),
        (json!({"secrets": {"x": 5}}), "secrets"),
        (json!({}), "changes nothing"),
    ] {
        let reply = api.patch(&path, body.clone()).await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }
    // Nothing was saved by the refused PATCHes.
    let read = api.get(&path).await;
    assert_eq!(read.body["limits"]["memory_mib"], 32);
    status(
        &api.patch(
            &format!("/api/agents/{agent}/tools/nope"),
            json!({"confirmation": "never"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
}

async fn database_tool_schemas_rules(api: TestApi) {
    status(&api.upload(artifacts::ECHO).await, StatusCode::CREATED);
    let agent = api.agent("db").await;
    let created = api
        .post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "scoped_echo"}),
        )
        .await;
    status(&created, StatusCode::CREATED);
    let path = format!(
        "/api/agents/{agent}/tools/{}",
        created.body["id"].as_str().unwrap()
    );
    let ok = api
        .patch(
            &path,
            json!({"config_override": {"schemas": {"public": ["users", "orders"]}}}),
        )
        .await;
    status(&ok, StatusCode::OK);
    assert_eq!(ok.body["applied_keys"], json!(["schemas"]));
    for (schemas, needle) in [
        (json!(["public"]), "object"),
        (json!({"auth": ["users"]}), "auth"),
        (json!({"pg_catalog": ["pg_class"]}), "pg_catalog"),
        (json!({"1bad": ["t"]}), "1bad"),
        (json!({"public": "users"}), "list"),
        (json!({"public": ["bad name"]}), "bad name"),
    ] {
        let reply = api
            .patch(&path, json!({"config_override": {"schemas": schemas}}))
            .await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(
            reply.error().contains(needle),
            "{schemas}: {}",
            reply.error()
        );
    }
}

async fn upload_refusals(api: TestApi) {
    // Not WebAssembly, or a core module rather than a component: 422.
    let garbage = api
        .raw(
            Request::post("/api/tools")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/wasm")
                .body(Body::from("hello"))
                .unwrap(),
        )
        .await;
    status(&garbage, StatusCode::UNPROCESSABLE_ENTITY);
    let core_module = api
        .raw(
            Request::post("/api/tools")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/wasm")
                .body(Body::from(b"\0asm\x01\0\0\0".to_vec()))
                .unwrap(),
        )
        .await;
    status(&core_module, StatusCode::UNPROCESSABLE_ENTITY);
    // Multipart works; the same tools again are a 409.
    let bytes = std::fs::read(artifacts::NOTES).unwrap();
    let boundary = "corral-test-boundary";
    let mut form = Vec::new();
    write!(form, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.wasm\"\r\nContent-Type: application/wasm\r\n\r\n").unwrap();
    form.extend_from_slice(&bytes);
    write!(form, "\r\n--{boundary}--\r\n").unwrap();
    let multipart = |form: Vec<u8>| {
        Request::post("/api/tools")
            .header("authorization", format!("Bearer {}", api.admin))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(form))
            .unwrap()
    };
    let first = api.raw(multipart(form.clone())).await;
    status(&first, StatusCode::CREATED);
    assert!(
        first.body["component"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "storage")
    );
    let again = api.raw(multipart(form)).await;
    status(&again, StatusCode::CONFLICT);
    // Wrong content type: 415. Needs tools:write.
    let text = api
        .raw(
            Request::post("/api/tools")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "text/plain")
                .body(Body::from("x"))
                .unwrap(),
        )
        .await;
    status(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reader = api.key(&["agents:read"], None).await;
    let forbidden = api
        .raw(
            Request::post("/api/tools")
                .header("x-api-key", reader)
                .header("content-type", "application/wasm")
                .body(Body::from(bytes.clone()))
                .unwrap(),
        )
        .await;
    status(&forbidden, StatusCode::FORBIDDEN);
    // Over the upload limit: 413 naming the limit.
    let small = corral::api::AppState {
        config: std::sync::Arc::new(corral::api::ApiConfig {
            max_upload_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
        }),
        ..api.state.clone()
    };
    let big = vec![0u8; 2 * 1024 * 1024];
    use tower::ServiceExt;
    let response = corral::api::app(small)
        .oneshot(
            Request::post("/api/tools")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/wasm")
                .body(Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["error"].as_str().unwrap().contains("larger"), "{body}");
}

async fn http_tools_in_both_shapes(api: TestApi) {
    let endpoint = format!("http://{}/echo-json", echo_json_server().await);
    // Skill shape.
    let skill = api
        .post(
            "/api/tools",
            json!({"name": "lookup", "description": "Looks things up.", "type": "http",
                   "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
                   "config": {"endpoint": endpoint, "method": "post", "headers": {"Authorization": "Bearer t0ken"},
                              "timeout_seconds": 5, "allow_private_network": true}}),
        )
        .await;
    status(&skill, StatusCode::CREATED);
    assert_eq!(skill.body["source"], "http");
    assert_eq!(skill.body["config"]["method"], "POST");
    assert_eq!(skill.body["config"]["headers"]["Authorization"], "********");
    // Docs shape.
    let docs = api
        .post(
            "/api/tools",
            json!({"name": "weather", "description": "Gets weather.", "endpoint_url": "https://weather.example.com/api",
                   "method": "GET", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}),
        )
        .await;
    status(&docs, StatusCode::CREATED);
    assert_eq!(
        docs.body["config"]["endpoint"],
        "https://weather.example.com/api"
    );

    // Executed through the same boundary: assign, resolve, call.
    let agent = api.agent("http").await;
    status(
        &api.post(
            &format!("/api/agents/{agent}/tools"),
            json!({"tool_name": "lookup"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let resolved = api.state.registry.resolve("lookup").await.unwrap().unwrap();
    let mut toolset = corral::boundary::assignment::Toolset::new();
    toolset.insert(
        corral::boundary::assignment::Assignment::for_tool(
            corral_tests::assign("lookup"),
            resolved.tool,
            &api.state.registry.sandbox().config().ceilings,
        )
        .unwrap(),
    );
    let boundary = corral::boundary::Boundary::new(
        api.state.registry.sandbox().clone(),
        std::sync::Arc::new(corral::boundary::gate::MemoryPendingStore::default()),
        std::sync::Arc::new(corral::boundary::record::NoRecorder),
    );
    let corral::boundary::CallOutcome::Finished(done) = boundary
        .call(
            &toolset,
            corral_tests::call("lookup", json!({"q": "rust"})),
            false,
        )
        .await
    else {
        panic!("not gated")
    };
    let result = done.result.expect("the endpoint answered");
    assert_eq!(result["body"], json!({"q": "rust"}), "{result}");
    assert_eq!(result["authorization"], "Bearer t0ken");
    // Invalid arguments never leave the host.
    let corral::boundary::CallOutcome::Finished(bad) = boundary
        .call(
            &toolset,
            corral_tests::call("lookup", json!({"q": 5})),
            false,
        )
        .await
    else {
        panic!("not gated")
    };
    assert_eq!(
        bad.result.unwrap_err().kind,
        corral::tool::FailureKind::InvalidArguments
    );

    // Refusals.
    for (body, code, needle) in [
        (
            json!({"name": "x", "description": "d", "type": "wasm", "input_schema": {"type": "object"}}),
            400,
            "upload",
        ),
        (
            json!({"name": "x", "description": "d", "input_schema": {"type": "object"}}),
            400,
            "endpoint",
        ),
        (
            json!({"name": "x", "description": "d", "endpoint_url": "ftp://a/b", "input_schema": {"type": "object"}}),
            400,
            "http",
        ),
        (
            json!({"name": "x", "description": "d", "endpoint_url": "https://a/b", "method": "TRACE", "input_schema": {"type": "object"}}),
            400,
            "method",
        ),
        (
            json!({"name": "Bad Name", "description": "d", "endpoint_url": "https://a/b", "input_schema": {"type": "object"}}),
            400,
            "snake_case",
        ),
        (
            json!({"name": "x", "description": "d", "endpoint_url": "https://a/b", "input_schema": {"type": "string"}}),
            400,
            "input_schema",
        ),
        (
            json!({"name": "x", "description": "", "endpoint_url": "https://a/b", "input_schema": {"type": "object"}}),
            400,
            "description",
        ),
        (
            json!({"name": "x", "description": "d", "endpoint_url": "https://a/b", "config": {"endpoint": "https://a"}, "input_schema": {"type": "object"}}),
            400,
            "not both",
        ),
        (
            json!({"name": "x", "description": "d", "type": "http", "config": {"endpoint": "https://a", "verb": "GET"}, "input_schema": {"type": "object"}}),
            400,
            "verb",
        ),
        (
            json!({"name": "lookup", "description": "d", "endpoint_url": "https://a/b", "input_schema": {"type": "object"}}),
            409,
            "lookup",
        ),
    ] {
        let reply = api.post("/api/tools", body.clone()).await;
        assert_eq!(reply.status.as_u16(), code, "{body}: {}", reply.body);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }

    // PUT replaces an HTTP tool; renaming one that is assigned is refused.
    let id = docs.body["id"].as_str().unwrap();
    let put = api
        .put(
            &format!("/api/tools/{id}"),
            json!({"name": "weather", "description": "Gets the weather.", "endpoint_url": "https://weather.example.com/v2",
                   "input_schema": {"type": "object"}}),
        )
        .await;
    status(&put, StatusCode::OK);
    assert_eq!(put.body["description"], "Gets the weather.");
    assert_eq!(put.body["config"]["method"], "POST");
    let lookup_id = skill.body["id"].as_str().unwrap();
    let rename = api
        .put(
            &format!("/api/tools/{lookup_id}"),
            json!({"name": "lookup2", "description": "d", "endpoint_url": "https://a/b", "input_schema": {"type": "object"}}),
        )
        .await;
    status(&rename, StatusCode::CONFLICT);
    status(
        &api.put("/api/tools/nope", json!({"description": "x"}))
            .await,
        StatusCode::NOT_FOUND,
    );
    status(&api.get("/api/tools/nope").await, StatusCode::NOT_FOUND);
    status(
        &api.delete(&format!("/api/tools/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.get(&format!("/api/tools/{id}")).await,
        StatusCode::NOT_FOUND,
    );

    // A WASM tool's PUT takes only a description.
    status(&api.upload(artifacts::ECHO).await, StatusCode::CREATED);
    let tools = api.get("/api/tools").await;
    let echo_id = tools
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let renamed = api
        .put(&format!("/api/tools/{echo_id}"), json!({"name": "other"}))
        .await;
    status(&renamed, StatusCode::BAD_REQUEST);
    assert!(renamed.error().contains("component"));
    let described = api
        .put(
            &format!("/api/tools/{echo_id}"),
            json!({"description": "Echo, described anew."}),
        )
        .await;
    status(&described, StatusCode::OK);
    assert_eq!(described.body["description"], "Echo, described anew.");
    let resolved = api.state.registry.resolve("echo").await.unwrap().unwrap();
    assert_eq!(
        resolved.tool.descriptor.description,
        "Echo, described anew."
    );
}

/// A loopback endpoint for declarative HTTP tools: answers with the JSON body and the
/// Authorization header it received.
async fn echo_json_server() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/echo-json",
        axum::routing::post(
            |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                let authorization = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                axum::Json(json!({"body": body, "authorization": authorization}))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn knowledge_bases_and_assignments(api: TestApi) {
    let kb = api
        .post(
            "/api/knowledge-bases",
            json!({"name": "Docs", "description": "Product docs"}),
        )
        .await;
    status(&kb, StatusCode::CREATED);
    let kb_id = kb.body["id"].as_str().unwrap().to_string();
    status(&api.get("/api/knowledge-bases").await, StatusCode::OK);
    let patched = api
        .patch(
            &format!("/api/knowledge-bases/{kb_id}"),
            json!({"description": "All docs"}),
        )
        .await;
    status(&patched, StatusCode::OK);
    assert_eq!(patched.body["name"], "Docs");
    assert_eq!(patched.body["description"], "All docs");
    status(
        &api.post("/api/knowledge-bases", json!({"description": "no name"}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    status(
        &api.patch("/api/knowledge-bases/nope", json!({"name": "x"}))
            .await,
        StatusCode::NOT_FOUND,
    );
    status(
        &api.patch(
            &format!("/api/knowledge-bases/{kb_id}"),
            json!({"name": ""}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    );

    let agent = api.agent("kb").await;
    let path = format!("/api/agents/{agent}/knowledge-bases");
    let linked = api.post(&path, json!({"knowledge_base_id": kb_id})).await;
    status(&linked, StatusCode::CREATED);
    assert_eq!(linked.body["knowledge_base_name"], "Docs");
    let twice = api.post(&path, json!({"knowledge_base_id": kb_id})).await;
    status(&twice, StatusCode::CONFLICT);
    assert!(twice.error().contains("already assigned"));
    status(
        &api.post(&path, json!({"knowledge_base_id": "nope"})).await,
        StatusCode::NOT_FOUND,
    );
    status(&api.post(&path, json!({})).await, StatusCode::BAD_REQUEST);
    let list = api.get(&path).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let link_id = linked.body["id"].as_str().unwrap();
    status(
        &api.delete(&format!("{path}/{link_id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.delete(&format!("{path}/{link_id}")).await,
        StatusCode::NOT_FOUND,
    );
    // Deleting a knowledge base unlinks it everywhere.
    status(
        &api.post(&path, json!({"knowledge_base_id": kb_id})).await,
        StatusCode::CREATED,
    );
    status(
        &api.delete(&format!("/api/knowledge-bases/{kb_id}")).await,
        StatusCode::NO_CONTENT,
    );
    assert!(api.get(&path).await.body.as_array().unwrap().is_empty());
    status(
        &api.get(&format!("/api/knowledge-bases/{kb_id}")).await,
        StatusCode::NOT_FOUND,
    );
}

async fn mcp_servers(api: TestApi) {
    let agent = api.agent("mcp").await;
    let path = format!("/api/agents/{agent}/mcp-servers");
    let created = api
        .post(
            &path,
            json!({"name": "My MCP", "url": "https://mcp.example.com", "transport": "http",
                            "headers": {"Authorization": "Bearer secret-token"}}),
        )
        .await;
    status(&created, StatusCode::CREATED);
    assert_eq!(
        created.body["headers"],
        json!({"Authorization": "********"})
    );
    assert_eq!(created.body["enabled"], true);
    assert!(!created.body.to_string().contains("secret-token"));
    let id = created.body["id"].as_str().unwrap();
    let dup = api
        .post(
            &path,
            json!({"name": "My MCP", "url": "https://other.example.com"}),
        )
        .await;
    status(&dup, StatusCode::CONFLICT);
    assert!(dup.error().contains("My MCP"));
    for (body, needle) in [
        (json!({"url": "https://x"}), "name"),
        (json!({"name": "x", "url": "mcp.example.com"}), "url"),
        (
            json!({"name": "x", "url": "https://x", "transport": "stdio"}),
            "transport",
        ),
    ] {
        let reply = api.post(&path, body.clone()).await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }
    // PUT changes only what it names; headers stay write-only.
    let put = api
        .put(
            &format!("{path}/{id}"),
            json!({"url": "https://new-url.com", "enabled": false}),
        )
        .await;
    status(&put, StatusCode::OK);
    assert_eq!(put.body["url"], "https://new-url.com");
    assert_eq!(put.body["enabled"], false);
    assert_eq!(put.body["headers"], json!({"Authorization": "********"}));
    let stored = api
        .state
        .store
        .get_mcp_server(&agent, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.headers["Authorization"], "Bearer secret-token");
    let second = api
        .post(
            &path,
            json!({"name": "Second", "url": "https://b.example.com"}),
        )
        .await;
    status(&second, StatusCode::CREATED);
    let clash = api
        .put(
            &format!("{path}/{}", second.body["id"].as_str().unwrap()),
            json!({"name": "My MCP"}),
        )
        .await;
    status(&clash, StatusCode::CONFLICT);
    status(&api.get(&format!("{path}/{id}")).await, StatusCode::OK);
    assert_eq!(api.get(&path).await.body.as_array().unwrap().len(), 2);
    status(
        &api.put(&format!("{path}/nope"), json!({"url": "https://x.com"}))
            .await,
        StatusCode::NOT_FOUND,
    );
    status(
        &api.delete(&format!("{path}/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.get(&format!("{path}/{id}")).await,
        StatusCode::NOT_FOUND,
    );
}

async fn hooks(api: TestApi) {
    let agent = api.agent("hooks").await;
    let path = format!("/api/agents/{agent}/hooks");
    let docs = api.post(&path, json!({"event": "before_run", "type": "webhook", "config": {"url": "https://example.com/hook", "secret": "k"}})).await;
    status(&docs, StatusCode::CREATED);
    assert_eq!(docs.body["engine_event"], "OnRunStart");
    assert_eq!(docs.body["config"]["secret"], "********");
    let approval = api
        .post(
            &path,
            json!({"event": "PreToolUse", "type": "approval", "matcher": "database_query",
                            "config": {"message": "Approve this database query?"}}),
        )
        .await;
    status(&approval, StatusCode::CREATED);
    assert_eq!(approval.body["matcher"], "database_query");
    let rule = api
        .post(&path, json!({"event": "PreToolUse", "type": "rule", "enabled": false,
                            "config": {"rules": [{"field": "tool_input.url", "operator": "STARTS_WITH", "value": "http://"}], "action": "deny"}}))
        .await;
    status(&rule, StatusCode::CREATED);
    assert_eq!(rule.body["enabled"], false);
    for (body, needle) in [
        (
            json!({"event": "sometime", "type": "http", "config": {"url": "https://x"}}),
            "event",
        ),
        (
            json!({"event": "OnRunStart", "type": "email", "config": {}}),
            "type",
        ),
        (
            json!({"event": "OnRunStart", "type": "http", "config": {}}),
            "config.url",
        ),
        (
            json!({"event": "OnRunComplete", "type": "approval"}),
            "PreToolUse",
        ),
        (
            json!({"event": "PreToolUse", "type": "rule", "config": {"rules": [{"field": "a", "operator": "LIKE", "value": "x"}]}}),
            "operator",
        ),
        (json!({"type": "http"}), "event"),
    ] {
        let reply = api.post(&path, body.clone()).await;
        status(&reply, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(needle), "{body}: {}", reply.error());
    }
    assert_eq!(api.get(&path).await.body.as_array().unwrap().len(), 3);
    let id = docs.body["id"].as_str().unwrap();
    status(
        &api.delete(&format!("{path}/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.delete(&format!("{path}/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(api.get(&path).await.body.as_array().unwrap().len(), 2);
}

async fn sessions_and_runs_are_owned(api: TestApi) {
    let agent = api.agent("owned").await;
    let alice = api.key(&["agents:run"], Some("alice")).await;
    let bob = api.key(&["agents:run"], Some("bob")).await;
    let service = api.key(&["service_role"], None).await;
    // Sessions and runs as the run engine makes them.
    let store = &api.state.store;
    let a_session = store
        .create_session(&agent, "user:alice", None)
        .await
        .unwrap();
    let b_session = store
        .create_session(&agent, "user:bob", None)
        .await
        .unwrap();
    let messages = json!([{"role": "user", "content": "hi"}]);
    let a_run = store
        .create_run(&agent, Some(&a_session.id), "user:alice", &messages)
        .await
        .unwrap();
    let b_run = store
        .create_run(&agent, Some(&b_session.id), "user:bob", &messages)
        .await
        .unwrap();
    store
        .append_run_event(&a_run.id, &json!({"event": "start"}))
        .await
        .unwrap();
    store
        .append_run_event(&a_run.id, &json!({"event": "complete"}))
        .await
        .unwrap();

    let sessions = |key: String| {
        let api = &api;
        let agent = agent.clone();
        async move {
            api.send(
                Method::GET,
                &format!("/api/agents/{agent}/sessions"),
                Some(&key),
                None,
            )
            .await
        }
    };
    let mine = sessions(alice.clone()).await;
    status(&mine, StatusCode::OK);
    let ids: Vec<&str> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a_session.id.as_str()]);
    assert_eq!(
        sessions(service.clone())
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Alice reads her run with every field; Bob's run is a 404 for her, never a 403.
    let run = api
        .send(
            Method::GET,
            &format!("/api/agents/runs/{}", a_run.id),
            Some(&alice),
            None,
        )
        .await;
    status(&run, StatusCode::OK);
    for field in [
        "id",
        "run_id",
        "session_id",
        "parent_orchestration_run_id",
        "parent_workflow_execution_id",
        "status",
        "input_messages",
        "output_messages",
        "content",
        "usage",
        "retrieved_context",
        "error",
        "started_at",
        "completed_at",
        "steps",
        "events",
        "tool_calls",
        "reasoning_steps",
        "created_at",
    ] {
        assert!(
            run.body.get(field).is_some(),
            "run record lacks `{field}`: {}",
            run.body
        );
    }
    assert_eq!(run.body["status"], "queued");
    assert_eq!(
        run.body["events"],
        json!([{"event": "start"}, {"event": "complete"}])
    );
    assert!(run.body.get("owner").is_none());
    let other = api
        .send(
            Method::GET,
            &format!("/api/agents/runs/{}", b_run.id),
            Some(&alice),
            None,
        )
        .await;
    status(&other, StatusCode::NOT_FOUND);
    let missing = api
        .send(Method::GET, "/api/agents/runs/nope", Some(&alice), None)
        .await;
    assert_eq!(
        other.error().replace(&b_run.id, "X"),
        missing.error().replace("nope", "X"),
        "same answer as a missing run"
    );
    status(
        &api.send(
            Method::GET,
            &format!("/api/agents/runs/{}", b_run.id),
            Some(&bob),
            None,
        )
        .await,
        StatusCode::OK,
    );
    status(
        &api.send(
            Method::GET,
            &format!("/api/agents/runs/{}", a_run.id),
            Some(&service),
            None,
        )
        .await,
        StatusCode::OK,
    );
    status(
        &api.get(&format!("/api/agents/runs/{}", b_run.id)).await,
        StatusCode::OK,
    );
    status(
        &api.get("/api/agents/nope/sessions").await,
        StatusCode::NOT_FOUND,
    );
    // Deleting the agent deletes its sessions and runs.
    status(
        &api.delete(&format!("/api/agents/{agent}")).await,
        StatusCode::NO_CONTENT,
    );
    status(
        &api.get(&format!("/api/agents/runs/{}", a_run.id)).await,
        StatusCode::NOT_FOUND,
    );
}

async fn http_hygiene(api: TestApi) {
    // Malformed JSON, missing content type, unknown routes and methods: 4xx with {"error"}.
    let malformed = api
        .raw(
            Request::post("/api/agents")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .body(Body::from("{\"name\": "))
                .unwrap(),
        )
        .await;
    status(&malformed, StatusCode::BAD_REQUEST);
    assert!(malformed.error().contains("not valid JSON"));
    let no_type = api
        .raw(
            Request::post("/api/agents")
                .header("authorization", format!("Bearer {}", api.admin))
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    status(&no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let route = api.get("/api/nothing-here").await;
    status(&route, StatusCode::NOT_FOUND);
    route.error();
    let method = api
        .send(
            Method::PUT,
            "/api/agents",
            Some(&api.admin),
            Some(json!({})),
        )
        .await;
    status(&method, StatusCode::METHOD_NOT_ALLOWED);
    method.error();

    // A gzip-compressed body is accepted.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        json!({"name": "zipped", "model": "scripted"})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let zipped = api
        .raw(
            Request::post("/api/agents")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(Body::from(gz.finish().unwrap()))
                .unwrap(),
        )
        .await;
    status(&zipped, StatusCode::CREATED);
    assert_eq!(zipped.body["name"], "zipped");
    // Corrupt gzip: a 400, not a 500.
    let corrupt = api
        .raw(
            Request::post("/api/agents")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(Body::from("not gzip at all"))
                .unwrap(),
        )
        .await;
    assert!(
        corrupt.status.is_client_error(),
        "{}: {}",
        corrupt.status,
        corrupt.body
    );

    // Every response carries a request id.
    assert!(zipped.headers.get("x-request-id").is_some());

    // An oversized JSON body: 413.
    let small = corral::api::AppState {
        config: std::sync::Arc::new(corral::api::ApiConfig {
            max_upload_bytes: 1024,
            cors_origins: vec!["https://app.example.com".into()],
        }),
        ..api.state.clone()
    };
    use tower::ServiceExt;
    let big = json!({"name": "x".repeat(4096), "model": "scripted"}).to_string();
    let response = corral::api::app(small.clone())
        .oneshot(
            Request::post("/api/agents")
                .header("authorization", format!("Bearer {}", api.admin))
                .header("content-type", "application/json")
                .body(Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // CORS: a configured origin gets its preflight answered.
    let preflight = corral::api::app(small)
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/agents")
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.example.com")
    );
}

/// Every route the router serves is in the OpenAPI document, and every documented operation
/// except `/health` refuses a request without a key.
#[tokio::test]
async fn openapi_lists_every_route() {
    let api = TestApi::new(Db::Sqlite).await;
    let doc = api.send(Method::GET, "/openapi.json", None, None).await;
    status(&doc, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("get", "/api/keys"),
        ("post", "/api/keys"),
        ("delete", "/api/keys/{id}"),
        ("get", "/api/agents"),
        ("post", "/api/agents"),
        ("get", "/api/agents/{id}"),
        ("patch", "/api/agents/{id}"),
        ("delete", "/api/agents/{id}"),
        ("get", "/api/agents/{id}/tools"),
        ("post", "/api/agents/{id}/tools"),
        ("get", "/api/agents/{id}/tools/{assignment_id}"),
        ("patch", "/api/agents/{id}/tools/{assignment_id}"),
        ("delete", "/api/agents/{id}/tools/{assignment_id}"),
        ("get", "/api/tools"),
        ("post", "/api/tools"),
        ("get", "/api/tools/{id}"),
        ("put", "/api/tools/{id}"),
        ("delete", "/api/tools/{id}"),
        ("get", "/api/knowledge-bases"),
        ("post", "/api/knowledge-bases"),
        ("get", "/api/knowledge-bases/{id}"),
        ("patch", "/api/knowledge-bases/{id}"),
        ("delete", "/api/knowledge-bases/{id}"),
        ("get", "/api/agents/{id}/knowledge-bases"),
        ("post", "/api/agents/{id}/knowledge-bases"),
        ("delete", "/api/agents/{id}/knowledge-bases/{assignment_id}"),
        ("get", "/api/agents/{id}/mcp-servers"),
        ("post", "/api/agents/{id}/mcp-servers"),
        ("get", "/api/agents/{id}/mcp-servers/{server_id}"),
        ("put", "/api/agents/{id}/mcp-servers/{server_id}"),
        ("delete", "/api/agents/{id}/mcp-servers/{server_id}"),
        ("get", "/api/agents/{id}/hooks"),
        ("post", "/api/agents/{id}/hooks"),
        ("delete", "/api/agents/{id}/hooks/{hook_id}"),
        ("get", "/api/agents/{id}/sessions"),
        ("get", "/api/agents/runs/{run_id}"),
        ("post", "/api/agents/{id}/run"),
        ("post", "/api/agents/{id}/run/stream"),
        ("get", "/api/agents/runs/{run_id}/events"),
        ("post", "/api/agents/runs/{run_id}/cancel"),
        ("post", "/api/agents/runs/{run_id}/approve"),
        ("get", "/health"),
    ];
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.push((method.to_string(), path.clone()));
            }
        }
    }
    for (method, path) in expected {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is not in /openapi.json"
        );
    }
    assert_eq!(
        documented.len(),
        expected.len(),
        "documented: {documented:?}"
    );
    // Each documented operation is really routed (no 404/405) and guarded.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "x")
            .replace("{assignment_id}", "x")
            .replace("{server_id}", "x")
            .replace("{hook_id}", "x")
            .replace("{run_id}", "x");
        let reply = api
            .send(
                method.to_uppercase().parse().unwrap(),
                &concrete,
                None,
                None,
            )
            .await;
        let want = if path == "/health" {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(reply.status, want, "{method} {path}: {}", reply.body);
    }
}

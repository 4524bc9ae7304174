//! All eight builtins in one agent run with the scripted model, configured through the REST
//! API as an operator would: grants, config_override, configuration and confirmation. Then
//! `code_execute` on its own: what Python can and cannot do inside the sandbox.

use axum::http::StatusCode;
use corral::artifacts;
use corral::boundary::CallOutcome;
use corral::boundary::assignment::AssignmentSpec;
use corral::boundary::gate::ConfirmationSetting;
use corral::sandbox::limits::LimitOverrides;
use corral::tool::FailureKind;
use corral_tests::api::{Db, TestApi};
use corral_tests::http_server::TestServer;
use corral_tests::{Host, assign, call};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_runs_in_a_scripted_agent_run() {
    let server = TestServer::start().await;
    let api = TestApi::new(Db::Sqlite).await;
    rusqlite::Connection::open(api.data.path().join("data.db"))
        .unwrap()
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'first');")
        .unwrap();
    let calls = json!([
        {"name": "database_query", "arguments": {"sql": "SELECT body FROM notes"}},
        {"name": "database_write", "arguments": {"sql": "INSERT INTO notes (body) VALUES (?1)", "params": ["second"]}},
        {"name": "http_request", "arguments": {"url": server.url("/data.json")}},
        {"name": "web_scrape", "arguments": {"url": server.url("/page.html")}},
        {"name": "web_search", "arguments": {"query": "rust"}},
        {"name": "storage_write", "arguments": {"action": "write", "path": "a.txt", "content": "hello"}},
        {"name": "storage_read", "arguments": {"action": "read", "path": "a.txt"}},
        {"name": "code_execute", "arguments": {"code": "sum(range(10))"}}
    ]);
    // One tool per step, so storage_read sees storage_write's object.
    let mut script: Vec<Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"tool_calls": [c]}))
        .collect();
    script.push(json!({"text": "done"}));
    let created = api
        .post("/api/agents", json!({"name": "all", "model": "scripted", "settings": {"script": script, "max_steps": 12}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let agent = created.body["id"].as_str().unwrap().to_string();
    let web = json!({"http": {"private_hosts": [server.authority()]}});
    let settings = [
        (
            "database_query",
            json!({"config_override": {"schemas": {"main": ["notes"]}}}),
        ),
        (
            "database_write",
            json!({"config_override": {"schemas": {"main": ["notes"]}}, "confirmation": "never"}),
        ),
        ("http_request", json!({"grants": web})),
        ("web_scrape", json!({"grants": web})),
        (
            "web_search",
            json!({"grants": web, "config_values": {"backend": "searxng", "base_url": server.url("/searxng")}}),
        ),
        (
            "storage_write",
            json!({"grants": {"storage": {"bucket": "run"}}, "confirmation": "never"}),
        ),
        (
            "storage_read",
            json!({"grants": {"storage": {"bucket": "run"}}}),
        ),
        ("code_execute", json!({"confirmation": "never"})),
    ];
    for (tool, patch) in settings {
        let assigned = api
            .post(
                &format!("/api/agents/{agent}/tools"),
                json!({"tool_name": tool}),
            )
            .await;
        assert_eq!(
            assigned.status,
            StatusCode::CREATED,
            "{tool}: {}",
            assigned.body
        );
        let id = assigned.body["id"].as_str().unwrap();
        let patched = api
            .patch(&format!("/api/agents/{agent}/tools/{id}"), patch)
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{tool}: {}", patched.body);
    }
    let events = api
        .run_stream(&agent, &api.admin, json!({"message": "use everything"}))
        .await;
    let last = &events.last().unwrap().1;
    assert_eq!(last["event"], "complete", "{events:?}");
    let results: Vec<&Value> = events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["event"] == "tool_result")
        .collect();
    assert_eq!(results.len(), 8);
    for result in &results {
        assert_eq!(result["result_meta"]["ok"], true, "{result}");
    }
    let preview = |tool: &str| -> String {
        results.iter().find(|r| r["tool_name"] == tool).unwrap()["result_preview"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(preview("database_query").contains("first"));
    assert!(preview("storage_read").contains("hello"));
    assert!(preview("code_execute").contains("45"));
    assert!(preview("web_search").contains("url"));
}

async fn python() -> Host {
    let host = Host::new();
    host.load(artifacts::CODE_EXECUTE).await;
    host
}

fn trusted(timeout_ms: Option<u64>) -> AssignmentSpec {
    AssignmentSpec {
        confirmation: ConfirmationSetting::Never,
        limits: LimitOverrides {
            timeout_ms,
            ..Default::default()
        },
        ..assign("code_execute")
    }
}

async fn run(host: &Host, code: &str) -> Value {
    let toolset = host.toolset([trusted(None)]);
    host.call(&toolset, "code_execute", json!({"code": code}))
        .await
        .result
        .unwrap_or_else(|f| panic!("{code}: {f:?}"))
}

#[tokio::test]
async fn python_prints_returns_the_last_value_and_uses_the_standard_library() {
    let host = python().await;
    let out = run(
        &host,
        "print('hi')\nimport sys\nsys.stderr.write('careful\\n')\n1 + 2",
    )
    .await;
    assert_eq!(out["ok"], true);
    assert_eq!(out["stdout"], "hi\n");
    assert_eq!(out["stderr"], "careful\n");
    assert_eq!(out["result"], "3");
    let out = run(
        &host,
        "import json, math, re, collections, datetime\n\
         counts = collections.Counter(re.findall(r'\\w+', 'a b a'))\n\
         json.dumps({'sqrt': math.sqrt(16), 'a': counts['a'], 'day': str(datetime.date(2024, 2, 28) + datetime.timedelta(days=1))})",
    )
    .await;
    assert_eq!(
        out["result"], r#"'{"sqrt": 4.0, "a": 2, "day": "2024-02-29"}'"#,
        "{out}"
    );
    let out = run(&host, "import random, statistics\nrandom.seed(1)\n[random.randint(1, 100), statistics.mean([1, 2, 3])]").await;
    assert_eq!(out["result"], "[18, 2]", "{out}");
    // A statement at the end has no value; None is not shown.
    let out = run(&host, "x = 5\nprint(x * 2)").await;
    assert_eq!(out["result"], Value::Null);
    assert_eq!(out["stdout"], "10\n");
}

#[tokio::test]
async fn python_gets_secure_randomness_from_the_host() {
    let host = python().await;
    let code = "import os, secrets, uuid, random\n\
                token = secrets.token_hex(8)\n\
                u = uuid.uuid4()\n\
                roll = random.SystemRandom().randint(1, 6)\n\
                [len(os.urandom(32)), len(token), int(token, 16) >= 0, u.version, 1 <= roll <= 6, token]";
    let first = run(&host, code).await;
    let second = run(&host, code).await;
    let list = |out: &Value| out["result"].as_str().unwrap_or_default().to_string();
    assert!(
        list(&first).starts_with("[32, 16, True, 4, True, '"),
        "{first}"
    );
    // Fresh bytes per call (two equal 64-bit tokens would be a broken generator).
    assert_ne!(list(&first), list(&second), "{first} {second}");
    for (code, error) in [
        ("import os\nos.urandom(-1)", "ValueError: negative argument"),
        (
            "import os\nos.urandom(10**9)",
            "ValueError: os.urandom: at most",
        ),
    ] {
        let out = run(&host, code).await;
        assert!(
            out["error"].as_str().unwrap_or_default().contains(error),
            "{code}: {out}"
        );
    }
}

#[tokio::test]
async fn python_errors_come_back_as_tracebacks() {
    let host = python().await;
    let out = run(&host, "def f():\n    return 1 / 0\n\nf()").await;
    assert_eq!(out["ok"], false);
    let error = out["error"].as_str().unwrap();
    assert!(error.contains("ZeroDivisionError"), "{error}");
    assert!(error.contains("line 2"), "{error}");
    let out = run(&host, "print(").await;
    assert!(
        out["error"].as_str().unwrap().contains("SyntaxError"),
        "{out}"
    );
    // Output printed before the exception is kept.
    let out = run(&host, "print('before')\nraise ValueError('boom')").await;
    assert_eq!(out["stdout"], "before\n");
    assert!(out["error"].as_str().unwrap().contains("ValueError: boom"));
}

#[tokio::test]
async fn python_reaches_no_file_network_or_previous_call() {
    let host = python().await;
    for code in [
        "open('/etc/passwd').read()",
        "import os\nos.listdir('/')",
        "import os\nos.system('id')",
        "import socket\nsocket.create_connection(('127.0.0.1', 80))",
        "import subprocess",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1/')",
    ] {
        let out = run(&host, code).await;
        assert_eq!(out["ok"], false, "{code}: {out}");
        assert!(!out.to_string().contains("root:"), "{code}: {out}");
    }
    // Each call is a fresh interpreter.
    run(&host, "secret = 41").await;
    let out = run(&host, "secret").await;
    assert!(
        out["error"].as_str().unwrap().contains("NameError"),
        "{out}"
    );
}

#[tokio::test]
async fn python_that_runs_forever_or_hogs_memory_is_stopped_cleanly() {
    let host = python().await;
    let toolset = host.toolset([trusted(Some(1500))]);
    let done = host
        .call(
            &toolset,
            "code_execute",
            json!({"code": "while True:\n    pass"}),
        )
        .await;
    let failure = done.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Timeout, "{}", failure.message);
    assert!(failure.message.contains("1500 ms"), "{}", failure.message);

    let done = host
        .call(
            &toolset,
            "code_execute",
            json!({"code": "x = 'a' * (1024 * 1024 * 1024)\nlen(x)"}),
        )
        .await;
    match done.result {
        Ok(out) => assert!(
            out["error"].as_str().unwrap().contains("MemoryError"),
            "{out}"
        ),
        Err(failure) => assert!(
            matches!(
                failure.kind,
                FailureKind::MemoryLimit | FailureKind::Crashed
            ),
            "{failure:?}"
        ),
    }
    // The host is fine afterwards.
    assert_eq!(run(&host, "2 ** 10").await["result"], "1024");
}

#[tokio::test]
async fn code_execute_waits_for_approval_by_default() {
    let host = python().await;
    let toolset = host.toolset([assign("code_execute")]);
    let outcome = host
        .boundary
        .call(
            &toolset,
            call("code_execute", json!({"code": "print(1)"})),
            false,
        )
        .await;
    let CallOutcome::Pending(action) = outcome else {
        panic!("code_execute ran without approval");
    };
    assert_eq!(action.tool_type.as_deref(), Some("code"));
    assert!(
        action.description.contains("print(1)"),
        "{}",
        action.description
    );
    // Bad arguments are refused before anything runs.
    let toolset = host.toolset([trusted(None)]);
    let done = host
        .call(&toolset, "code_execute", json!({"source": "1"}))
        .await;
    assert_eq!(done.result.unwrap_err().kind, FailureKind::InvalidArguments);
}

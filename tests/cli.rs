//! The `corral` binary: `tool inspect`, `tool call` (with the confirmation prompt) and
//! `tool new` + `tool build`, run as a user would, with clear errors for bad input.

use corral::artifacts;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The compile cache shared with the other integration tests (tests/support).
fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/corral-test-cache")
}

/// A Python/JS example built by scripts/build-polyglot.sh.
fn polyglot_component(file: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/polyglot")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-polyglot.sh",
        path.display()
    );
    path
}

fn corral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env(
            "CORRAL_DATA_DIR",
            shared_cache_dir().parent().unwrap().join("corral-cli-data"),
        )
        .env("CORRAL_CACHE_DIR", shared_cache_dir())
        .stdin(Stdio::null())
        .output()
        .expect("running corral")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn inspect_lists_tools_schemas_and_capabilities() {
    let out = corral(&["tool", "inspect", artifacts::FETCH_PAGE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("fetch_page"), "{stdout}");
    assert!(stdout.contains("input schema"), "{stdout}");
    assert!(
        stdout.contains("http ") && stdout.contains("needs a grant"),
        "{stdout}"
    );

    let out = corral(&["tool", "inspect", "--json", artifacts::NOTES]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"storage".into())
    );
    assert!(
        !report["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"http".into()),
        "notes does not import HTTP"
    );
}

#[test]
fn inspect_and_call_work_on_the_python_and_js_examples() {
    for (file, tool, args, expect) in [
        (
            "word_stats.wasm",
            "word_stats",
            r#"{"text": "a b a"}"#,
            "\"words\": 3",
        ),
        (
            "unit_convert.wasm",
            "convert_length",
            r#"{"value": 12, "from": "in", "to": "ft"}"#,
            "\"unit\": \"ft\"",
        ),
    ] {
        let path = polyglot_component(file);
        let path = path.to_str().unwrap();
        let out = corral(&["tool", "inspect", path]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(tool));
        let out = corral(&["tool", "call", path, tool, "--args", args]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(expect), "{}", text(&out.stdout));
    }
}

#[test]
fn call_prints_the_result_and_applies_overrides() {
    let out = corral(&[
        "tool",
        "call",
        artifacts::ECHO,
        "echo",
        "--args",
        r#"{"message": "hi", "mode": "model"}"#,
        "--config-override",
        r#"{"mode": "operator", "bogus": 1}"#,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({"message": "hi", "mode": "operator"})
    );
    assert!(
        text(&out.stderr).contains("ignored: bogus"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_gated_call_needs_yes_when_no_terminal_is_attached() {
    let out = corral(&[
        "tool",
        "call",
        artifacts::ECHO,
        "always_confirm",
        "--args",
        r#"{"note": "n"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("denied by the user"),
        "{}",
        text(&out.stderr)
    );

    let out = corral(&[
        "tool",
        "call",
        artifacts::ECHO,
        "always_confirm",
        "--args",
        r#"{"note": "n"}"#,
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"done\": \"n\""));
}

#[test]
fn a_gated_call_asks_on_a_terminal_and_honours_the_answer() {
    // `script` (util-linux, essential on Debian) gives the command a pseudo-terminal, so the
    // prompt path runs exactly as for a person at a terminal.
    let run = |answer: &str, note: &str| {
        let cmd = format!(
            "{} tool call {} always_confirm --args '{{\"note\": \"{note}\"}}'",
            env!("CARGO_BIN_EXE_corral"),
            artifacts::ECHO
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env(
                "CORRAL_DATA_DIR",
                shared_cache_dir().parent().unwrap().join("corral-cli-data"),
            )
            .env("CORRAL_CACHE_DIR", shared_cache_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // `script` forwards this to the pseudo-terminal, where the prompt reads it.
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), answer.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("y\n", "pty");
    let all = text(&out.stdout);
    assert!(all.contains("Allow this call? [y/N]"), "{all}");
    assert!(all.contains("\"done\": \"pty\""), "{all}");

    let out = run("n\n", "refused");
    let all = text(&out.stdout);
    assert!(all.contains("declined at the prompt"), "{all}");
    assert!(!all.contains("\"done\""), "{all}");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "tool",
                "call",
                artifacts::ECHO,
                "echo",
                "--args",
                "{not json",
            ],
            "--args is not valid JSON",
        ),
        (
            &["tool", "call", artifacts::ECHO, "nope"],
            "has no tool `nope`",
        ),
        (
            &[
                "tool",
                "call",
                artifacts::ECHO,
                "echo",
                "--grant",
                "files=/etc",
            ],
            "unknown grant kind",
        ),
        (
            &[
                "tool",
                "call",
                artifacts::ECHO,
                "echo",
                "--config-override",
                "[1]",
            ],
            "config_override must be a JSON object",
        ),
        (
            &["tool", "call", artifacts::ECHO, "echo", "--timeout-ms", "0"],
            "must be greater than zero",
        ),
        (
            &["tool", "inspect", "/definitely/not/here.wasm"],
            "cannot read",
        ),
        (&["tool", "new", "Bad_Name"], "invalid tool name"),
    ];
    for (args, expected) in cases {
        let out = corral(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let not_wasm = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_wasm.path(), b"definitely not wasm").unwrap();
    let out = corral(&["tool", "inspect", not_wasm.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a loadable WebAssembly component"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_new_rust_tool_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("char-count");
    let out = corral(&[
        "tool",
        "new",
        "char-count",
        "--lang",
        "rust",
        "--dir",
        project.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Reuse the plugins' build directory so the SDK's dependencies are not compiled again.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm-plugins");
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["tool", "build", project.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target)
        .env("CORRAL_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/char_count.wasm");
    let out = corral(&[
        "tool",
        "call",
        wasm.to_str().unwrap(),
        "char_count",
        "--args",
        r#"{"text": "héllo"}"#,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"length\": 5"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn new_python_and_js_tools_build_and_run() {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools");
    for (lang, name, tool) in [("python", "py-len", "py_len"), ("js", "js-len", "js_len")] {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join(name);
        let out = corral(&[
            "tool",
            "new",
            name,
            "--lang",
            lang,
            "--dir",
            project.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = corral(&["tool", "build", project.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{lang}: {}\n{}\n(the toolchains are installed into {} by scripts/build-polyglot.sh)",
            text(&out.stdout),
            text(&out.stderr),
            tools.display()
        );
        let wasm = project.join(format!("{tool}.wasm"));
        let out = corral(&[
            "tool",
            "call",
            wasm.to_str().unwrap(),
            tool,
            "--args",
            r#"{"text": "four"}"#,
        ]);
        assert!(out.status.success(), "{lang}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("\"length\": 4"),
            "{lang}: {}",
            text(&out.stdout)
        );
    }
}

/// Starts `corral serve` on a free port; returns the child, its address and its stdout lines.
#[allow(clippy::zombie_processes)] // the caller owns the child and waits for it
fn start_server(
    data: &Path,
    extra_env: &[(&str, &str)],
) -> (std::process::Child, String, Vec<String>) {
    use std::io::BufRead;
    let mut command = Command::new(env!("CARGO_BIN_EXE_corral"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("CORRAL_CACHE_DIR", shared_cache_dir())
        .env_remove("DATABASE_URL")
        .env_remove("CORRAL_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("starting corral serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut reader = std::io::BufReader::new(stdout);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("reading stdout") == 0 {
            let status = child.wait();
            panic!("corral serve exited ({status:?}) before listening: {lines:?}");
        }
        let line = line.trim_end().to_string();
        let addr = line
            .strip_prefix("Corral listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .map(String::from);
        lines.push(line);
        if let Some(addr) = addr {
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return (child, addr, lines);
        }
    }
}

/// A minimal HTTP/1.1 GET over a plain socket; returns the status code.
fn http_get_status(addr: &str, path: &str, key: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    child.wait().expect("wait")
}

#[test]
fn serve_prints_an_admin_key_once_serves_and_stops_gracefully() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, addr, lines) = start_server(data.path(), &[]);
    let key = lines
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("corral_")
                .map(|k| format!("corral_{k}"))
        })
        .unwrap_or_else(|| panic!("no admin key printed: {lines:?}"));
    assert!(
        data.path().join("corral.db").is_file(),
        "SQLite created on first start"
    );
    assert_eq!(http_get_status(&addr, "/api/agents", &key), 200);
    assert_eq!(http_get_status(&addr, "/api/agents", "corral_wrong"), 401);
    let status = terminate(&mut server);
    assert!(status.success(), "SIGTERM is a graceful stop: {status:?}");

    // Second start on the same data: no new key, the old one still works.
    let (mut again, addr, lines) = start_server(data.path(), &[]);
    assert!(!lines.iter().any(|l| l.contains("corral_")), "{lines:?}");
    assert_eq!(http_get_status(&addr, "/api/agents", &key), 200);
    terminate(&mut again);

    // CORRAL_ADMIN_KEY is stored and accepted.
    let chosen = "corral_chosen_by_the_operator_0123456789";
    let (mut third, addr, _) = start_server(data.path(), &[("CORRAL_ADMIN_KEY", chosen)]);
    assert_eq!(http_get_status(&addr, "/api/agents", chosen), 200);
    terminate(&mut third);
}

#[test]
fn serve_explains_bad_settings() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let bad_listen = corral(&["serve", "--data-dir", dir, "--listen", "localhost"]);
    assert_eq!(bad_listen.status.code(), Some(2));
    assert!(
        text(&bad_listen.stderr).contains("listen address"),
        "{}",
        text(&bad_listen.stderr)
    );
    let config = data.path().join("corral.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let bad_file = corral(&[
        "serve",
        "--data-dir",
        dir,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(bad_file.status.code(), Some(2));
    assert!(
        text(&bad_file.stderr).contains("lisen"),
        "{}",
        text(&bad_file.stderr)
    );
    let bad_db = corral(&["serve", "--data-dir", dir, "--database-url", "mysql://x"]);
    assert_eq!(bad_db.status.code(), Some(1));
    assert!(
        text(&bad_db.stderr).contains("sqlite://"),
        "{}",
        text(&bad_db.stderr)
    );
    let help = corral(&["serve", "--help"]);
    for flag in [
        "--listen",
        "CORRAL_LISTEN",
        "--database-url",
        "DATABASE_URL",
        "--config",
        "--cors-origin",
        "--max-upload-mib",
        "CORRAL_ADMIN_KEY",
    ] {
        assert!(
            text(&help.stdout).contains(flag),
            "serve --help lacks {flag}"
        );
    }
}

#[test]
fn demo_runs_the_main_job_offline() {
    let out = corral(&["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for needle in [
        "approval_requested",
        "run_paused",
        "(allowed)",
        "complete",
        "Demo complete",
    ] {
        assert!(
            stdout.contains(needle),
            "demo output lacks {needle}:\n{stdout}"
        );
    }
}

/// A minimal HTTP/1.1 request over a plain socket (the response is read to the end, so a
/// server-sent event stream is read until the server ends it); returns status and body text.
fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json_field(body: &str, field: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_string()
}

#[test]
fn a_pending_approval_survives_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let key = "corral_admin_key_for_the_kill_test_0123456789";
    let (mut server, addr, _) = start_server(data.path(), &[("CORRAL_ADMIN_KEY", key)]);
    let json = [("Content-Type", "application/json")];
    let notes = std::fs::read(artifacts::NOTES).unwrap();
    let (status, body) = http_request(
        &addr,
        "POST",
        "/api/tools",
        key,
        &[("Content-Type", "application/wasm")],
        &notes,
    );
    assert_eq!(status, 201, "{body}");
    let agent = serde_json::json!({"name": "k", "model": "scripted", "settings": {"script": [
        {"tool_calls": [{"name": "save_note", "arguments": {"name": "n", "text": "t"}}]},
        {"tool_calls": [{"name": "delete_note", "arguments": {"name": "n"}}]},
        {"text": "deleted after the restart"}]}});
    let (status, body) = http_request(
        &addr,
        "POST",
        "/api/agents",
        key,
        &json,
        agent.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    let agent_id = json_field(&body, "id");
    for tool in ["save_note", "delete_note"] {
        let assign =
            serde_json::json!({"tool_name": tool, "grants": {"storage": {"bucket": "kill-test"}}});
        let (status, body) = http_request(
            &addr,
            "POST",
            &format!("/api/agents/{agent_id}/tools"),
            key,
            &json,
            assign.to_string().as_bytes(),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, stream) = http_request(
        &addr,
        "POST",
        &format!("/api/agents/{agent_id}/run/stream"),
        key,
        &json,
        br#"{"message": "go"}"#,
    );
    assert_eq!(status, 200);
    assert!(stream.contains("\"run_paused\""), "{stream}");
    let run_id = stream
        .split("\"run_id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("run id")
        .to_string();

    // kill -9: no shutdown, nothing flushed on purpose.
    server.kill().expect("kill -9");
    server.wait().unwrap();

    let (mut again, addr, _) = start_server(data.path(), &[("CORRAL_ADMIN_KEY", key)]);
    let (status, body) = http_request(
        &addr,
        "POST",
        &format!("/api/agents/runs/{run_id}/approve"),
        key,
        &json,
        br#"{"approved": true}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, rest) = http_request(
        &addr,
        "GET",
        &format!("/api/agents/runs/{run_id}/events"),
        key,
        &[("Last-Event-ID", "1")],
        b"",
    );
    assert_eq!(status, 200);
    assert!(rest.contains("deleted after the restart"), "{rest}");
    assert_eq!(
        rest.matches("\"decision\":\"allowed\"").count(),
        1,
        "the call ran once: {rest}"
    );
    let (_, record) = http_request(
        &addr,
        "GET",
        &format!("/api/agents/runs/{run_id}"),
        key,
        &[],
        b"",
    );
    assert_eq!(json_field(&record, "status"), "completed");
    let (status, _) = http_request(
        &addr,
        "POST",
        &format!("/api/agents/runs/{run_id}/approve"),
        key,
        &json,
        br#"{"approved": true}"#,
    );
    assert_eq!(status, 409);
    terminate(&mut again);
}

#[test]
fn builtin_tools_are_called_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'hi');
             CREATE TABLE secrets (token TEXT);",
        )
        .unwrap();
    let url = format!("sqlite://{}", db.display());
    let query = |sql: &str| {
        corral(&[
            "tool",
            "call",
            "builtin",
            "database_query",
            "--data-database-url",
            &url,
            "--config-override",
            r#"{"schemas": {"main": ["notes"]}}"#,
            "--args",
            &serde_json::json!({ "sql": sql }).to_string(),
        ])
    };
    let out = query("SELECT body FROM notes");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["rows"], serde_json::json!([["hi"]]));
    let refused = query("SELECT * FROM secrets");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("not granted"),
        "{}",
        text(&refused.stderr)
    );

    // Gated builtins ask; --yes answers for a script.
    let code = [
        "tool",
        "call",
        "builtin",
        "code_execute",
        "--args",
        r#"{"code": "2 ** 10"}"#,
    ];
    let asked = corral(&code);
    assert!(!asked.status.success());
    assert!(
        text(&asked.stderr).contains("--yes"),
        "{}",
        text(&asked.stderr)
    );
    let mut allowed = code.to_vec();
    allowed.push("--yes");
    let out = corral(&allowed);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["result"], "1024");

    let unknown = corral(&["tool", "call", "builtin", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("database_query"),
        "{}",
        text(&unknown.stderr)
    );
    let bad_url = corral(&[
        "tool",
        "call",
        "builtin",
        "database_query",
        "--data-database-url",
        "mysql://x",
    ]);
    assert_eq!(bad_url.status.code(), Some(2), "{}", text(&bad_url.stderr));
}

// The loopback server of the integration tests (pages, echo, fake search APIs); this test
// uses part of it, and its items are `pub` for the tests crate that shares it.
#[allow(dead_code, unreachable_pub)]
#[path = "support/http_server.rs"]
mod http_server;

#[test]
fn the_other_builtins_work_through_the_cli_too() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(http_server::TestServer::start());
    let private = format!("http-private={}", server.authority());
    let builtin = |tool: &str, extra: &[&str], args: serde_json::Value| {
        let mut argv = vec!["tool", "call", "builtin", tool];
        argv.extend_from_slice(extra);
        let args = args.to_string();
        argv.extend(["--args", &args]);
        corral(&argv)
    };
    let call = |tool: &str, extra: &[&str], args: serde_json::Value| {
        let out = builtin(tool, extra, args);
        assert!(out.status.success(), "{tool}: {}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };

    let fetched = call(
        "http_request",
        &["--grant", &private],
        serde_json::json!({"url": server.url("/echo/cli")}),
    );
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert!(
        fetched["body"].as_str().unwrap().contains("/echo/cli"),
        "{fetched}"
    );
    // Without the grant nothing is sent.
    let hits = server.hits();
    let denied = builtin(
        "http_request",
        &[],
        serde_json::json!({"url": server.url("/echo")}),
    );
    assert!(!denied.status.success());
    assert!(
        text(&denied.stderr).contains("not granted"),
        "{}",
        text(&denied.stderr)
    );
    assert_eq!(server.hits(), hits);

    let page = call(
        "web_scrape",
        &["--grant", &private],
        serde_json::json!({"url": server.url("/page.html")}),
    );
    assert_eq!(page["title"], "Test Article | Corral", "{page}");

    let base = format!("base_url={}", server.url("/searxng"));
    let found = call(
        "web_search",
        &[
            "--grant",
            &private,
            "--config",
            "backend=searxng",
            "--config",
            &base,
        ],
        serde_json::json!({"query": "rust", "max_results": 2}),
    );
    assert_eq!(found["results"].as_array().unwrap().len(), 2, "{found}");

    // A bucket per test run, so reruns start empty.
    let bucket = format!("storage=cli-{}", std::process::id());
    let written = call(
        "storage_write",
        &["--grant", &bucket, "--yes"],
        serde_json::json!({"action": "write", "path": "a/b.txt", "content": "hello"}),
    );
    assert_eq!(written["size"], 5, "{written}");
    let read = call(
        "storage_read",
        &["--grant", &bucket],
        serde_json::json!({"action": "read", "path": "a/b.txt"}),
    );
    assert_eq!(read["content"], "hello", "{read}");
    assert_eq!(read["content_type"], "text/plain", "{read}");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        .unwrap();
    let url = format!("sqlite://{}", db.display());
    let wrote = call(
        "database_write",
        &[
            "--data-database-url",
            &url,
            "--config-override",
            r#"{"schemas": {"main": ["notes"]}}"#,
            "--yes",
        ],
        serde_json::json!({"sql": "INSERT INTO notes (body) VALUES (?1)", "params": ["from the cli"]}),
    );
    assert_eq!(wrote["rows_affected"], 1, "{wrote}");
    let body: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT body FROM notes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(body, "from the cli");
    drop(server);
}

//! A loopback HTTP/1.1 server for egress tests, written by hand so the tests control every
//! byte (redirect targets, body sizes) and can count what actually arrived.
//!
//! Routes: `/hello` (200, text), `/redirect?to=<url>` (302 to `url`), `/bytes?n=<count>`
//! (200 with `count` bytes), and for the builtin tools' tests: `/echo...` (the request as JSON),
//! pages for `web_scrape` (`/page.html`, `/latin1.html`, `/meta-latin1.html`, `/notes.txt`,
//! `/data.json`, `/image.png`, `/big.html?kb=<size>`) and fake search APIs (`/searxng/search`,
//! `/brave/res/v1/web/search`). Everything else is 404.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running test server; it stops when dropped.
pub struct TestServer {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, by its content-length or de-chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query parameter `name`, percent-decoded (`+` as space).
    pub fn param(&self, name: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(|v| percent_decode(&v.replace('+', " ")))
    }
}

/// Largest request body the server reads.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

impl TestServer {
    /// Starts the server on 127.0.0.1:0.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the test server");
        let addr = listener.local_addr().expect("local addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counter = hits.clone();
        let log = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = counter.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut read = 0;
                    // Read until the end of the request head.
                    let head_end = loop {
                        if let Some(i) = buf[..read].windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        if read == buf.len() {
                            return;
                        }
                        match socket.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
                    let method = request_line.next().unwrap_or("GET").to_string();
                    let target = request_line.next().unwrap_or("/").to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|line| line.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let length = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                        .unwrap_or(0)
                        .min(MAX_REQUEST_BODY);
                    let chunked = headers
                        .iter()
                        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
                    let mut body = buf[head_end..read].to_vec();
                    let complete = |body: &[u8]| {
                        if chunked {
                            body.ends_with(b"0\r\n\r\n") || body.len() > MAX_REQUEST_BODY
                        } else {
                            body.len() >= length
                        }
                    };
                    while !complete(&body) {
                        let mut chunk = vec![0u8; 16 * 1024];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if chunked {
                        body = dechunk(&body);
                    } else {
                        body.truncate(length);
                    }
                    let request = Request {
                        method,
                        target,
                        headers,
                        body,
                    };
                    let response = respond(&request);
                    if let Ok(mut log) = log.lock() {
                        log.push(request);
                    }
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            addr,
            hits,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:<port>`, for grants.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The requests received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(request: &Request) -> Vec<u8> {
    let target = request.target.as_str();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| {
                kv.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
            })
            .map(percent_decode)
    };
    match path {
        "/hello" => http(
            200,
            "OK",
            &[("content-type", "text/plain")],
            b"hello from the test server".to_vec(),
        ),
        "/redirect" => {
            let to = param("to").unwrap_or_default();
            http(302, "Found", &[("location", &to)], Vec::new())
        }
        "/bytes" => {
            let n = param("n").and_then(|n| n.parse().ok()).unwrap_or(0usize);
            http(
                200,
                "OK",
                &[("content-type", "application/octet-stream")],
                vec![b'x'; n],
            )
        }
        "/echo" => echo(request),
        _ if path.starts_with("/echo/") => echo(request),
        "/page.html" => http(
            200,
            "OK",
            &[("content-type", "text/html; charset=utf-8")],
            PAGE_HTML.as_bytes().to_vec(),
        ),
        // é, ï and © in ISO-8859-1, declared by the header only.
        "/latin1.html" => http(
            200,
            "OK",
            &[("content-type", "text/html; charset=ISO-8859-1")],
            b"<html><head><title>Caf\xe9</title></head><body><p>Na\xefve \xa9 2024</p></body></html>"
                .to_vec(),
        ),
        // The same, declared by <meta charset> only.
        "/meta-latin1.html" => http(
            200,
            "OK",
            &[("content-type", "text/html")],
            b"<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9</title></head><body><p>Na\xefve</p></body></html>"
                .to_vec(),
        ),
        // About `kb` KiB of article markup, for the download and memory caps.
        "/big.html" => {
            let kb = param("kb").and_then(|n| n.parse().ok()).unwrap_or(1usize);
            let mut page = String::from("<html><head><title>Big</title></head><body><main>");
            let mut i = 0;
            while page.len() < kb * 1024 {
                page.push_str(&format!(
                    "<div class=\"row\"><p>Paragraph {i} with <a href=\"/p/{i}\">link {i}</a> \
                     and <em>some</em> text.</p></div>\n"
                ));
                i += 1;
            }
            page.push_str("</main></body></html>");
            http(
                200,
                "OK",
                &[("content-type", "text/html")],
                page.into_bytes(),
            )
        }
        "/notes.txt" => http(
            200,
            "OK",
            &[("content-type", "text/plain; charset=utf-8")],
            "Line one.\n<b>not markup</b> \u{2713}\n".as_bytes().to_vec(),
        ),
        "/data.json" => http(
            200,
            "OK",
            &[("content-type", "application/json")],
            br#"{"name": "corral", "tags": ["wasm", "agents"]}"#.to_vec(),
        ),
        "/image.png" => http(
            200,
            "OK",
            &[("content-type", "image/png")],
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        ),
        "/searxng/search" => {
            if param("format").as_deref() != Some("json") {
                return http(403, "Forbidden", &[], b"format not allowed".to_vec());
            }
            http(
                200,
                "OK",
                &[("content-type", "application/json")],
                SEARXNG_RESULTS.as_bytes().to_vec(),
            )
        }
        "/brave/res/v1/web/search" => {
            if request.header("x-subscription-token") != Some(BRAVE_KEY) {
                return http(401, "Unauthorized", &[], b"bad token".to_vec());
            }
            let count = param("count").and_then(|n| n.parse().ok()).unwrap_or(20usize);
            let results: Vec<serde_json::Value> = BRAVE_RESULTS
                .iter()
                .take(count)
                .map(|(title, url, description)| {
                    serde_json::json!({"title": title, "url": url, "description": description})
                })
                .collect();
            let body = serde_json::json!({"type": "search", "web": {"results": results}});
            http(
                200,
                "OK",
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
        }
        _ => http(404, "Not Found", &[], b"not found".to_vec()),
    }
}

/// The API key the fake Brave endpoint accepts.
pub const BRAVE_KEY: &str = "brave-test-key";

/// What the fake Brave endpoint returns: title, URL, description (with Brave's markup).
const BRAVE_RESULTS: &[(&str, &str, &str)] = &[
    (
        "The Rust Programming Language",
        "https://www.rust-lang.org/",
        "A language empowering <strong>everyone</strong>",
    ),
    (
        "serde - Rust",
        "https://docs.rs/serde",
        "A serialization framework",
    ),
    (
        "Rust Blog",
        "https://blog.rust-lang.org/",
        "News &amp; updates",
    ),
    (
        "Rust on Wikipedia",
        "https://en.wikipedia.org/wiki/Rust",
        "An article",
    ),
    ("The Book", "https://doc.rust-lang.org/book/", "Learn Rust"),
    (
        "crates.io",
        "https://crates.io/",
        "The Rust package registry",
    ),
];

/// What the fake SearXNG instance returns, whatever the query.
const SEARXNG_RESULTS: &str = r#"{
  "query": "rust",
  "number_of_results": 7,
  "results": [
    {"title": "Rust Programming Language", "url": "https://www.rust-lang.org/", "content": "A language empowering everyone", "engine": "duckduckgo"},
    {"title": "Rust (programming language) - Wikipedia", "url": "https://en.wikipedia.org/wiki/Rust_(programming_language)", "content": "Rust is a <b>general-purpose</b> language"},
    {"title": "The Rust Book", "url": "https://doc.rust-lang.org/book/", "content": "An introductory book"},
    {"title": "docs.rs", "url": "https://docs.rs/", "content": "Documentation host"},
    {"title": "Duplicate of the first", "url": "https://www.rust-lang.org/", "content": "again"},
    {"title": "Not a web page", "url": "ftp://files.rust-lang.org/", "content": "ftp"},
    {"title": "Rust Blog", "url": "https://blog.rust-lang.org/", "content": "News"},
    {"title": "Lookalike", "url": "https://notrust-lang.org/", "content": "not rust-lang.org"}
  ],
  "answers": [],
  "suggestions": []
}"#;

/// An article page with the noise `web_scrape` must drop around it.
const PAGE_HTML: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <title>Test Article | Corral</title>
  <style>body { color: red; }</style>
  <script>var tracking = "SCRIPT-NOISE";</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/nav-only">NAV-NOISE</a></nav>
  <article>
    <h1>Article Heading</h1>
    <p>First paragraph with <strong>bold</strong> text and a <a href="/docs/guide?x=1">relative link</a>.</p>
    <ul><li>Item one</li><li>Item two</li></ul>
    <p>See also <a href="https://example.org/external">an external page</a> and <a href="#top">the top</a>.</p>
    <script>document.write("SCRIPT-NOISE")</script>
  </article>
  <footer>FOOTER-NOISE <a href="/privacy">Privacy</a></footer>
</body>
</html>"##;

/// The request, as JSON, so tests see what a tool actually sent.
fn echo(request: &Request) -> Vec<u8> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
        .collect();
    let body = serde_json::json!({
        "method": request.method,
        "target": request.target,
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
    });
    http(
        200,
        "OK",
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
}

fn http(status: u16, reason: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend(body);
    bytes
}

/// Decodes a `transfer-encoding: chunked` body (no trailers).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..line_end])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        let start = line_end + 2;
        if size == 0 || raw.len() < start + size {
            break;
        }
        body.extend_from_slice(&raw[start..start + size]);
        raw = raw.get(start + size + 2..).unwrap_or_default();
    }
    body
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

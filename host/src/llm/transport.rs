//! Bounded retries for the request that starts a model call, and the deadline-guarded
//! event-stream reading both HTTP providers share.
//!
//! The provider's first answer decides most failures: 401/403 is a bad key (retrying cannot
//! help), while 429, 5xx and a connection that fails before any response byte are usually
//! transient, so they are retried up to `max_retries` times with exponential backoff and
//! jitter, honouring `Retry-After`. Once an answer streams nothing is retried: its text may
//! already have reached the client. The whole call (retries and stream) must fit in
//! `settings.timeout`, and a stream silent for longer than the idle limit is abandoned, so a
//! stalled provider cannot hang a run.

use super::providers::ProviderSettings;
use super::{LlmError, LlmEvent, LlmStream};
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::time::Instant;

/// Most bytes of an error body read for its message (a proxy may answer with a whole page).
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The waits of one provider: backoff between retries and the silence allowed mid-stream.
/// Providers use the default; tests shrink it so they never wait seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// The first backoff; doubled each retry, with jitter.
    pub(crate) base_delay: Duration,
    /// The longest backoff.
    pub(crate) max_delay: Duration,
    /// The longest `Retry-After` honoured: a provider asking for minutes would outlast the run.
    pub(crate) max_retry_after: Duration,
    /// The longest silence between two chunks of a stream.
    pub(crate) idle_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Sends the request `build` makes, retrying 429, 5xx and connection failures up to
/// `settings.max_retries` times, all within `settings.timeout`. `build` is called once per
/// attempt because sending consumes a request builder.
///
/// Errors: [`LlmError::Auth`] on 401/403 (at once), [`LlmError::Status`] on another 4xx (at
/// once) or a 5xx after the retries, [`LlmError::RateLimited`] on a 429 after the retries,
/// [`LlmError::Connect`], [`LlmError::Timeout`].
pub async fn send_with_retry(
    settings: &ProviderSettings,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, LlmError> {
    let deadline = Instant::now() + settings.timeout;
    send_until(settings, &Timing::default(), deadline, build).await
}

/// [`send_with_retry`] with explicit timing and a deadline shared with the stream that follows.
pub(crate) async fn send_until(
    settings: &ProviderSettings,
    timing: &Timing,
    deadline: Instant,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, LlmError> {
    let attempts = send_attempts(settings, timing, deadline, build, tokio::time::sleep);
    tokio::time::timeout_at(deadline, attempts)
        .await
        .unwrap_or_else(|_| Err(timeout_error(settings, settings.timeout)))
}

/// The retry loop, with the sleep injected so tests can record the waits instead of taking them.
async fn send_attempts<S, F>(
    settings: &ProviderSettings,
    timing: &Timing,
    deadline: Instant,
    build: impl Fn() -> RequestBuilder,
    mut sleep: S,
) -> Result<Response, LlmError>
where
    S: FnMut(Duration) -> F,
    F: Future<Output = ()>,
{
    let provider = settings.name.clone();
    let mut retries = 0u32;
    loop {
        let (error, asked_wait) = match build().send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status();
                let asked_wait = retry_after(response.headers(), OffsetDateTime::now_utc())
                    .map(|wait| wait.min(timing.max_retry_after));
                let message = error_text(response).await;
                let code = status.as_u16();
                match code {
                    401 | 403 => {
                        return Err(LlmError::Auth {
                            provider,
                            status: code,
                            message,
                        });
                    }
                    429 => (
                        LlmError::RateLimited {
                            provider: provider.clone(),
                            message,
                        },
                        asked_wait,
                    ),
                    _ if status.is_server_error() => (
                        LlmError::Status {
                            provider: provider.clone(),
                            status: code,
                            message,
                        },
                        asked_wait,
                    ),
                    _ => {
                        return Err(LlmError::Status {
                            provider,
                            status: code,
                            message,
                        });
                    }
                }
            }
            // A request that cannot be built (a key that is not a valid header value...) fails
            // the same way every time.
            Err(error) if error.is_builder() => {
                return Err(LlmError::Config(format!(
                    "provider `{provider}`: cannot build the request: {}",
                    error_chain(&error)
                )));
            }
            Err(error) => (
                LlmError::Connect {
                    provider: provider.clone(),
                    message: error_chain(&error),
                },
                None,
            ),
        };
        if retries >= settings.max_retries {
            return Err(error);
        }
        let wait = asked_wait.unwrap_or_else(|| backoff(timing, retries));
        // Sleeping past the deadline would only turn a clear error into a timeout.
        if Instant::now() + wait >= deadline {
            return Err(error);
        }
        retries += 1;
        tracing::warn!(
            provider = %provider,
            retry = retries,
            max_retries = settings.max_retries,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            %error,
            "model call failed; retrying"
        );
        sleep(wait).await;
    }
}

/// The backoff before retry number `retries + 1`: doubling from the base delay, capped, with
/// "equal jitter" (half fixed, half random) so clients that failed together do not retry
/// together.
fn backoff(timing: &Timing, retries: u32) -> Duration {
    let nominal = timing
        .base_delay
        .saturating_mul(2u32.saturating_pow(retries))
        .min(timing.max_delay);
    nominal.mul_f64(rand::random_range(0.5..=1.0))
}

/// The wait a response asks for: `retry-after-ms` (OpenAI), or `Retry-After` in seconds or as
/// an HTTP date. `None` when absent or unreadable (the caller then backs off on its own).
fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    if let Some(ms) = header_text(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    let value = header_text(headers, RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(1e9)));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = PrimitiveDateTime::parse(value, format).ok()?.assume_utc();
    // A date in the past means "now".
    Some(Duration::try_from(date - now).unwrap_or(Duration::ZERO))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The message of an error response: the provider's own words from its JSON error body when
/// present, else the start of the body, else the status's reason phrase.
async fn error_text(mut response: Response) -> String {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let from_json = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| error_message(&value));
    from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            clip(text, 500)
        }
    })
}

/// The human message in a provider's error object, in the shapes providers use: OpenAI and
/// Anthropic `{"error": {"message"}}`, `{"error": "..."}` (Ollama, llama.cpp), `{"message"}`,
/// `{"detail"}` (FastAPI-based servers).
pub(crate) fn error_message(value: &Value) -> Option<String> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match value.get("error") {
        Some(Value::String(message)) => return Some(message.clone()),
        Some(error @ Value::Object(fields)) => {
            return text(fields.get("message")).or_else(|| Some(error.to_string()));
        }
        _ => {}
    }
    text(value.get("message")).or_else(|| text(value.get("detail")))
}

/// At most `max` characters of `text`, marked when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Tool-call arguments from the JSON text the model streamed: empty text is "no arguments",
/// and text that does not parse is kept as a string so the host can tell the model.
pub(crate) fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The timeout error for a limit (whole seconds, rounded up so 200 ms does not read "0 s").
pub(crate) fn timeout_error(settings: &ProviderSettings, limit: Duration) -> LlmError {
    LlmError::Timeout {
        provider: settings.name.clone(),
        seconds: limit.as_secs() + u64::from(limit.subsec_nanos() > 0),
    }
}

/// An error with its causes (reqwest's own text rarely says why a connection failed).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The HTTP client of one provider. Redirects are followed; timeouts are ours, per call.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| format!("cannot start an HTTP client: {}", error_chain(&error)))
}

/// The server-sent events of a successful response, each awaited under the call's deadline
/// and, once the first has come, the idle limit. A JSON body instead of a stream (a server
/// that ignored `stream: true`, or reports an error with 200) is a malformed answer.
pub(crate) async fn read_events(
    settings: &ProviderSettings,
    timing: &Timing,
    deadline: Instant,
    response: Response,
) -> Result<BoxStream<'static, Result<Event, LlmError>>, LlmError> {
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if is_json {
        let message = tokio::time::timeout_at(deadline, error_text(response))
            .await
            .map_err(|_| timeout_error(settings, settings.timeout))?;
        return Err(LlmError::Malformed {
            provider: settings.name.clone(),
            message: format!("expected an event stream, got JSON: {message}"),
        });
    }
    let provider = settings.name.clone();
    let total = settings.timeout;
    let idle = timing.idle_timeout;
    let events = response.bytes_stream().eventsource().boxed();
    // The idle limit starts with the first event: a reasoning model may think in silence
    // before it, and the deadline bounds that wait.
    let stream = futures::stream::unfold(Some((events, false)), move |state| {
        let provider = provider.clone();
        async move {
            let (mut events, started) = state?;
            let idle_until = Instant::now() + idle;
            let (until, limit) = if !started || deadline <= idle_until {
                (deadline, total)
            } else {
                (idle_until, idle)
            };
            match tokio::time::timeout_at(until, events.next()).await {
                Ok(Some(Ok(event))) => Some((Ok(event), Some((events, true)))),
                Ok(None) => None,
                Ok(Some(Err(error))) => Some((Err(stream_failure(&provider, error)), None)),
                Err(_) => {
                    let seconds = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
                    Some((Err(LlmError::Timeout { provider, seconds }), None))
                }
            }
        }
    });
    Ok(stream.boxed())
}

/// A failure reading the stream: a lost connection cuts the answer; bytes that are not an
/// event stream are malformed.
fn stream_failure(provider: &str, error: EventStreamError<reqwest::Error>) -> LlmError {
    match error {
        EventStreamError::Transport(error) => {
            tracing::warn!(provider, error = %error_chain(&error), "model stream broke off");
            LlmError::Cut {
                provider: provider.to_string(),
            }
        }
        EventStreamError::Utf8(error) => LlmError::Malformed {
            provider: provider.to_string(),
            message: format!("the stream is not UTF-8: {error}"),
        },
        EventStreamError::Parser(error) => LlmError::Malformed {
            provider: provider.to_string(),
            message: format!("not an event stream: {error}"),
        },
    }
}

/// One provider's wire format, turned into [`LlmEvent`]s event by event.
pub(crate) trait Decode: Send + 'static {
    /// The events one server-sent event yields.
    fn event(&mut self, event: &Event) -> Result<Vec<LlmEvent>, LlmError>;
    /// Whether the answer is complete; the rest of the stream is then not read.
    fn is_done(&self) -> bool;
    /// The stream ended: what is still owed, or [`LlmError::Cut`] if the answer is incomplete.
    fn end(&mut self) -> Result<Vec<LlmEvent>, LlmError>;
}

/// Where decoding is: the queue holds events decoded but not yet taken.
struct Decoding<D> {
    events: BoxStream<'static, Result<Event, LlmError>>,
    decoder: D,
    queue: VecDeque<Result<LlmEvent, LlmError>>,
    finished: bool,
}

/// The [`LlmStream`] of a decoder over a response's events. It ends after the answer or the
/// first error.
pub(crate) fn decode<D: Decode>(
    events: BoxStream<'static, Result<Event, LlmError>>,
    decoder: D,
) -> LlmStream {
    let state = Decoding {
        events,
        decoder,
        queue: VecDeque::new(),
        finished: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.queue.pop_front() {
                return Some((item, state));
            }
            if state.finished {
                return None;
            }
            let decoded = match state.events.next().await {
                Some(Ok(event)) => {
                    let decoded = state.decoder.event(&event);
                    state.finished = state.decoder.is_done();
                    decoded
                }
                Some(Err(error)) => Err(error),
                None => {
                    state.finished = true;
                    state.decoder.end()
                }
            };
            match decoded {
                Ok(events) => state.queue.extend(events.into_iter().map(Ok)),
                Err(error) => {
                    state.finished = true;
                    state.queue.push_back(Err(error));
                }
            }
            if state.finished {
                // Release the connection now rather than when the caller drops the stream.
                state.events = futures::stream::empty().boxed();
            }
        }
    })
    .boxed()
}

/// A local stand-in for a provider, replaying exact wire bytes and recording what it got.
#[cfg(test)]
pub(crate) mod fake {
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, Uri};
    use axum::response::Response;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// How the fake answers one request.
    #[derive(Debug, Clone)]
    pub(crate) enum Reply {
        /// 200 with this event stream, sent in small pieces (cutting through JSON and UTF-8).
        Stream(String),
        /// 200, these bytes, then silence with the connection open.
        Stall(String),
        /// Another status, with headers and body.
        Status(u16, Vec<(&'static str, String)>, String),
        /// Nothing at all: no status line ever.
        Never,
    }

    /// A request the fake received.
    #[derive(Debug, Clone)]
    pub(crate) struct Received {
        /// Method.
        pub(crate) method: Method,
        /// Path.
        pub(crate) path: String,
        /// Headers.
        pub(crate) headers: HeaderMap,
        /// Body as JSON (`Null` when it is not JSON).
        pub(crate) body: Value,
    }

    #[derive(Debug, Default)]
    struct Shared {
        replies: Vec<Reply>,
        received: Mutex<Vec<Received>>,
    }

    /// The running fake; stops when dropped.
    #[derive(Debug)]
    pub(crate) struct FakeServer {
        /// `http://127.0.0.1:PORT`.
        pub(crate) url: String,
        shared: Arc<Shared>,
        task: tokio::task::JoinHandle<()>,
    }

    impl FakeServer {
        /// Serves `replies` in order, the last one for every later request.
        pub(crate) async fn start(replies: Vec<Reply>) -> Self {
            let shared = Arc::new(Shared {
                replies,
                received: Mutex::default(),
            });
            let app = axum::Router::new()
                .fallback(answer)
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { url, shared, task }
        }

        /// The requests received so far.
        pub(crate) fn received(&self) -> Vec<Received> {
            self.shared.received.lock().unwrap().clone()
        }
    }

    impl Drop for FakeServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// A server that answers every request with 200, the start of a chunked event stream, and
    /// then closes the connection mid-body. Raw TCP, because a framework may drop unflushed
    /// bytes when a body fails, and the test must know exactly what the client got.
    #[derive(Debug)]
    pub(crate) struct CutServer {
        /// `http://127.0.0.1:PORT`.
        pub(crate) url: String,
        task: tokio::task::JoinHandle<()>,
    }

    impl CutServer {
        /// Sends `text` as one chunk, then hangs up.
        pub(crate) async fn start(text: String) -> Self {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let task = tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    // Read the whole request first so closing sends FIN, not RST.
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let read = socket.read(&mut buffer).await.unwrap();
                        request.extend_from_slice(&buffer[..read]);
                        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                        if read == 0 {
                            break;
                        }
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                    let chunk = format!("{:x}\r\n{text}\r\n", text.len());
                    socket.write_all(head.as_bytes()).await.unwrap();
                    socket.write_all(chunk.as_bytes()).await.unwrap();
                    socket.shutdown().await.unwrap();
                }
            });
            Self { url, task }
        }
    }

    impl Drop for CutServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn answer(
        State(shared): State<Arc<Shared>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let reply = {
            let mut received = shared.received.lock().unwrap();
            received.push(Received {
                method,
                path: uri.path().to_string(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            let index = (received.len() - 1).min(shared.replies.len() - 1);
            shared.replies[index].clone()
        };
        let stream = |text: String| {
            let bytes = Bytes::from(text);
            (0..bytes.len())
                .step_by(7)
                .map(|start| {
                    Ok::<_, std::io::Error>(bytes.slice(start..(start + 7).min(bytes.len())))
                })
                .collect::<Vec<_>>()
        };
        let sse = |body: Body| {
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(body)
                .unwrap()
        };
        match reply {
            Reply::Stream(text) => sse(Body::from_stream(futures::stream::iter(stream(text)))),
            Reply::Stall(text) => sse(Body::from_stream(futures::StreamExt::chain(
                futures::stream::iter(stream(text)),
                futures::stream::pending(),
            ))),
            Reply::Status(status, headers, body) => {
                let mut response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json");
                for (name, value) in headers {
                    response = response.header(name, value);
                }
                response.body(Body::from(body)).unwrap()
            }
            Reply::Never => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeServer, Reply};
    use super::*;
    use crate::llm::providers::ProviderKind;
    use serde_json::json;

    fn settings(url: &str, max_retries: u32) -> ProviderSettings {
        ProviderSettings {
            name: "test".into(),
            kind: ProviderKind::Openai,
            base_url: url.into(),
            api_key: None,
            timeout: Duration::from_secs(30),
            max_retries,
        }
    }

    /// Runs the retry loop against `replies`, recording the waits instead of taking them.
    async fn run(
        replies: Vec<Reply>,
        max_retries: u32,
    ) -> (Result<Response, LlmError>, Vec<Duration>, usize) {
        let server = FakeServer::start(replies).await;
        let settings = settings(&server.url, max_retries);
        let client = reqwest::Client::new();
        let mut waits = Vec::new();
        let result = send_attempts(
            &settings,
            &Timing::default(),
            Instant::now() + Duration::from_secs(600),
            || client.post(format!("{}/x", server.url)).body("{}"),
            |wait| {
                waits.push(wait);
                std::future::ready(())
            },
        )
        .await;
        (result, waits, server.received().len())
    }

    const OPENAI_429: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;

    #[tokio::test]
    async fn retry_after_is_honoured_and_5xx_backs_off_then_success() {
        let (result, waits, requests) = run(
            vec![
                Reply::Status(429, vec![("retry-after", "7".into())], OPENAI_429.into()),
                Reply::Status(503, vec![], "upstream connect error".into()),
                Reply::Stream("data: [DONE]\n\n".into()),
            ],
            3,
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(requests, 3);
        assert_eq!(waits[0], Duration::from_secs(7));
        // Second retry: nominal 1 s, jittered into [0.5 s, 1 s].
        assert!(
            (Duration::from_millis(500)..=Duration::from_secs(1)).contains(&waits[1]),
            "{waits:?}"
        );
    }

    #[tokio::test]
    async fn rate_limited_after_the_retries_with_the_providers_message() {
        let (result, waits, requests) = run(
            vec![Reply::Status(
                429,
                vec![("retry-after", "0".into())],
                OPENAI_429.into(),
            )],
            2,
        )
        .await;
        assert_eq!(requests, 3);
        assert_eq!(waits, vec![Duration::ZERO; 2]);
        match result {
            Err(LlmError::RateLimited { message, .. }) => {
                assert!(
                    message.starts_with("Rate limit reached for gpt-4o"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn server_errors_end_as_status_after_the_retries() {
        let (result, waits, requests) = run(
            vec![Reply::Status(
                500,
                vec![],
                r#"{"error":{"message":"The server had an error"}}"#.into(),
            )],
            1,
        )
        .await;
        assert_eq!((requests, waits.len()), (2, 1));
        assert_eq!(
            result.err(),
            Some(LlmError::Status {
                provider: "test".into(),
                status: 500,
                message: "The server had an error".into()
            })
        );
    }

    #[tokio::test]
    async fn auth_and_other_client_errors_are_not_retried() {
        let body = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CS"}"#;
        let (result, waits, requests) = run(vec![Reply::Status(401, vec![], body.into())], 3).await;
        assert_eq!((requests, waits.len()), (1, 0));
        assert_eq!(
            result.err(),
            Some(LlmError::Auth {
                provider: "test".into(),
                status: 401,
                message: "invalid x-api-key".into()
            })
        );
        let body = r#"{"error":{"message":"Unrecognized request argument supplied: foo","type":"invalid_request_error","param":null,"code":null}}"#;
        let (result, _, requests) = run(vec![Reply::Status(400, vec![], body.into())], 3).await;
        assert_eq!(requests, 1);
        assert!(
            matches!(result, Err(LlmError::Status { status: 400, ref message, .. }) if message == "Unrecognized request argument supplied: foo")
        );
        let (result, _, _) = run(vec![Reply::Status(404, vec![], String::new())], 3).await;
        assert!(
            matches!(result, Err(LlmError::Status { status: 404, ref message, .. }) if message == "Not Found")
        );
    }

    #[tokio::test]
    async fn connection_failures_are_retried_then_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let settings = settings(&url, 2);
        let client = reqwest::Client::new();
        let mut waits = Vec::new();
        let result = send_attempts(
            &settings,
            &Timing::default(),
            Instant::now() + Duration::from_secs(600),
            || client.post(&url),
            |wait| {
                waits.push(wait);
                std::future::ready(())
            },
        )
        .await;
        assert_eq!(waits.len(), 2);
        assert!(
            matches!(result, Err(LlmError::Connect { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_gives_up_at_once() {
        let server = FakeServer::start(vec![Reply::Status(
            429,
            vec![("retry-after", "30".into())],
            OPENAI_429.into(),
        )])
        .await;
        let settings = settings(&server.url, 5);
        let client = reqwest::Client::new();
        let result = send_attempts(
            &settings,
            &Timing::default(),
            Instant::now() + Duration::from_secs(5),
            || client.post(&server.url),
            |_| async { panic!("must not wait") },
        )
        .await;
        assert!(matches!(result, Err(LlmError::RateLimited { .. })));
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let server = FakeServer::start(vec![Reply::Never]).await;
        let mut settings = settings(&server.url, 3);
        settings.timeout = Duration::from_millis(200);
        let client = reqwest::Client::new();
        let result = send_with_retry(&settings, || client.post(&server.url)).await;
        assert_eq!(
            result.err(),
            Some(LlmError::Timeout {
                provider: "test".into(),
                seconds: 1
            })
        );
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let now = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap(); // Sun, 06 Nov 1994 08:49:37 GMT
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        let read = |pairs: &[(&'static str, &str)]| retry_after(&headers(pairs), now);
        assert_eq!(
            read(&[("retry-after", "12")]),
            Some(Duration::from_secs(12))
        );
        assert_eq!(read(&[("retry-after", "0")]), Some(Duration::ZERO));
        assert_eq!(
            read(&[("retry-after-ms", "1500"), ("retry-after", "2")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            read(&[("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            read(&[("retry-after", "Sun, 06 Nov 1994 08:00:00 GMT")]),
            Some(Duration::ZERO)
        );
        assert_eq!(read(&[("retry-after", "soon")]), None);
        assert_eq!(read(&[("retry-after", "-3")]), None);
        assert_eq!(read(&[]), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let timing = Timing::default();
        for _ in 0..50 {
            let first = backoff(&timing, 0);
            assert!((Duration::from_millis(250)..=Duration::from_millis(500)).contains(&first));
            let third = backoff(&timing, 2);
            assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&third));
            let late = backoff(&timing, 40);
            assert!((Duration::from_secs(10)..=Duration::from_secs(20)).contains(&late));
        }
    }

    #[test]
    fn error_messages_in_every_shape() {
        assert_eq!(
            error_message(&json!({"error": {"message": "bad key", "type": "x"}})).as_deref(),
            Some("bad key")
        );
        assert_eq!(
            error_message(&json!({"error": "model 'llama9' not found"})).as_deref(),
            Some("model 'llama9' not found")
        );
        assert_eq!(
            error_message(&json!({"detail": "Not authenticated"})).as_deref(),
            Some("Not authenticated")
        );
        assert_eq!(
            error_message(&json!({"error": {"code": 7}})).as_deref(),
            Some(r#"{"code":7}"#)
        );
        assert_eq!(error_message(&json!({"ok": true})), None);
        assert_eq!(clip("héllo", 2), "hé...");
        assert_eq!(parse_arguments(""), json!({}));
        assert_eq!(parse_arguments("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(parse_arguments("{\"a\":"), json!("{\"a\":"));
    }

    #[tokio::test]
    async fn decode_stops_at_the_first_error() {
        struct Echo;
        impl Decode for Echo {
            fn event(&mut self, event: &Event) -> Result<Vec<LlmEvent>, LlmError> {
                if event.data == "bad" {
                    return Err(LlmError::Cut {
                        provider: "test".into(),
                    });
                }
                Ok(vec![LlmEvent::TextDelta(event.data.clone())])
            }
            fn is_done(&self) -> bool {
                false
            }
            fn end(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
                Ok(vec![])
            }
        }
        let event = |data: &str| {
            Ok(Event {
                data: data.into(),
                ..Event::default()
            })
        };
        let events = futures::stream::iter(vec![event("a"), event("bad"), event("b")]).boxed();
        let out: Vec<_> = decode(events, Echo).collect().await;
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
    }
}

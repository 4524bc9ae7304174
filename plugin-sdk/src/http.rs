//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Every request, and every redirect hop (followed here as a new request), is checked by the
//! host against the assignment's allowed hosts and address rules; a refusal comes back as
//! [`HttpError::Refused`]. Bodies are read up to a cap so a large response cannot exhaust the
//! tool's memory.

use crate::ToolError;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WitMethod, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// Default cap on a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// Any other method.
    Other(String),
}

impl Method {
    fn to_wit(&self) -> WitMethod {
        match self {
            Self::Get => WitMethod::Get,
            Self::Head => WitMethod::Head,
            Self::Post => WitMethod::Post,
            Self::Put => WitMethod::Put,
            Self::Patch => WitMethod::Patch,
            Self::Delete => WitMethod::Delete,
            Self::Options => WitMethod::Options,
            Self::Other(m) => WitMethod::Other(m.clone()),
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl(String),
    /// The host refused the request: host not granted, or a forbidden address.
    Refused(String),
    /// The response body was larger than the cap.
    TooLarge(usize),
    /// More redirects than allowed.
    TooManyRedirects(u32),
    /// Network or protocol failure.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidUrl(u) => write!(
                f,
                "invalid URL {u:?}: use an absolute http:// or https:// URL"
            ),
            Self::Refused(why) => write!(f, "the host refused this request: {why}"),
            Self::TooLarge(cap) => write!(f, "the response body is larger than {cap} bytes"),
            Self::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            Self::Failed(why) => write!(f, "HTTP request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for ToolError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::InvalidUrl(_) => ToolError::InvalidArguments(e.to_string()),
            HttpError::Refused(_) => ToolError::Denied(e.to_string()),
            _ => ToolError::Failed(e.to_string()),
        }
    }
}

/// Turns a `wasi:http` error code into a message a model (and a person) can act on.
fn error_code(code: ErrorCode) -> HttpError {
    let failed = |why: &str| HttpError::Failed(why.to_string());
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Refused("the destination is not granted to this tool".into())
        }
        ErrorCode::DestinationIpProhibited => {
            HttpError::Refused("the destination address is not allowed".into())
        }
        ErrorCode::HttpResponseBodySize(limit) => {
            HttpError::TooLarge(limit.map_or(0, |l| usize::try_from(l).unwrap_or(usize::MAX)))
        }
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) => failed("the host name did not resolve"),
        ErrorCode::DestinationNotFound | ErrorCode::DestinationUnavailable => {
            failed("the destination is unavailable")
        }
        ErrorCode::DestinationIpUnroutable => failed("the destination address is unreachable"),
        ErrorCode::ConnectionRefused => failed("connection refused"),
        ErrorCode::ConnectionTerminated => failed("the connection was closed early"),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => failed("timed out"),
        ErrorCode::ConnectionLimitReached => failed("too many connections"),
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            failed("TLS handshake failed")
        }
        ErrorCode::TlsCertificateError => failed("the server's TLS certificate is not valid"),
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestUriTooLong => {
            failed("the URL was rejected")
        }
        ErrorCode::HttpResponseIncomplete => failed("the response was cut short"),
        ErrorCode::HttpProtocolError => failed("the server broke the HTTP protocol"),
        ErrorCode::InternalError(Some(why)) => HttpError::Failed(why),
        other => HttpError::Failed(format!("{other:?}")),
    }
}

/// A response, with its body read (all of it, or up to [`Request::truncate_body_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that answered (after redirects).
    pub url: String,
    /// True when the body was longer than [`Request::truncate_body_at`] and `body` holds only
    /// its start (the rest was never downloaded).
    pub truncated: bool,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::Failed(format!("the body is not the expected JSON: {e}")))
    }
}

/// A request to build and [`send`](Request::send).
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    max_redirects: u32,
    body_limit: BodyLimit,
}

/// What to do with a response body longer than the cap.
#[derive(Debug, Clone, Copy)]
enum BodyLimit {
    /// Fail the request with [`HttpError::TooLarge`].
    Fail(usize),
    /// Keep the first bytes, stop reading and say so.
    Truncate(usize),
}

/// `GET url`, following redirects.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::new(Method::Get, url).send()
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
            body_limit: BodyLimit::Fail(DEFAULT_MAX_BODY_BYTES),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// How many redirects to follow; 0 returns the redirect response itself.
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// Cap on the response body: a longer body fails the request with
    /// [`HttpError::TooLarge`].
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.body_limit = BodyLimit::Fail(n);
        self
    }

    /// Reads at most `n` bytes of the response body and stops there: a longer body is cut
    /// (the response says [`truncated`](Response::truncated)) instead of failing, and the rest
    /// is never downloaded. For tools that show the start of a document.
    pub fn truncate_body_at(mut self, n: usize) -> Self {
        self.body_limit = BodyLimit::Truncate(n);
        self
    }

    /// Sends it, following redirects as new requests (each one checked by the host).
    pub fn send(self) -> Result<Response, HttpError> {
        let Self {
            mut method,
            mut url,
            headers,
            mut body,
            max_redirects,
            body_limit,
        } = self;
        for _ in 0..=max_redirects {
            let ResponseHead {
                status,
                headers: response_headers,
                body: incoming,
            } = send_once(&method, &url, &headers, &body)?;
            let location = response_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.clone());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) if max_redirects > 0 => {
                    drop(incoming);
                    url = resolve(&url, &location)?;
                    // 303, and 301/302 after POST, continue as GET without a body (as browsers do).
                    if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
                        method = Method::Get;
                        body.clear();
                    }
                }
                _ => {
                    let (body, truncated) = read_body(incoming, body_limit)?;
                    return Ok(Response {
                        status,
                        headers: response_headers,
                        body,
                        url,
                        truncated,
                    });
                }
            }
        }
        Err(HttpError::TooManyRedirects(max_redirects))
    }
}

struct Parsed<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn parse(url: &str) -> Result<Parsed<'_>, HttpError> {
    let invalid = || HttpError::InvalidUrl(url.to_string());
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid());
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    Ok(Parsed {
        https,
        authority,
        path_and_query: if path_and_query.is_empty() {
            "/"
        } else {
            path_and_query
        },
    })
}

/// Resolves a `Location` header against the URL that sent it.
fn resolve(base: &str, location: &str) -> Result<String, HttpError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_string());
    }
    let parsed = parse(base)?;
    let scheme = if parsed.https { "https" } else { "http" };
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{}{location}", parsed.authority));
    }
    let path = parsed.path_and_query.split('?').next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Ok(format!("{scheme}://{}{dir}{location}", parsed.authority))
}

/// Status, headers and the unread body of one response.
struct ResponseHead {
    status: u16,
    headers: Vec<(String, String)>,
    body: IncomingBody,
}

fn send_once(
    method: &Method,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ResponseHead, HttpError> {
    let parsed = parse(url)?;
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| HttpError::Failed(format!("header {name:?} not allowed: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let bad = |what: &str| HttpError::Failed(format!("invalid {what}"));
    request
        .set_method(&method.to_wit())
        .map_err(|()| bad("method"))?;
    request
        .set_scheme(Some(&if parsed.https {
            Scheme::Https
        } else {
            Scheme::Http
        }))
        .map_err(|()| bad("scheme"))?;
    request
        .set_authority(Some(parsed.authority))
        .map_err(|()| HttpError::InvalidUrl(url.to_string()))?;
    request
        .set_path_with_query(Some(parsed.path_and_query))
        .map_err(|()| HttpError::InvalidUrl(url.to_string()))?;
    let outgoing = request.body().map_err(|()| bad("body"))?;
    // Hand the request over first: the host streams the body while it is written, so writing
    // a large body before `handle` would wait on a reader that does not exist yet.
    let future = outgoing_handler::handle(request, None).map_err(error_code)?;
    if !body.is_empty() {
        let stream = outgoing.write().map_err(|()| bad("body stream"))?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Failed(format!("sending the body: {e:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(error_code)?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(error_code(code)),
        Some(Err(())) | None => {
            return Err(HttpError::Failed("the response was already taken".into()));
        }
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Failed("the body was already taken".into()))?;
    Ok(ResponseHead {
        status,
        headers,
        body: incoming,
    })
}

/// Reads the body up to the limit's cap; beyond it, fails or keeps the first bytes and stops
/// reading, as the limit says. Returns the bytes and whether they were cut.
fn read_body(incoming: IncomingBody, limit: BodyLimit) -> Result<(Vec<u8>, bool), HttpError> {
    let (BodyLimit::Fail(cap) | BodyLimit::Truncate(cap)) = limit;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Failed("the body was already taken".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if body.len() + chunk.len() > cap {
                        if let BodyLimit::Fail(_) = limit {
                            return Err(HttpError::TooLarge(cap));
                        }
                        body.extend_from_slice(&chunk[..cap - body.len()]);
                        // Dropping the stream and then the body tells the host to stop
                        // receiving; the trailers are not waited for.
                        return Ok((body, true));
                    }
                    body.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(HttpError::Failed(format!(
                        "reading the body: {}",
                        e.to_debug_string()
                    )));
                }
            }
        }
    }
    let _ = IncomingBody::finish(incoming);
    Ok((body, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let p = parse("https://api.example.com:8443/a/b?q=1#frag").unwrap();
        assert!(p.https);
        assert_eq!(p.authority, "api.example.com:8443");
        assert_eq!(p.path_and_query, "/a/b?q=1");
        assert_eq!(parse("http://x").unwrap().path_and_query, "/");
        assert_eq!(parse("http://x?y=1").unwrap().path_and_query, "?y=1");
        for bad in ["ftp://x", "x.com", "http://", "http://user@x/"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_codes_read_well() {
        assert_eq!(
            error_code(ErrorCode::HttpRequestDenied).to_string(),
            "the host refused this request: the destination is not granted to this tool"
        );
        assert!(matches!(
            ToolError::from(error_code(ErrorCode::DestinationIpProhibited)),
            ToolError::Denied(_)
        ));
        assert_eq!(
            error_code(ErrorCode::InternalError(Some("boom".into()))).to_string(),
            "HTTP request failed: boom"
        );
        assert_eq!(
            error_code(ErrorCode::ConnectionRefused).to_string(),
            "HTTP request failed: connection refused"
        );
    }

    #[test]
    fn redirects_resolve() {
        let base = "http://h:1/a/b?c";
        assert_eq!(resolve(base, "https://o/p").unwrap(), "https://o/p");
        assert_eq!(resolve(base, "//o/p").unwrap(), "http://o/p");
        assert_eq!(resolve(base, "/p").unwrap(), "http://h:1/p");
        assert_eq!(resolve(base, "p").unwrap(), "http://h:1/a/p");
    }
}

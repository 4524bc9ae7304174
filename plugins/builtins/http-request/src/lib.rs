//! Builtin tool `http_request`: one HTTP request, for calling APIs.
//!
//! The host's egress policy decides where the tool may connect (granted hosts, no private or
//! metadata addresses) and checks every request, redirect hops included. On top of that an
//! operator can narrow one assignment with arguments forced through `config_override`:
//! `base_url` confines requests to one API (the model then passes paths), `allowed_domains`
//! to a list of domains. Credentials never pass through the model: headers come from the
//! assignment's configuration (`headers`, a JSON object, or one `header.NAME` key per header,
//! which the host can scrub from records by value) and replace any header the model sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use corral_plugin_sdk::config::{self, ConfigError};
use corral_plugin_sdk::http;
use corral_plugin_sdk::prelude::*;
use std::collections::BTreeMap;
use url::{Host, Url};

/// Body bytes returned unless asked for fewer.
const DEFAULT_RESPONSE_BYTES: usize = 64 * 1024;
/// Most body bytes returned: with JSON escaping, still under the host's default 1 MiB output cap.
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
/// Redirects followed; each hop is re-checked here and by the host.
const MAX_REDIRECTS: u32 = 5;
/// Configuration key holding a JSON object of header name to value.
const HEADERS_KEY: &str = "headers";
/// Prefix of configuration keys that each hold one header's value.
const HEADER_KEY_PREFIX: &str = "header.";
/// Headers the HTTP client sets itself; a model-supplied value would be wrong or refused.
const CLIENT_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Model headers that carry credentials; dropped when a redirect leaves the origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie"];

/// An HTTP method.
#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl HttpMethod {
    fn to_sdk(self) -> http::Method {
        match self {
            Self::Get => http::Method::Get,
            Self::Head => http::Method::Head,
            Self::Post => http::Method::Post,
            Self::Put => http::Method::Put,
            Self::Patch => http::Method::Patch,
            Self::Delete => http::Method::Delete,
            Self::Options => http::Method::Options,
        }
    }
}

/// Arguments of `http_request`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RequestArgs {
    /// The HTTP method (default GET).
    method: Option<HttpMethod>,
    /// Absolute http:// or https:// URL. When `base_url` is set, a path relative to it (e.g.
    /// `users/42?fields=name`) or an absolute URL under it.
    url: String,
    /// Request headers, name to value. Credentials are normally configured by the operator and
    /// added automatically; an operator-configured header replaces one given here.
    headers: Option<BTreeMap<String, String>>,
    /// Request body as text. Without a Content-Type header it is sent as `application/json`
    /// when it parses as JSON, else as `text/plain; charset=utf-8`.
    body: Option<String>,
    /// Most bytes of response body to return (default 65536, at most 524288); a longer body is
    /// cut and the result says `truncated: true`.
    #[schemars(range(min = 1, max = 524288))]
    max_response_bytes: Option<usize>,
    /// Follow redirects (default true, at most 5 hops); false returns the 3xx response itself.
    follow_redirects: Option<bool>,
    /// Base URL that `url` is relative to; requests may not leave it (same scheme, host and
    /// port, and a path under its path). Usually fixed by the operator.
    base_url: Option<String>,
    /// Domains the request may go to; `example.com` also allows its subdomains, `host:port`
    /// pins a port. Empty or absent: no restriction beyond the host's. Usually fixed by the
    /// operator.
    allowed_domains: Option<Vec<String>>,
}

/// How `body` is encoded.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum BodyEncoding {
    /// UTF-8 text, as received.
    Text,
    /// Base64 of the raw bytes: the body is not UTF-8.
    Base64,
}

/// What `http_request` returns.
#[derive(Serialize, JsonSchema)]
struct HttpResult {
    /// HTTP status code.
    status: u16,
    /// The URL that answered (after redirects).
    url: String,
    /// Response headers, names lowercase; repeated headers are joined with ", ".
    headers: BTreeMap<String, String>,
    /// The response body, encoded as `encoding` says, cut at `max_response_bytes`.
    body: String,
    /// `text` for UTF-8 bodies, `base64` otherwise.
    encoding: BodyEncoding,
    /// The full body size in bytes when known: counted when the whole body was read, else
    /// the server's Content-Length (the part past `max_response_bytes` is not downloaded).
    size: Option<u64>,
    /// True when `body` holds only the first `max_response_bytes` bytes.
    truncated: bool,
}

fn http_request(args: RequestArgs, _ctx: &Context) -> Result<HttpResult, ToolError> {
    let scope = Scope::new(args.base_url.as_deref(), args.allowed_domains.as_deref())?;
    let mut url = scope.target(&args.url)?;
    let max = match args.max_response_bytes {
        Some(0) => {
            return Err(ToolError::invalid(
                "`max_response_bytes` must be at least 1",
            ));
        }
        Some(n) => n.min(MAX_RESPONSE_BYTES),
        None => DEFAULT_RESPONSE_BYTES,
    };
    let mut headers = model_headers(args.headers.unwrap_or_default())?;
    let secret_headers = configured_headers()?;
    headers.retain(|(name, _)| !secret_headers.iter().any(|(s, _)| s == name));
    let mut body = args.body.unwrap_or_default().into_bytes();
    if !body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
        let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
        let content_type = if json {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        headers.push(("content-type".into(), content_type.into()));
    }

    let origin = url.origin();
    let mut method = args.method.unwrap_or_default();
    let mut redirects = 0;
    let response = loop {
        let same_origin = url.origin() == origin;
        let mut request = http::Request::new(method.to_sdk(), url.as_str())
            .max_redirects(0)
            .truncate_body_at(max);
        // Credentials are for the origin they were meant for, not wherever it redirects to.
        let sent = headers
            .iter()
            .chain(secret_headers.iter().filter(|_| same_origin));
        for (name, value) in sent {
            if same_origin || !CREDENTIAL_HEADERS.contains(&name.as_str()) {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        if !body.is_empty() {
            // Without a length the body goes out chunked, which some APIs refuse.
            request = request
                .header("content-length", body.len().to_string())
                .body(body.clone());
        }
        let response = request.send()?;
        let follow = args.follow_redirects != Some(false)
            && matches!(response.status, 301 | 302 | 303 | 307 | 308);
        let location = match response.header("location") {
            Some(location) if follow => location,
            _ => break response,
        };
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(ToolError::failed(format!(
                "more than {MAX_REDIRECTS} redirects"
            )));
        }
        let next = url.join(location).map_err(|e| {
            ToolError::failed(format!(
                "the server redirected to an invalid URL {location:?}: {e}"
            ))
        })?;
        url = scope.check(next, "the server redirected to")?;
        // As browsers do: 303, and 301/302 after POST, continue as GET without the body.
        if (response.status == 303 && method != HttpMethod::Head)
            || (matches!(response.status, 301 | 302) && method == HttpMethod::Post)
        {
            method = HttpMethod::Get;
            body.clear();
            headers.retain(|(name, _)| name != "content-type");
        }
    };

    let truncated = response.truncated;
    let size = if truncated {
        response
            .header("content-length")
            .and_then(|n| n.trim().parse().ok())
    } else {
        u64::try_from(response.body.len()).ok()
    };
    let (encoding, text) = body_text(response.body, truncated);
    let mut response_headers = BTreeMap::<String, String>::new();
    for (name, value) in response.headers {
        response_headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    Ok(HttpResult {
        status: response.status,
        url: response.url,
        headers: response_headers,
        body: text,
        encoding,
        size,
        truncated,
    })
}

/// A body as text when it is UTF-8, else as base64. When the body was `cut` short, a
/// character split by the cut is dropped and the rest is still text.
fn body_text(body: Vec<u8>, cut: bool) -> (BodyEncoding, String) {
    match String::from_utf8(body) {
        Ok(text) => (BodyEncoding::Text, text),
        Err(e) => {
            let invalid = e.utf8_error();
            if cut && invalid.error_len().is_none() {
                let mut bytes = e.into_bytes();
                bytes.truncate(invalid.valid_up_to());
                (
                    BodyEncoding::Text,
                    String::from_utf8(bytes).unwrap_or_default(),
                )
            } else {
                (BodyEncoding::Base64, BASE64.encode(e.as_bytes()))
            }
        }
    }
}

/// Where requests of this call may go, beyond what the host allows.
struct Scope {
    base: Option<Url>,
    domains: Vec<DomainRule>,
}

/// One `allowed_domains` entry.
#[derive(Debug, PartialEq, Eq)]
struct DomainRule {
    host: String,
    port: Option<u16>,
}

impl Scope {
    fn new(base_url: Option<&str>, allowed_domains: Option<&[String]>) -> Result<Self, ToolError> {
        let base = base_url
            .map(|b| {
                let base = absolute_url(b).map_err(|why| {
                    ToolError::invalid(format!("`base_url` {b:?} is not usable: {why}"))
                })?;
                if base.query().is_some() {
                    return Err(ToolError::invalid(format!(
                        "`base_url` {b:?} must not have a query string"
                    )));
                }
                Ok(base)
            })
            .transpose()?;
        let domains = allowed_domains
            .unwrap_or_default()
            .iter()
            .map(|d| DomainRule::parse(d))
            .collect::<Result<_, _>>()?;
        Ok(Self { base, domains })
    }

    /// The URL a request for `url` goes to, resolved against `base_url` when there is one.
    fn target(&self, url: &str) -> Result<Url, ToolError> {
        let Some(base) = &self.base else {
            let target = absolute_url(url)
                .map_err(|why| ToolError::invalid(format!("`url` {url:?}: {why}")))?;
            return self.check(target, "`url` is");
        };
        let target = if Url::parse(url).is_ok() {
            absolute_url(url).map_err(|why| ToolError::invalid(format!("`url` {url:?}: {why}")))?
        } else {
            // Appended, not RFC 3986-resolved: `users` under `https://api/v2` means `/v2/users`.
            let joined = format!(
                "{}/{}",
                base.as_str().trim_end_matches('/'),
                url.trim_start_matches('/')
            );
            absolute_url(&joined)
                .map_err(|why| ToolError::invalid(format!("`url` {url:?}: {why}")))?
        };
        self.check(target, "`url` is")
    }

    /// Refuses `url` unless it is under `base_url` and on an allowed domain.
    fn check(&self, url: Url, what: &str) -> Result<Url, ToolError> {
        if let Some(base) = &self.base
            && !under(&url, base)
        {
            return Err(ToolError::Denied(format!(
                "{what} {url}, outside the base URL {base} this tool is limited to; pass a path relative to it"
            )));
        }
        if !self.domains.is_empty() && !self.domains.iter().any(|d| d.matches(&url)) {
            let list: Vec<String> = self.domains.iter().map(DomainRule::to_string).collect();
            return Err(ToolError::Denied(format!(
                "{what} {url}, whose host is not in allowed_domains [{}]",
                list.join(", ")
            )));
        }
        Ok(url)
    }
}

/// Whether `url` has `base`'s origin and a path at or below `base`'s path.
fn under(url: &Url, base: &Url) -> bool {
    if url.origin() != base.origin() {
        return false;
    }
    let base_path = base.path();
    let path = url.path();
    if base_path.ends_with('/') {
        path.starts_with(base_path)
    } else {
        path == base_path
            || path
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Parses an absolute http(s) URL without credentials, dropping any fragment.
fn absolute_url(url: &str) -> Result<Url, String> {
    let mut parsed = Url::parse(url).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            "use an absolute http:// or https:// URL".to_string()
        }
        e => e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme `{}` is not supported; use http:// or https://",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not allowed".into());
    }
    if parsed.host().is_none() {
        return Err("the URL has no host".into());
    }
    parsed.set_fragment(None);
    Ok(parsed)
}

impl DomainRule {
    fn parse(entry: &str) -> Result<Self, ToolError> {
        let bad = || {
            ToolError::invalid(format!(
                "invalid allowed_domains entry {entry:?}: use `example.com`, `*.example.com` or `host:port`"
            ))
        };
        let lower = entry.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix("*.").unwrap_or(&lower);
        let (host, port) = if let Some(rest) = lower.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (format!("[{ip}]"), port)
        } else if lower.matches(':').count() > 1 {
            (format!("[{lower}]"), None)
        } else {
            match lower.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (lower.to_string(), None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        // The same parser as for URLs, so the comparison in `matches` is like for like.
        let host = match Host::parse(host.trim_end_matches('.')).map_err(|_| bad())? {
            Host::Domain(d) if d.is_empty() => return Err(bad()),
            h => h.to_string(),
        };
        Ok(Self { host, port })
    }

    fn matches(&self, url: &Url) -> bool {
        let host_ok = match url.host() {
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.');
                d == self.host
                    || d.strip_suffix(self.host.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
            Some(ip) => ip.to_string() == self.host,
            None => false,
        };
        host_ok
            && self
                .port
                .is_none_or(|p| url.port_or_known_default() == Some(p))
    }
}

impl std::fmt::Display for DomainRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Header values may not contain line breaks or NUL (they would split the request).
fn valid_header_value(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// The model's headers, names lowercased, checked.
fn model_headers(headers: BTreeMap<String, String>) -> Result<Vec<(String, String)>, ToolError> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            if !valid_header_name(&name) {
                return Err(ToolError::invalid(format!("invalid header name {name:?}")));
            }
            if CLIENT_HEADERS.contains(&lower.as_str()) {
                return Err(ToolError::invalid(format!(
                    "header `{name}` is set by the HTTP client; leave it out"
                )));
            }
            if !valid_header_value(&value) {
                return Err(ToolError::invalid(format!(
                    "the value of header `{name}` contains a line break or NUL"
                )));
            }
            Ok((lower, value))
        })
        .collect()
}

/// The operator's headers from the assignment's configuration; none when no configuration is
/// granted. Error messages name keys, never values: those are usually secrets.
fn configured_headers() -> Result<Vec<(String, String)>, ToolError> {
    let entries = match config::get_all() {
        Ok(entries) => entries,
        Err(ConfigError::Denied(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut add = |key: &str, name: &str, value: String| {
        if !valid_header_name(name) || CLIENT_HEADERS.contains(&name.to_ascii_lowercase().as_str())
        {
            return Err(ToolError::failed(format!(
                "configuration `{key}`: {name:?} is not a header this tool can send"
            )));
        }
        if !valid_header_value(&value) {
            return Err(ToolError::failed(format!(
                "configuration `{key}`: the value of header `{name}` contains a line break or NUL"
            )));
        }
        let name = name.to_ascii_lowercase();
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
        Ok(())
    };
    for (key, value) in entries {
        if key == HEADERS_KEY {
            let map: BTreeMap<String, String> = serde_json::from_str(&value).map_err(|_| {
                ToolError::failed(format!(
                    "configuration `{HEADERS_KEY}` must be a JSON object of header name to string value"
                ))
            })?;
            for (name, value) in map {
                add(HEADERS_KEY, &name, value)?;
            }
        } else if let Some(name) = key.strip_prefix(HEADER_KEY_PREFIX) {
            add(&key, name, value)?;
        }
    }
    Ok(headers)
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "http_request",
        "Sends one HTTP request (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS) and returns the \
         status, response headers and body. Use it to call web APIs. The body comes back as \
         text (base64 with `encoding: \"base64\"` when it is not UTF-8), cut at \
         `max_response_bytes` with `truncated: true`. If `base_url` is set, give `url` as a path \
         relative to it; requests outside it, or to hosts outside `allowed_domains` when that \
         is set, are refused. Authentication headers are added from the operator's \
         configuration: do not ask for API keys.",
        http_request
    )
    .output_schema::<HttpResult>()
    // Reading is harmless; anything that may change something asks a human first.
    .confirm_if(
        r#"{"required": ["method"], "properties": {"method": {"not": {"enum": ["GET", "HEAD"]}}}}"#
    )
    .tool_type("http"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_describes_every_argument() {
        let schema =
            corral_plugin_sdk::testing::input_schema(&corral_tools(), "http_request").unwrap();
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(property.get("description").is_some(), "{name}");
        }
    }

    fn scope(base: Option<&str>, domains: &[&str]) -> Scope {
        let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        Scope::new(base, Some(&domains)).unwrap()
    }

    #[test]
    fn base_url_confines_targets() {
        let s = scope(Some("https://api.example.com/v2"), &[]);
        assert_eq!(
            s.target("users/1?x=1").unwrap().as_str(),
            "https://api.example.com/v2/users/1?x=1"
        );
        assert_eq!(
            s.target("/users").unwrap().as_str(),
            "https://api.example.com/v2/users"
        );
        assert!(s.target("https://api.example.com/v2/a").is_ok());
        for denied in [
            "https://evil.example.com/v2/a",
            "http://api.example.com/v2/a",
            "https://api.example.com:8443/v2/a",
            "https://api.example.com/v3/a",
            "https://api.example.com/v2x",
            "../admin",
            "a/../../admin",
        ] {
            assert!(
                matches!(s.target(denied), Err(ToolError::Denied(_))),
                "{denied}"
            );
        }
        assert!(matches!(
            scope(None, &[]).target("/relative"),
            Err(ToolError::InvalidArguments(_))
        ));
        assert!(matches!(
            scope(None, &[]).target("ftp://x/"),
            Err(ToolError::InvalidArguments(_))
        ));
        assert!(matches!(
            scope(None, &[]).target("http://user:pw@x/"),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[test]
    fn allowed_domains_match_subdomains_and_ports() {
        let s = scope(
            None,
            &["example.com", "*.test.org", "127.0.0.1:8080", "[::1]"],
        );
        for ok in [
            "https://example.com/",
            "https://api.example.com/x",
            "http://a.test.org/",
            "http://127.0.0.1:8080/",
            "http://[::1]:9/",
        ] {
            assert!(s.target(ok).is_ok(), "{ok}");
        }
        for denied in [
            "https://badexample.com/",
            "https://example.com.evil.net/",
            "http://127.0.0.1:8081/",
            "http://127.0.0.2:8080/",
        ] {
            assert!(
                matches!(s.target(denied), Err(ToolError::Denied(_))),
                "{denied}"
            );
        }
        assert!(Scope::new(None, Some(&["bad host".to_string()])).is_err());
        assert!(Scope::new(None, Some(&["".to_string()])).is_err());
    }

    #[test]
    fn bodies_are_text_or_base64_and_cut_at_a_character() {
        // "hé" cut after the first byte of é.
        let (encoding, text) = body_text("héllo".as_bytes()[..2].to_vec(), true);
        assert!(matches!(encoding, BodyEncoding::Text));
        assert_eq!(text, "h");
        // The same bytes as a whole body are not UTF-8.
        let (encoding, _) = body_text("héllo".as_bytes()[..2].to_vec(), false);
        assert!(matches!(encoding, BodyEncoding::Base64));
        let (_, text) = body_text(b"hello".to_vec(), false);
        assert_eq!(text, "hello");
        let (encoding, text) = body_text(vec![0xff, 0x00, 0x41], true);
        assert!(matches!(encoding, BodyEncoding::Base64));
        assert_eq!(text, "/wBB");
    }

    #[test]
    fn model_headers_are_checked() {
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(
            model_headers(h("X-Api", "1")).unwrap(),
            vec![("x-api".to_string(), "1".to_string())]
        );
        for bad in [h("Host", "x"), h("bad name", "x"), h("X", "a\r\nb: c")] {
            assert!(matches!(
                model_headers(bad),
                Err(ToolError::InvalidArguments(_))
            ));
        }
    }
}

//! Declarative HTTP tools (Powabase's custom tools): the operator names an endpoint, a method
//! and headers; the model's arguments are sent as JSON and the answer goes back to the model.
//!
//! The request leaves through [`crate::capabilities::http::host_request`], so it meets the same
//! egress policy as a guest's: the endpoint's own host is the only one allowed, and private
//! addresses are refused unless the operator said the endpoint is internal.

use crate::capabilities::http::{HttpGrant, HttpPolicy, host_request};
use crate::tool::{FailureKind, ToolFailure};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Default time an endpoint has to answer.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;
/// Longest time an operator may allow.
pub const MAX_TIMEOUT_SECONDS: f64 = 300.0;
/// Largest response passed back.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Where and how a declarative tool sends its calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEndpoint {
    /// `http(s)://host[:port]/path`.
    pub endpoint: String,
    /// HTTP method, upper case; POST by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// Headers sent with every call (often credentials: never shown back in full).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Time the endpoint has to answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// The endpoint is on a private network (loopback, RFC 1918, ...); refused otherwise.
    /// Cloud metadata addresses stay refused even then.
    #[serde(default)]
    pub allow_private_network: bool,
}

fn default_method() -> String {
    "POST".into()
}

fn default_timeout() -> f64 {
    DEFAULT_TIMEOUT_SECONDS
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl HttpEndpoint {
    /// Checks the settings; the message names the field at fault.
    pub fn validate(&mut self) -> Result<(), String> {
        self.method = self.method.to_ascii_uppercase();
        if !METHODS.contains(&self.method.as_str()) {
            return Err(format!(
                "method `{}` is not supported; use one of {}",
                self.method,
                METHODS.join(", ")
            ));
        }
        let uri: http::Uri = self
            .endpoint
            .parse()
            .map_err(|_| format!("endpoint `{}` is not a valid URL", self.endpoint))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "endpoint `{}` must be an absolute http:// or https:// URL",
                self.endpoint
            ));
        }
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds <= MAX_TIMEOUT_SECONDS) {
            return Err(format!(
                "timeout_seconds must be above 0 and at most {MAX_TIMEOUT_SECONDS}"
            ));
        }
        for (name, value) in &self.headers {
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name `{name}` is not valid"))?;
            http::HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not valid"))?;
        }
        Ok(())
    }

    /// The egress policy for this endpoint: its own host and port, nothing else.
    fn policy(&self) -> Result<HttpPolicy, String> {
        let uri: http::Uri = self.endpoint.parse().map_err(|_| "invalid endpoint")?;
        let host = uri.host().ok_or("endpoint has no host")?;
        let tls = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let pattern = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut grant = HttpGrant::to_hosts([pattern.clone()]);
        if self.allow_private_network {
            grant.private_hosts = vec![pattern];
        }
        grant.max_response_bytes = MAX_RESPONSE_BYTES;
        grant.timeout_ms = (self.timeout_seconds * 1000.0) as u64;
        grant.compile().map_err(|e| e.to_string())
    }

    /// Sends one call. GET and DELETE carry the arguments in the query string, the other
    /// methods as a JSON body. A JSON answer is passed back as JSON, anything else as text.
    pub async fn call(&self, arguments: &Value) -> Result<Value, ToolFailure> {
        let failed = |message: String| ToolFailure::new(FailureKind::Failed, message);
        let policy = self.policy().map_err(failed)?;
        let query_style = matches!(self.method.as_str(), "GET" | "DELETE");
        let mut url = self.endpoint.clone();
        let mut body = Bytes::new();
        if query_style {
            let pairs = query_pairs(arguments);
            if !pairs.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&pairs);
            }
        } else {
            body = Bytes::from(arguments.to_string());
        }
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(&url);
        if !query_style {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        builder = builder.header(http::header::ACCEPT, "application/json, text/*;q=0.9");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(body)
            .map_err(|e| failed(format!("could not build the request: {e}")))?;
        let (parts, body) = host_request(&policy, request).await.map_err(|reason| {
            let kind = if reason.contains("refused") {
                FailureKind::Denied
            } else if reason.contains("did not answer") {
                FailureKind::Timeout
            } else {
                FailureKind::Failed
            };
            ToolFailure::new(kind, reason)
        })?;
        let is_json = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let text = String::from_utf8_lossy(&body);
        if !parts.status.is_success() {
            let snippet: String = text.chars().take(500).collect();
            return Err(failed(format!(
                "the endpoint answered {}: {snippet}",
                parts.status
            )));
        }
        if is_json {
            serde_json::from_slice(&body)
                .map_err(|e| failed(format!("the endpoint sent invalid JSON: {e}")))
        } else {
            Ok(Value::String(text.into_owned()))
        }
    }
}

/// `a=1&b=x` from a JSON object; nested values are sent as their JSON text.
fn query_pairs(arguments: &Value) -> String {
    let Some(map) = arguments.as_object() else {
        return String::new();
    };
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}={}", percent_encode(key), percent_encode(&text))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 unreserved characters pass; everything else is %-encoded (a dozen lines do not
/// justify a dependency).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, method: &str) -> HttpEndpoint {
        HttpEndpoint {
            endpoint: url.into(),
            method: method.into(),
            headers: BTreeMap::new(),
            timeout_seconds: 5.0,
            allow_private_network: false,
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(
            endpoint("ftp://x/y", "POST")
                .validate()
                .unwrap_err()
                .contains("http")
        );
        assert!(
            endpoint("not a url", "POST")
                .validate()
                .unwrap_err()
                .contains("endpoint")
        );
        assert!(
            endpoint("https://x.test/", "TRACE")
                .validate()
                .unwrap_err()
                .contains("method")
        );
        let mut e = endpoint("https://x.test/", "post");
        e.validate().unwrap();
        assert_eq!(e.method, "POST");
        e.timeout_seconds = 0.0;
        assert!(e.validate().unwrap_err().contains("timeout_seconds"));
    }

    #[test]
    fn query_strings_encode_every_value() {
        let q = query_pairs(&serde_json::json!({"q": "a b&c", "n": 3, "tags": ["x"]}));
        assert_eq!(q, "n=3&q=a%20b%26c&tags=%5B%22x%22%5D");
    }

    #[tokio::test]
    async fn private_endpoints_are_refused_unless_allowed() {
        let e = endpoint("http://127.0.0.1:9/x", "POST");
        let failure = e.call(&serde_json::json!({})).await.unwrap_err();
        assert_eq!(failure.kind, FailureKind::Denied);
        assert!(failure.message.contains("127.0.0.1"), "{failure}");
    }
}

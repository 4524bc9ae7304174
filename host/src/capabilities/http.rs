//! Outgoing HTTP (`wasi:http/outgoing-handler`), allowed per assignment and SSRF-safe.
//!
//! wasmtime-wasi-http implements the WASI interface; this module is its egress policy, plugged
//! in through `WasiHttpHooks::send_request`, so every request a guest makes, in any language,
//! passes here. For each request, and so for each redirect hop a guest follows:
//! 1. the host (and port) must match the assignment's allow-list;
//! 2. the name is resolved once, here, and every address it resolves to must be public unless
//!    the operator listed the host under `private_hosts`;
//! 3. the connection goes to the address that was checked (no second lookup, so DNS
//!    rebinding cannot swap it), with TLS verified against the host name;
//! 4. response size, request count and time are capped.
//!
//! A refusal reaches the guest as `HTTP-request-denied` / `destination-IP-prohibited`; the
//! reason is kept so the host can put it in the tool error and the call record.

use super::address::{NonPublic, classify};
use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Default cap on one response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;
/// Default time for one request, from connect to the last body byte's arrival.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Default number of requests one call may make (redirect hops count).
pub const DEFAULT_MAX_REQUESTS: u32 = 50;
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The operator's HTTP grant for one assignment, as the API and CLI accept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// Hosts the tool may call: `api.example.com`, `*.example.com`, `*`, each optionally with
    /// `:port`. They must resolve to public addresses.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Hosts that are allowed and may also resolve to loopback, private or link-local
    /// addresses (an internal service). Cloud metadata addresses stay refused even here.
    #[serde(default)]
    pub private_hosts: Vec<String>,
    /// Cap on one response body.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
    /// Time for one request.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Requests per call.
    #[serde(default = "default_max_requests")]
    pub max_requests: u32,
}

fn default_max_response_bytes() -> u64 {
    DEFAULT_MAX_RESPONSE_BYTES
}
fn default_timeout_ms() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}
fn default_max_requests() -> u32 {
    DEFAULT_MAX_REQUESTS
}

impl HttpGrant {
    /// A grant of `hosts` with the default caps.
    pub fn to_hosts(hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            hosts: hosts.into_iter().map(Into::into).collect(),
            private_hosts: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            max_requests: DEFAULT_MAX_REQUESTS,
        }
    }

    /// Parses the patterns once, so calls only match.
    pub fn compile(&self) -> Result<HttpPolicy, InvalidHostPattern> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|p| p.parse())
                .collect::<Result<Vec<HostPattern>, _>>()
        };
        Ok(HttpPolicy {
            hosts: parse(&self.hosts)?,
            private_hosts: parse(&self.private_hosts)?,
            max_response_bytes: self.max_response_bytes,
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            max_requests: self.max_requests,
        })
    }
}

/// A host pattern that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid host pattern {0:?}: use `host`, `host:port`, `*.domain` or `*`")]
pub struct InvalidHostPattern(pub String);

/// One allowed host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`: subdomains only.
    Subdomains(String),
}

impl FromStr for HostPattern {
    type Err = InvalidHostPattern;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidHostPattern(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        let (host, port) = if let Some(rest) = lower.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
            ip.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (ip.to_string(), port)
        } else {
            match lower.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?)),
                None => (lower.clone(), None),
            }
        };
        let label_ok = |h: &str| {
            !h.is_empty()
                && h.len() <= 253
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !label_ok(domain) {
                return Err(bad());
            }
            HostMatch::Subdomains(format!(".{domain}"))
        } else if host.parse::<IpAddr>().is_ok() || label_ok(&host) {
            HostMatch::Exact(host)
        } else {
            return Err(bad());
        };
        Ok(Self { host, port })
    }
}

impl HostPattern {
    fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => h == host,
            HostMatch::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// A compiled [`HttpGrant`].
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    hosts: Vec<HostPattern>,
    private_hosts: Vec<HostPattern>,
    max_response_bytes: u64,
    timeout: Duration,
    max_requests: u32,
}

/// Where a request may go, once the policy agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The address that was checked and will be connected to.
    pub addr: SocketAddr,
    /// The host name, for TLS and the `Host` header.
    pub host: String,
}

/// Why the policy refused a request; the message is what operators and models read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The host is not in the allow-list.
    #[error("HTTP to {0} refused: the host is not in this tool's allowed hosts")]
    HostNotAllowed(String),
    /// The host resolved to an address class that is not allowed for it.
    #[error("HTTP to {host} refused: it resolves to {ip}, {class}")]
    AddressNotAllowed {
        /// Host as requested.
        host: String,
        /// The offending address.
        ip: IpAddr,
        /// Its class.
        class: NonPublic,
    },
    /// The host name did not resolve.
    #[error("HTTP to {0} failed: the host name did not resolve")]
    Unresolved(String),
    /// The per-call request budget is spent.
    #[error("HTTP refused: this call already made its {0} allowed requests")]
    TooManyRequests(u32),
    /// No HTTP grant at all.
    #[error("HTTP to {0} refused: outgoing HTTP is not granted to this tool assignment")]
    NotGranted(String),
}

impl Refusal {
    fn error_code(&self) -> HttpError {
        match self {
            Self::AddressNotAllowed { .. } => HttpError::DestinationIpProhibited,
            Self::Unresolved(_) => HttpError::DnsError {
                rcode: Some("no address".into()),
                info_code: None,
            },
            _ => HttpError::HttpRequestDenied,
        }
    }
}

impl HttpPolicy {
    /// Checks `host:port` against the allow-list, resolves it once and checks every address.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Destination, Refusal> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let target = format!("{host}:{port}");
        let private_ok = self.private_hosts.iter().any(|p| p.matches(&host, port));
        if !private_ok && !self.hosts.iter().any(|p| p.matches(&host, port)) {
            return Err(Refusal::HostNotAllowed(target));
        }
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => match tokio::time::timeout(
                DNS_TIMEOUT,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            {
                Ok(Ok(addrs)) => addrs.collect(),
                _ => Vec::new(),
            },
        };
        if addrs.is_empty() {
            return Err(Refusal::Unresolved(target));
        }
        // Every address must pass, not just the first: a name that resolves to both a public
        // and an internal address is refused, whichever one a connect would pick.
        for addr in &addrs {
            if let Some(class) = classify(addr.ip())
                && (class == NonPublic::Metadata || !private_ok)
            {
                return Err(Refusal::AddressNotAllowed {
                    host: target,
                    ip: addr.ip(),
                    class,
                });
            }
        }
        Ok(Destination {
            addr: addrs[0],
            host,
        })
    }
}

/// Per-call HTTP state: the compiled grant (if any), the request count and refusals so far.
#[derive(Debug, Default)]
pub struct HttpCtx {
    policy: Option<Arc<HttpPolicy>>,
    requests: u32,
    refusals: Arc<Mutex<Vec<Refusal>>>,
}

impl HttpCtx {
    /// No HTTP granted.
    pub fn denied() -> Self {
        Self::default()
    }

    /// HTTP under `policy`.
    pub fn granted(policy: Arc<HttpPolicy>) -> Self {
        Self {
            policy: Some(policy),
            ..Self::default()
        }
    }

    /// The refusals of this call so far, oldest first.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests attempted by this call so far.
    pub fn requests(&self) -> u32 {
        self.requests
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpCtx {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        self.requests += 1;
        let refusals = self.refusals.clone();
        let refuse = move |refusal: Refusal| {
            tracing::info!(target: "corral::egress", %refusal, "outgoing request refused");
            let code = refusal.error_code();
            if let Ok(mut list) = refusals.lock() {
                list.push(refusal);
            }
            code
        };
        let target = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let Some(policy) = self.policy.clone() else {
            let code = refuse(Refusal::NotGranted(target));
            return Box::new(async move { Err(code) });
        };
        if self.requests > policy.max_requests {
            let code = refuse(Refusal::TooManyRequests(policy.max_requests));
            return Box::new(async move { Err(code) });
        }
        Box::new(async move {
            let uri = request.uri();
            let tls = uri.scheme() == Some(&Scheme::HTTPS);
            let host = uri
                .host()
                .ok_or(HttpError::HttpRequestUriInvalid)?
                .to_string();
            let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let destination = policy.resolve(&host, port).await.map_err(refuse)?;
            let response = tokio::time::timeout(
                policy.request_timeout(options),
                send(request, &destination, tls, policy.max_response_bytes),
            )
            .await
            .map_err(|_| HttpError::ConnectionTimeout)??;
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

impl HttpPolicy {
    /// The guest may ask for shorter timeouts, never longer than the grant's.
    fn request_timeout(&self, options: Option<RequestOptions>) -> Duration {
        let asked = options.and_then(|o| {
            o.connect_timeout
                .into_iter()
                .chain(o.first_byte_timeout)
                .min()
        });
        asked.map_or(self.timeout, |t| t.min(self.timeout))
    }
}

/// Connects to the checked address and sends the request over HTTP/1.1 (TLS for https).
async fn send(
    mut request: http::Request<WasiBody>,
    destination: &Destination,
    tls: bool,
    max_body: u64,
) -> Result<http::Response<WasiBody>, HttpError> {
    let tcp = TcpStream::connect(destination.addr)
        .await
        .map_err(HttpError::Connect)?;
    let _ = tcp.set_nodelay(true);
    // Origin-form target: the authority is already in the Host header wasi-http sets.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let response = if tls {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::InternalError(Some(e.to_string())))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(destination.host.clone())
            .map_err(HttpError::InvalidDnsNameError)?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(HttpError::Tls)?;
        exchange(TokioIo::new(stream), request).await?
    } else {
        exchange(TokioIo::new(tcp), request).await?
    };
    Ok(response.map(|body| {
        CappedBody {
            inner: body,
            remaining: max_body,
            limit: max_body,
        }
        .boxed_unsync()
    }))
}

async fn exchange<I>(
    io: I,
    request: http::Request<WasiBody>,
) -> Result<http::Response<hyper::body::Incoming>, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    // The connection task ends when the response body is dropped or fully read.
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "outgoing HTTP connection ended with an error");
        }
    });
    Ok(sender.send_request(request).await?)
}

/// A request the host itself makes for a declarative HTTP tool, under the same policy a guest's
/// request would meet: allow-list, address checks, pinned address, size and time caps.
/// Returns the response head and its body, or the reason it failed.
pub async fn host_request(
    policy: &HttpPolicy,
    mut request: http::Request<Bytes>,
) -> Result<(http::response::Parts, Bytes), String> {
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{uri} is not an http(s) URL")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("{uri} has no host"))?
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let destination = policy
        .resolve(&host, port)
        .await
        .map_err(|r| r.to_string())?;
    if let Some(authority) = uri.authority()
        && let Ok(value) = http::HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(http::header::HOST, value);
    }
    let request = request.map(|body| {
        http_body_util::Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync()
    });
    let exchange = async {
        let response = send(request, &destination, tls, policy.max_response_bytes).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, HttpError>((parts, body))
    };
    match tokio::time::timeout(policy.timeout, exchange).await {
        Err(_) => Err(format!(
            "{uri} did not answer within {} ms",
            policy.timeout.as_millis()
        )),
        Ok(Err(HttpError::HttpResponseBodySize(Some(limit)))) => Err(format!(
            "the response from {uri} is larger than the {limit}-byte limit"
        )),
        Ok(Err(error)) => Err(format!("request to {uri} failed: {error}")),
        Ok(Ok(done)) => Ok(done),
    }
}

/// A response body that fails once more than `limit` bytes arrived.
struct CappedBody {
    inner: hyper::body::Incoming,
    remaining: u64,
    limit: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > self.remaining {
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                            self.limit,
                        )))));
                    }
                    self.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], private: &[&str]) -> HttpPolicy {
        let mut grant = HttpGrant::to_hosts(hosts.iter().copied());
        grant.private_hosts = private.iter().map(|s| s.to_string()).collect();
        grant.compile().unwrap()
    }

    #[test]
    fn patterns_parse_and_match() {
        let p: HostPattern = "*.example.com".parse().unwrap();
        assert!(p.matches("api.example.com", 443));
        assert!(!p.matches("example.com", 443));
        assert!(!p.matches("evilexample.com", 443));
        let p: HostPattern = "API.example.com:8443".parse().unwrap();
        assert!(p.matches("api.example.com", 8443));
        assert!(!p.matches("api.example.com", 443));
        let p: HostPattern = "[::1]:80".parse().unwrap();
        assert!(p.matches("::1", 80));
        for bad in [
            "",
            "a b",
            "*.",
            "host:99999",
            "[::1",
            "http://x",
            "a/b",
            "*.*.com",
        ] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn hosts_outside_the_allow_list_are_refused_before_any_lookup() {
        let p = policy(&["api.example.com"], &[]);
        assert_eq!(
            p.resolve("other.example.com", 443).await,
            Err(Refusal::HostNotAllowed("other.example.com:443".into()))
        );
    }

    #[tokio::test]
    async fn private_literals_need_an_explicit_exception() {
        let p = policy(&["*"], &[]);
        for host in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "[::1]",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(
                matches!(
                    p.resolve(host, 80).await,
                    Err(Refusal::AddressNotAllowed { .. })
                ),
                "{host}"
            );
        }
        let p = policy(&[], &["127.0.0.1:8080"]);
        assert_eq!(
            p.resolve("127.0.0.1", 8080).await.unwrap().addr,
            "127.0.0.1:8080".parse().unwrap()
        );
        assert!(matches!(
            p.resolve("127.0.0.1", 8081).await,
            Err(Refusal::HostNotAllowed(_))
        ));
    }

    #[tokio::test]
    async fn metadata_stays_refused_even_as_a_private_host() {
        let p = policy(&[], &["169.254.169.254"]);
        assert!(matches!(
            p.resolve("169.254.169.254", 80).await,
            Err(Refusal::AddressNotAllowed {
                class: NonPublic::Metadata,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        // `localhost` resolves through /etc/hosts, no network needed.
        let p = policy(&["localhost"], &[]);
        assert!(matches!(
            p.resolve("localhost", 80).await,
            Err(Refusal::AddressNotAllowed {
                class: NonPublic::Loopback,
                ..
            })
        ));
    }

    #[test]
    fn guests_cannot_extend_the_timeout() {
        let p = policy(&["*"], &[]);
        let long = RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        assert_eq!(p.request_timeout(Some(long)), p.timeout);
        let short = RequestOptions {
            first_byte_timeout: Some(Duration::from_millis(5)),
            ..Default::default()
        };
        assert_eq!(p.request_timeout(Some(short)), Duration::from_millis(5));
    }
}

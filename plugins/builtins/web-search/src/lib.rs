//! Builtin tool `web_search`: web search through the backend the operator configured.
//!
//! The assignment's configuration picks the backend (`backend` = `searxng` or `brave`) and holds
//! its settings (`base_url`, `api_key`), so the model never sees a key and cannot point the tool
//! elsewhere. The host's egress policy still decides which hosts are reachable: the operator
//! grants the backend's host.

use corral_plugin_sdk::config::{self, ConfigError};
use corral_plugin_sdk::http;
use corral_plugin_sdk::prelude::*;
use url::Url;

/// Results returned unless asked for another number.
const DEFAULT_RESULTS: usize = 5;
/// Most results one call returns (also the most Brave returns per request).
const MAX_RESULTS: usize = 20;
/// Longest query accepted (Brave's own limit).
const MAX_QUERY_CHARS: usize = 400;
/// Most `include_domains` entries; each becomes a `site:` term for SearXNG.
const MAX_DOMAINS: usize = 20;
/// Longest snippet returned; results are for choosing what to read next.
const MAX_SNIPPET_CHARS: usize = 500;
/// Cap on a backend's response body.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Brave Search API, used unless configuration overrides `base_url`.
const BRAVE_URL: &str = "https://api.search.brave.com";

/// Arguments of `web_search`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// What to search for, as you would type it into a search engine (at most 400
    /// characters).
    query: String,
    /// How many results to return, 1 to 20 (default 5).
    #[schemars(range(min = 1, max = 20))]
    max_results: Option<usize>,
    /// Only return results from these domains (their subdomains included), e.g.
    /// `["docs.rs", "rust-lang.org"]`.
    include_domains: Option<Vec<String>>,
}

/// One search result.
#[derive(Serialize, JsonSchema, Debug, PartialEq, Eq)]
struct SearchHit {
    /// The page's title.
    title: String,
    /// The page's URL.
    url: String,
    /// A short extract of the page, as the search engine gives it.
    snippet: String,
}

/// What `web_search` returns.
#[derive(Serialize, JsonSchema)]
struct SearchResults {
    /// The query as searched.
    query: String,
    /// Results, best first.
    results: Vec<SearchHit>,
}

/// The configured search backend.
#[derive(Debug, PartialEq, Eq)]
enum Backend {
    /// A SearXNG instance with the JSON format enabled.
    Searxng { base_url: Url },
    /// The Brave Search API.
    Brave { api_key: String, base_url: Url },
}

/// A configuration value; a missing configuration grant is reported like a missing key.
fn config_value(key: &str) -> Result<Option<String>, ToolError> {
    match config::get(key) {
        Ok(value) => Ok(value.filter(|v| !v.trim().is_empty())),
        Err(ConfigError::Denied(_)) => Err(ToolError::Denied(format!(
            "web_search is not configured: the operator must set configuration `{key}` for this tool assignment"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A required configuration value.
fn required(key: &str, why: &str) -> Result<String, ToolError> {
    config_value(key)?.ok_or_else(|| {
        ToolError::failed(format!(
            "web_search is not configured: configuration `{key}` is missing ({why})"
        ))
    })
}

/// A configured base URL: absolute http(s), trailing `/` dropped.
fn base_url(value: &str) -> Result<Url, ToolError> {
    let invalid = |why: String| {
        ToolError::failed(format!(
            "configuration `base_url` is not a usable URL ({why}); use e.g. `https://search.example.com`"
        ))
    };
    let url = Url::parse(value.trim().trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("not an http:// or https:// URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it has a query or fragment".into()));
    }
    Ok(url)
}

impl Backend {
    /// The backend the assignment's configuration selects.
    fn from_config() -> Result<Self, ToolError> {
        let backend = required("backend", "`searxng` or `brave`")?;
        match backend.trim().to_ascii_lowercase().as_str() {
            "searxng" => Ok(Self::Searxng {
                base_url: base_url(&required(
                    "base_url",
                    "the SearXNG instance's URL, e.g. `https://searx.example.com`",
                )?)?,
            }),
            "brave" => Ok(Self::Brave {
                api_key: required("api_key", "the Brave Search API subscription token")?,
                base_url: base_url(&config_value("base_url")?.unwrap_or_else(|| BRAVE_URL.into()))?,
            }),
            other => Err(ToolError::failed(format!(
                "configuration `backend` is {other:?}; use `searxng` or `brave`"
            ))),
        }
    }

    /// Up to a page of hits for `query`, unfiltered.
    fn search(
        &self,
        query: &str,
        domains: &[String],
        count: usize,
    ) -> Result<Vec<SearchHit>, ToolError> {
        match self {
            Self::Searxng { base_url } => {
                let mut q = query.to_string();
                // Engines AND space-separated terms, so several domains are ORed.
                let sites: Vec<String> = domains.iter().map(|d| format!("site:{d}")).collect();
                match sites.len() {
                    0 => {}
                    1 => q = format!("{q} {}", sites[0]),
                    _ => q = format!("{q} ({})", sites.join(" OR ")),
                }
                let url = endpoint(base_url, "search", &[("q", &q), ("format", "json")])?;
                let response = http::Request::new(http::Method::Get, url.as_str())
                    .header("accept", "application/json")
                    .max_body_bytes(MAX_BODY_BYTES)
                    .send()?;
                match response.status {
                    200..=299 => {}
                    403 => {
                        return Err(ToolError::failed(
                            "the SearXNG instance refused the JSON format (HTTP 403): enable `json` \
                             under `search.formats` in its settings",
                        ));
                    }
                    status => return Err(backend_status("SearXNG", status)),
                }
                let body: serde_json::Value = response.json()?;
                Ok(hits(&body["results"], "content"))
            }
            Self::Brave { api_key, base_url } => {
                let count = count.to_string();
                let url = endpoint(
                    base_url,
                    "res/v1/web/search",
                    &[("q", query), ("count", &count)],
                )?;
                let response = http::Request::new(http::Method::Get, url.as_str())
                    .header("accept", "application/json")
                    .header("x-subscription-token", api_key.as_str())
                    .max_body_bytes(MAX_BODY_BYTES)
                    .send()?;
                match response.status {
                    200..=299 => {}
                    401 | 403 => {
                        return Err(ToolError::failed(format!(
                            "Brave Search refused the API key in configuration `api_key` (HTTP {})",
                            response.status
                        )));
                    }
                    status => return Err(backend_status("Brave Search", status)),
                }
                let body: serde_json::Value = response.json()?;
                Ok(hits(&body["web"]["results"], "description"))
            }
        }
    }
}

/// `base/path?params`, parameters form-encoded.
fn endpoint(base: &Url, path: &str, params: &[(&str, &str)]) -> Result<Url, ToolError> {
    let mut url = Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')))
        .map_err(|e| ToolError::failed(format!("configuration `base_url`: {e}")))?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url)
}

fn backend_status(backend: &str, status: u16) -> ToolError {
    let why = match status {
        429 => " (rate limited; try again later)",
        500..=599 => " (the search service failed)",
        _ => "",
    };
    ToolError::failed(format!("{backend} answered HTTP {status}{why}"))
}

/// The hits in a JSON array of `{title, url, <snippet_key>}`; malformed entries are skipped.
fn hits(results: &serde_json::Value, snippet_key: &str) -> Vec<SearchHit> {
    let text = |v: &serde_json::Value| v.as_str().map(clean_text).unwrap_or_default();
    results
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let url = r["url"].as_str()?.trim().to_string();
            let mut snippet = text(&r[snippet_key]);
            if let Some((cut, _)) = snippet.char_indices().nth(MAX_SNIPPET_CHARS) {
                snippet.truncate(cut);
                snippet.push('…');
            }
            Some(SearchHit {
                title: text(&r["title"]),
                url,
                snippet,
            })
        })
        .collect()
}

/// Search engines put HTML in titles and snippets (`<strong>`, `&amp;`): plain text for the model.
fn clean_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns an `include_domains` entry into a lowercase host name; URLs and `*.` are accepted.
fn normalize_domain(entry: &str) -> Result<String, ToolError> {
    let trimmed = entry.trim().to_ascii_lowercase();
    let without_scheme = trimmed
        .split_once("://")
        .map_or(trimmed.as_str(), |(_, rest)| rest);
    let host = without_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = host
        .strip_prefix("*.")
        .unwrap_or(host)
        .trim_end_matches('.');
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(host.to_string())
    } else {
        Err(ToolError::invalid(format!(
            "invalid include_domains entry {entry:?}: use a domain such as `example.com`"
        )))
    }
}

/// Whether `url`'s host is one of `domains` or a subdomain of one.
fn in_domains(url: &str, domains: &[String]) -> bool {
    let Some(host) = Url::parse(url).ok().and_then(|u| {
        u.host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    }) else {
        return false;
    };
    domains.iter().any(|d| {
        host == *d
            || host
                .strip_suffix(d.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

fn web_search(args: SearchArgs, _ctx: &Context) -> Result<SearchResults, ToolError> {
    let query = args.query.split_whitespace().collect::<Vec<_>>().join(" ");
    if query.is_empty() {
        return Err(ToolError::invalid("`query` must not be empty"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ToolError::invalid(format!(
            "`query` is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let max = args.max_results.unwrap_or(DEFAULT_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max) {
        return Err(ToolError::invalid(format!(
            "`max_results` must be from 1 to {MAX_RESULTS}"
        )));
    }
    let domains = args.include_domains.unwrap_or_default();
    if domains.len() > MAX_DOMAINS {
        return Err(ToolError::invalid(format!(
            "`include_domains` has more than {MAX_DOMAINS} entries"
        )));
    }
    let mut domains = domains
        .iter()
        .map(|d| normalize_domain(d))
        .collect::<Result<Vec<_>, _>>()?;
    domains.dedup();
    let backend = Backend::from_config()?;
    // Filtering drops results, so ask for a full page when it will.
    let count = if domains.is_empty() { max } else { MAX_RESULTS };
    let mut results: Vec<SearchHit> = Vec::new();
    for hit in backend.search(&query, &domains, count)? {
        let usable =
            matches!(Url::parse(&hit.url), Ok(u) if matches!(u.scheme(), "http" | "https"));
        if usable
            && (domains.is_empty() || in_domains(&hit.url, &domains))
            && !results.iter().any(|r| r.url == hit.url)
        {
            results.push(hit);
        }
        if results.len() == max {
            break;
        }
    }
    Ok(SearchResults { query, results })
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "web_search",
        "Searches the web and returns the best results (title, URL and a short snippet each). \
         Use it to find pages about a topic or answer questions about current information, then \
         read a promising page with a page-reading tool. `include_domains` restricts results to \
         the given sites (and their subdomains).",
        web_search
    )
    .output_schema::<SearchResults>()
    .tool_type("http"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_describes_every_argument() {
        let schema =
            corral_plugin_sdk::testing::input_schema(&corral_tools(), "web_search").unwrap();
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(property.get("description").is_some(), "{name}");
        }
    }

    #[test]
    fn titles_and_snippets_become_plain_text() {
        assert_eq!(
            clean_text("The <strong>Rust</strong>  &amp; you &lt;3\n"),
            "The Rust & you <3"
        );
    }

    #[test]
    fn domains_normalize_and_match_subdomains() {
        assert_eq!(normalize_domain("https://Docs.rs/x").unwrap(), "docs.rs");
        assert_eq!(normalize_domain("*.example.com.").unwrap(), "example.com");
        assert!(normalize_domain("bad domain").is_err());
        assert!(normalize_domain("").is_err());
        let d = vec!["rust-lang.org".to_string()];
        assert!(in_domains("https://rust-lang.org/", &d));
        assert!(in_domains("https://blog.rust-lang.org/x", &d));
        assert!(!in_domains("https://notrust-lang.org/", &d));
        assert!(!in_domains("https://rust-lang.org.evil.net/", &d));
        assert!(!in_domains("not a url", &d));
    }

    #[test]
    fn results_are_read_from_both_shapes() {
        let searxng = json!({"results": [
            {"title": "A", "url": "https://a.example/", "content": "about <b>a</b>"},
            {"title": "no url"},
        ]});
        assert_eq!(
            hits(&searxng["results"], "content"),
            vec![SearchHit {
                title: "A".into(),
                url: "https://a.example/".into(),
                snippet: "about a".into()
            }]
        );
        let brave = json!({"web": {"results": [{"title": "B", "url": "https://b.example/", "description": "d"}]}});
        assert_eq!(
            hits(&brave["web"]["results"], "description")[0].snippet,
            "d"
        );
        assert!(hits(&json!({})["web"]["results"], "description").is_empty());
    }

    #[test]
    fn endpoints_encode_parameters() {
        let base = base_url("http://127.0.0.1:9/searx/").unwrap();
        let url = endpoint(&base, "search", &[("q", "a b&c"), ("format", "json")]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/searx/search?q=a+b%26c&format=json"
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://x/?q=1").is_err());
    }
}

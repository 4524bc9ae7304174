//! Example tool using outgoing HTTP: fetch a page and return its text.
//!
//! It can only reach the hosts the operator granted (`--grant http=example.com`); the host
//! checks every request and redirect hop, so the tool needs no allow-list of its own.

use corral_plugin_sdk::http;
use corral_plugin_sdk::prelude::*;

/// Arguments of `fetch_page`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FetchArgs {
    /// Absolute http:// or https:// URL of the page.
    url: String,
    /// Most bytes of body to return (default 65536); longer bodies are truncated.
    #[schemars(range(min = 1, max = 1048576))]
    max_bytes: Option<usize>,
}

/// What `fetch_page` returns.
#[derive(Serialize, JsonSchema)]
struct Page {
    /// HTTP status code.
    status: u16,
    /// The Content-Type header, if any.
    content_type: Option<String>,
    /// The body as text, truncated to `max_bytes`.
    body: String,
    /// True when the body was cut.
    truncated: bool,
}

fn fetch_page(args: FetchArgs, _ctx: &Context) -> Result<Page, ToolError> {
    let max = args.max_bytes.unwrap_or(64 * 1024);
    let response = http::get(&args.url)?;
    let mut text = response.text();
    let truncated = text.len() > max;
    if truncated {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Ok(Page {
        status: response.status,
        content_type: response.header("content-type").map(str::to_string),
        body: text,
        truncated,
    })
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "fetch_page",
        "Fetches a web page by URL and returns its status, content type and text.",
        fetch_page
    )
    .output_schema::<Page>()
    .tool_type("http"),
];

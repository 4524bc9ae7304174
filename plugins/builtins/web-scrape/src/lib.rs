//! Builtin tool `web_scrape`: a web page's title, readable content and links.
//!
//! The page is parsed inside the sandbox (html5ever through `scraper`), so nothing of it runs
//! anywhere: scripts are text to drop. The charset comes from the Content-Type header, then
//! `<meta charset>`, as browsers do. Navigation, footers, scripts and styles are dropped so the
//! model reads the page's content, rendered as Markdown (or plain text) to keep structure
//! (headings, lists, links, code) at a fraction of the HTML's size. The host's egress policy
//! decides which hosts are reachable.

use corral_plugin_sdk::http;
use corral_plugin_sdk::prelude::*;
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

/// Characters of content returned unless asked for another number.
const DEFAULT_MAX_CHARS: usize = 20_000;
/// Most characters of content one call returns (stays under the host's 1 MiB output cap).
const MAX_CHARS: usize = 100_000;
/// Links returned unless asked for another number.
const DEFAULT_MAX_LINKS: usize = 50;
/// Most links one call returns.
const MAX_LINKS: usize = 200;
/// Longest link text kept.
const MAX_LINK_TEXT_CHARS: usize = 200;
/// Most bytes downloaded: the parsed DOM is several times the HTML's size, and it has to fit
/// in the tool's memory. A longer page is cut here and its start is read (HTML parsers close
/// what the cut left open), with `truncated: true`.
const MAX_DOWNLOAD_BYTES: usize = 2 * 1024 * 1024;
/// How far into an HTML document `<meta charset>` is looked for (browsers look at 1024 bytes;
/// a little more tolerates long `<head>` preambles).
const META_PRESCAN_BYTES: usize = 4096;
const USER_AGENT: &str = "Mozilla/5.0 (compatible; CorralWebScrape/0.1)";
const ACCEPT: &str = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5";

/// How the content is rendered.
#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum Format {
    /// Markdown: headings, lists, links, emphasis, code blocks and tables kept.
    #[default]
    Markdown,
    /// Plain text: paragraphs and list items on their own lines, no markup.
    Text,
}

/// Arguments of `web_scrape`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScrapeArgs {
    /// Absolute http:// or https:// URL of the page.
    url: String,
    /// `markdown` (default) keeps headings, lists, links and code; `text` is plain text.
    format: Option<Format>,
    /// Most characters of content to return (default 20000, at most 100000); longer content
    /// is cut and the result says `truncated: true`.
    #[schemars(range(min = 1, max = 100000))]
    max_chars: Option<usize>,
    /// Most links to return (default 50, at most 200; 0 for none).
    #[schemars(range(min = 0, max = 200))]
    max_links: Option<usize>,
}

/// One link found in the content.
#[derive(Serialize, JsonSchema, Debug, PartialEq, Eq)]
struct Link {
    /// The link's text.
    text: String,
    /// The absolute URL it points to.
    href: String,
}

/// What `web_scrape` returns.
#[derive(Serialize, JsonSchema)]
struct Page {
    /// The URL that answered (after redirects).
    url: String,
    /// HTTP status code.
    status: u16,
    /// The Content-Type header, if any.
    content_type: Option<String>,
    /// The page's title (HTML only).
    title: Option<String>,
    /// The readable content, as Markdown or text; non-HTML text is returned as is.
    content: String,
    /// Links in the content, in order, without duplicates (HTML only).
    links: Vec<Link>,
    /// True when `content` was cut at `max_chars`, or the page was longer than the 2 MiB that
    /// are downloaded and only its start was read.
    truncated: bool,
}

/// What kind of document a response holds.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
}

fn web_scrape(args: ScrapeArgs, _ctx: &Context) -> Result<Page, ToolError> {
    let url = Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            ToolError::invalid(format!(
                "`url` {:?} is not an absolute http:// or https:// URL",
                args.url
            ))
        })?;
    let max_chars = match args.max_chars {
        Some(0) => return Err(ToolError::invalid("`max_chars` must be at least 1")),
        Some(n) => n.min(MAX_CHARS),
        None => DEFAULT_MAX_CHARS,
    };
    let max_links = args.max_links.unwrap_or(DEFAULT_MAX_LINKS).min(MAX_LINKS);
    let response = http::Request::new(http::Method::Get, url.as_str())
        .header("accept", ACCEPT)
        .header("user-agent", USER_AGENT)
        .truncate_body_at(MAX_DOWNLOAD_BYTES)
        .send()?;
    match response.status {
        404 | 410 => {
            return Err(ToolError::NotFound(format!(
                "{} answered HTTP {}: the page does not exist",
                response.url, response.status
            )));
        }
        400.. => {
            return Err(ToolError::failed(format!(
                "{} answered HTTP {}",
                response.url, response.status
            )));
        }
        _ => {}
    }
    let content_type = response.header("content-type").map(str::to_string);
    let page_url = Url::parse(&response.url).unwrap_or(url);
    let kind = classify(content_type.as_deref(), &response.body).map_err(|what| {
        ToolError::invalid(format!(
            "{page_url} is {what}, not a web page or text; web_scrape reads HTML and text only"
        ))
    })?;
    let (title, content, links, cut_early) = match kind {
        Kind::Html => {
            let html = decode_html(&response.body, content_type.as_deref());
            let document = Html::parse_document(&html);
            let format = args.format.unwrap_or_default();
            let rendered = render(&document, &page_url, format, max_chars, max_links);
            (
                rendered.title,
                rendered.content,
                rendered.links,
                rendered.cut_early,
            )
        }
        Kind::Text => {
            let text = decode_text(&response.body, content_type.as_deref());
            (None, text.trim().to_string(), Vec::new(), false)
        }
    };
    let (content, truncated) = truncate_chars(content, max_chars);
    Ok(Page {
        url: page_url.to_string(),
        status: response.status,
        content_type,
        title,
        content,
        links,
        truncated: truncated || cut_early || response.truncated,
    })
}

/// Cuts `text` to at most `max` characters.
fn truncate_chars(mut text: String, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((cut, _)) => {
            text.truncate(cut);
            (text.trim_end().to_string(), true)
        }
        None => (text, false),
    }
}

/// The MIME type without parameters, lowercase.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// HTML, text, or (as the error) the binary type to name in the refusal.
fn classify(content_type: Option<&str>, body: &[u8]) -> Result<Kind, String> {
    let Some(content_type) = content_type.map(essence).filter(|e| !e.is_empty()) else {
        // No type: sniff as browsers do, roughly.
        let head = &body[..body.len().min(1024)];
        let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
        let trimmed = lower.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
        return if trimmed.starts_with("<!doctype html") || lower.contains("<html") {
            Ok(Kind::Html)
        } else if !body[..body.len().min(8192)].contains(&0) {
            Ok(Kind::Text)
        } else {
            Err("binary data with no content type".into())
        };
    };
    if matches!(content_type.as_str(), "text/html" | "application/xhtml+xml") {
        return Ok(Kind::Html);
    }
    let textual = content_type.starts_with("text/")
        || content_type.ends_with("+json")
        || content_type.ends_with("+xml")
        || matches!(
            content_type.as_str(),
            "application/json"
                | "application/x-ndjson"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/markdown"
        );
    if textual {
        Ok(Kind::Text)
    } else {
        Err(format!("`{content_type}`"))
    }
}

/// The `charset` parameter of a Content-Type header.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The encoding a `<meta charset=...>` or `<meta http-equiv content="...; charset=...">` near
/// the start of the document declares.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head: Vec<u8> = body
        .iter()
        .take(META_PRESCAN_BYTES)
        .map(u8::to_ascii_lowercase)
        .collect();
    let mut rest = head.as_slice();
    while let Some(start) = find(rest, b"<meta") {
        let tag = &rest[start..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        let attrs = &tag[..end];
        if let Some(at) = find(attrs, b"charset") {
            let value = attrs[at + b"charset".len()..]
                .iter()
                .skip_while(|b| b.is_ascii_whitespace())
                .skip_while(|&&b| b == b'=')
                .skip_while(|&&b| b.is_ascii_whitespace() || b == b'"' || b == b'\'')
                .take_while(|&&b| {
                    !matches!(b, b'"' | b'\'' | b';' | b'/') && !b.is_ascii_whitespace()
                })
                .copied()
                .collect::<Vec<u8>>();
            // A document that could be read this far is not UTF-16, whatever it says.
            if let Some(encoding) = Encoding::for_label(&value) {
                return Some(encoding.output_encoding());
            }
        }
        rest = &tag[end..];
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes an HTML document: byte order mark, then the header's charset, then `<meta>`, then
/// UTF-8 if it is valid, else windows-1252 (the web's legacy default).
fn decode_html(body: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| meta_charset(body));
    let encoding = declared.unwrap_or_else(|| {
        if std::str::from_utf8(body).is_ok() {
            UTF_8
        } else {
            WINDOWS_1252
        }
    });
    encoding.decode(body).0.into_owned()
}

/// Decodes a text document: byte order mark, then the header's charset, else UTF-8.
fn decode_text(body: &[u8], content_type: Option<&str>) -> String {
    let encoding = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(UTF_8);
    encoding.decode(body).0.into_owned()
}

/// Collapses runs of whitespace to one space and trims.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What rendering an HTML document produced.
struct Rendered {
    title: Option<String>,
    content: String,
    links: Vec<Link>,
    /// Rendering stopped early because the content was already longer than asked.
    cut_early: bool,
}

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

/// The first element matching `css`.
fn first<'a>(document: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    selector(css).and_then(|s| document.select(&s).next())
}

fn render(
    document: &Html,
    page_url: &Url,
    format: Format,
    max_chars: usize,
    max_links: usize,
) -> Rendered {
    let title = first(document, "title")
        .map(|t| collapse(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            first(document, "h1")
                .map(|h| collapse(&h.text().collect::<String>()))
                .filter(|t| !t.is_empty())
        });
    // Relative links resolve against <base href> when the page sets one.
    let base = first(document, "base[href]")
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    // The page's main content when it marks it; otherwise the body, minus the noise.
    let root = first(document, "main, [role=main]")
        .or_else(|| first(document, "article"))
        .or_else(|| first(document, "body"))
        .unwrap_or_else(|| document.root_element());
    let mut renderer = Renderer {
        markdown: format == Format::Markdown,
        base: &base,
        page: page_url,
        out: String::new(),
        prefix: String::new(),
        pending_newlines: 0,
        pending_space: false,
        pre_depth: 0,
        content_depth: usize::from(matches!(root.value().name(), "main" | "article")),
        lists: Vec::new(),
        tables: Vec::new(),
        links: Vec::new(),
        max_links,
        // Characters are at most 4 bytes: past this many bytes there are enough characters.
        budget: max_chars.saturating_mul(4).saturating_add(4),
        full: false,
    };
    renderer.children(root);
    Rendered {
        title,
        content: renderer.out.trim().to_string(),
        links: renderer.links,
        cut_early: renderer.full,
    }
}

/// Elements whose content is never the page's content.
const NOISE: &[&str] = &[
    "script", "style", "noscript", "template", "head", "title", "svg", "canvas", "iframe",
    "object", "embed", "video", "audio", "map", "nav", "footer", "aside", "button", "select",
    "input", "textarea", "dialog",
];

/// ARIA roles of navigation and page furniture.
const NOISE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
    "dialog",
    "alertdialog",
];

/// Walks the DOM and writes Markdown or text.
struct Renderer<'a> {
    markdown: bool,
    base: &'a Url,
    page: &'a Url,
    out: String,
    /// Written at the start of every line: blockquote markers and list indentation.
    prefix: String,
    /// Line breaks owed before the next output (2 = a blank line).
    pending_newlines: usize,
    /// A space owed before the next output, unless a line starts there.
    pending_space: bool,
    pre_depth: usize,
    /// Inside `<main>` or `<article>`, where a `<header>` belongs to the content.
    content_depth: usize,
    /// Open lists: `Some(next number)` for ordered ones.
    lists: Vec<Option<u64>>,
    /// Open tables: rows written so far and cells in the current row.
    tables: Vec<(usize, usize)>,
    links: Vec<Link>,
    max_links: usize,
    budget: usize,
    full: bool,
}

impl Renderer<'_> {
    fn is_noise(&self, el: ElementRef) -> bool {
        let e = el.value();
        let name = e.name();
        if NOISE.contains(&name) || (name == "header" && self.content_depth == 0) {
            return true;
        }
        if e.attr("hidden").is_some() || e.attr("aria-hidden") == Some("true") {
            return true;
        }
        if e.attr("role")
            .is_some_and(|r| NOISE_ROLES.contains(&r.trim().to_ascii_lowercase().as_str()))
        {
            return true;
        }
        e.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            s.to_ascii_lowercase().contains("display:none")
        })
    }

    /// Owes `n` line breaks before the next output.
    fn block(&mut self, n: usize) {
        if !self.out.is_empty() {
            self.pending_newlines = self.pending_newlines.max(n);
        }
        self.pending_space = false;
    }

    /// Pays owed line breaks or space, so output can follow.
    fn flush(&mut self) {
        if self.out.is_empty() {
            self.out.push_str(&self.prefix);
            self.pending_newlines = 0;
            self.pending_space = false;
            return;
        }
        if self.pending_newlines > 0 {
            let trimmed = self.out.trim_end_matches([' ', '\n']).len();
            self.out.truncate(trimmed);
            self.out.push('\n');
            if self.pending_newlines > 1 {
                self.out.push_str(self.prefix.trim_end());
                self.out.push('\n');
            }
            self.out.push_str(&self.prefix);
            self.pending_newlines = 0;
            self.pending_space = false;
        } else if self.pending_space {
            if !self.out.ends_with([' ', '\n']) {
                self.out.push(' ');
            }
            self.pending_space = false;
        }
    }

    /// Writes `s` as is, after what is owed.
    fn raw(&mut self, s: &str) {
        self.flush();
        self.out.push_str(s);
        self.full = self.out.len() > self.budget;
    }

    fn text(&mut self, s: &str) {
        if self.pre_depth > 0 {
            self.flush();
            let indented = s.replace('\n', &format!("\n{}", self.prefix));
            self.out.push_str(&indented);
        } else {
            if s.starts_with(char::is_whitespace) {
                self.pending_space = true;
            }
            for (i, word) in s.split_whitespace().enumerate() {
                if i > 0 {
                    self.pending_space = true;
                }
                self.flush();
                self.out.push_str(word);
                if self.out.len() > self.budget {
                    self.full = true;
                    return;
                }
            }
            if s.ends_with(char::is_whitespace) {
                self.pending_space = true;
            }
        }
        self.full = self.out.len() > self.budget;
    }

    fn children(&mut self, el: ElementRef) {
        for child in el.children() {
            if self.full {
                return;
            }
            match child.value() {
                Node::Text(text) => self.text(text),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        self.element(child);
                    }
                }
                _ => {}
            }
        }
    }

    /// Inline markup around an element's text, e.g. `**bold**`; nested markup is flattened.
    fn wrapped(&mut self, el: ElementRef, open: &str, close: &str) {
        let raw: String = el.text().collect();
        let text = collapse(&raw);
        if text.is_empty() {
            return;
        }
        if raw.starts_with(char::is_whitespace) {
            self.pending_space = true;
        }
        self.raw(&format!("{open}{text}{close}"));
        if raw.ends_with(char::is_whitespace) {
            self.pending_space = true;
        }
    }

    fn link(&mut self, el: ElementRef) {
        let raw: String = el.text().collect();
        let mut text = collapse(&raw);
        let href = el
            .value()
            .attr("href")
            .and_then(|h| self.base.join(h.trim()).ok())
            .filter(|h| matches!(h.scheme(), "http" | "https"));
        // A link to a place on this same page is not somewhere to go.
        let href = href.filter(|h| {
            h.fragment().is_none() || {
                let (mut a, mut b) = ((*h).clone(), self.page.clone());
                a.set_fragment(None);
                b.set_fragment(None);
                a != b
            }
        });
        let Some(href) = href else {
            self.children(el);
            return;
        };
        if text.is_empty() {
            text = el
                .value()
                .attr("aria-label")
                .or_else(|| el.value().attr("title"))
                .map(collapse)
                .unwrap_or_default();
        }
        if !text.is_empty()
            && self.links.len() < self.max_links
            && !self.links.iter().any(|l| l.href == href.as_str())
        {
            let mut text = text.clone();
            if let Some((cut, _)) = text.char_indices().nth(MAX_LINK_TEXT_CHARS) {
                text.truncate(cut);
            }
            self.links.push(Link {
                text,
                href: href.to_string(),
            });
        }
        if self.markdown && self.pre_depth == 0 && !collapse(&raw).is_empty() {
            self.wrapped(el, "[", &format!("]({href})"));
        } else {
            self.children(el);
        }
    }

    fn element(&mut self, el: ElementRef) {
        if self.full || self.is_noise(el) {
            return;
        }
        let name = el.value().name();
        let markdown = self.markdown;
        let inline_markup = markdown && self.pre_depth == 0;
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.block(2);
                if markdown {
                    let level = name[1..].parse::<usize>().unwrap_or(1);
                    self.raw(&format!("{} ", "#".repeat(level)));
                }
                self.children(el);
                self.block(2);
            }
            "main" | "article" => {
                self.content_depth += 1;
                self.block(2);
                self.children(el);
                self.block(2);
                self.content_depth -= 1;
            }
            "p" | "div" | "section" | "header" | "figure" | "figcaption" | "address"
            | "details" | "summary" | "dl" | "form" | "fieldset" | "center" | "body" | "html" => {
                self.block(2);
                self.children(el);
                self.block(2);
            }
            "dt" | "dd" | "caption" => {
                self.block(1);
                self.children(el);
                self.block(1);
            }
            "br" => {
                if !self.out.is_empty() {
                    self.pending_newlines = self.pending_newlines.max(1);
                }
            }
            "hr" => {
                self.block(2);
                if markdown {
                    self.raw("---");
                }
                self.block(2);
            }
            "ul" | "ol" => {
                let gap = if self.lists.is_empty() { 2 } else { 1 };
                self.block(gap);
                let start = el
                    .value()
                    .attr("start")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1);
                self.lists.push((name == "ol").then_some(start));
                self.children(el);
                self.lists.pop();
                self.block(gap);
            }
            "li" => {
                self.block(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "- ".to_string(),
                };
                self.raw(&marker);
                let len = self.prefix.len();
                self.prefix.push_str(&" ".repeat(marker.len()));
                self.children(el);
                self.prefix.truncate(len);
                self.block(1);
            }
            "blockquote" => {
                self.block(2);
                let len = self.prefix.len();
                self.prefix.push_str(if markdown { "> " } else { "  " });
                self.children(el);
                self.prefix.truncate(len);
                self.block(2);
            }
            "pre" => {
                self.block(2);
                if markdown {
                    self.raw("```");
                    self.pending_newlines = 1;
                }
                self.pre_depth += 1;
                self.children(el);
                self.pre_depth -= 1;
                if markdown {
                    self.pending_newlines = 1;
                    self.raw("```");
                }
                self.block(2);
            }
            "table" => {
                self.block(2);
                self.tables.push((0, 0));
                self.children(el);
                self.tables.pop();
                self.block(2);
            }
            "tr" => {
                self.block(1);
                if let Some(table) = self.tables.last_mut() {
                    table.1 = 0;
                }
                if markdown {
                    self.raw("|");
                }
                self.children(el);
                if let Some((rows, cells)) = self.tables.last().copied() {
                    if markdown && rows == 0 && cells > 0 {
                        let rule = format!("\n{}|{}", self.prefix, " --- |".repeat(cells));
                        self.out.push_str(&rule);
                    }
                    if let Some(table) = self.tables.last_mut() {
                        table.0 += 1;
                    }
                }
                self.block(1);
            }
            "td" | "th" => {
                let first_cell = self.tables.last().is_none_or(|t| t.1 == 0);
                if let Some(table) = self.tables.last_mut() {
                    table.1 += 1;
                }
                if !markdown && !first_cell {
                    self.raw(" |");
                }
                self.pending_space = true;
                self.children(el);
                if markdown {
                    self.pending_space = true;
                    self.raw("|");
                }
            }
            "a" => self.link(el),
            "img" if inline_markup => {
                let alt = el.value().attr("alt").map(collapse).unwrap_or_default();
                let src = el
                    .value()
                    .attr("src")
                    .and_then(|s| self.base.join(s.trim()).ok())
                    .filter(|s| matches!(s.scheme(), "http" | "https"));
                if let (false, Some(src)) = (alt.is_empty(), src) {
                    self.raw(&format!("![{alt}]({src})"));
                }
            }
            "code" | "kbd" | "samp" if inline_markup => self.wrapped(el, "`", "`"),
            "strong" | "b" if inline_markup => self.wrapped(el, "**", "**"),
            "em" | "i" if inline_markup => self.wrapped(el, "*", "*"),
            _ => self.children(el),
        }
    }
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "web_scrape",
        "Reads a web page by URL and returns its title, its readable content (as Markdown by \
         default, or plain text) and the links in it as absolute URLs. Navigation, footers, \
         scripts and styles are left out. Plain-text, JSON and Markdown documents are returned \
         as they are; images, PDFs and other binary files are refused. Content longer than \
         `max_chars` is cut (`truncated: true`).",
        web_scrape
    )
    .output_schema::<Page>()
    .tool_type("http"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_describes_every_argument() {
        let schema =
            corral_plugin_sdk::testing::input_schema(&corral_tools(), "web_scrape").unwrap();
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(property.get("description").is_some(), "{name}");
        }
    }

    fn md(html: &str) -> Rendered {
        let document = Html::parse_document(html);
        let url = Url::parse("https://example.com/docs/page").unwrap();
        render(&document, &url, Format::Markdown, 10_000, 50)
    }

    #[test]
    fn markdown_keeps_structure_and_drops_noise() {
        let r = md(
            r#"<html><head><title> The  Title </title><style>p{}</style></head><body>
            <nav><a href="/home">Home</a></nav><header>Site header</header>
            <h1>Heading</h1><p>Some <b>bold</b> and <a href="other">a link</a>.</p>
            <script>alert("x")</script>
            <ul><li>one</li><li>two<ol><li>nested</li></ol></li></ul>
            <pre><code>let x = 1;
let y = 2;</code></pre>
            <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
            <div hidden>secret</div><footer>Copyright</footer></body></html>"#,
        );
        assert_eq!(r.title.as_deref(), Some("The Title"));
        assert_eq!(
            r.content,
            "# Heading\n\nSome **bold** and [a link](https://example.com/docs/other).\n\n\
             - one\n- two\n  1. nested\n\n```\nlet x = 1;\nlet y = 2;\n```\n\n\
             | a | b |\n| --- | --- |\n| 1 | 2 |"
        );
        assert_eq!(
            r.links,
            vec![Link {
                text: "a link".into(),
                href: "https://example.com/docs/other".into()
            }]
        );
    }

    #[test]
    fn main_content_is_preferred_and_text_has_no_markup() {
        let document = Html::parse_document(
            "<body><div>sidebar junk</div><main><h2>Title</h2><p>Body <i>text</i>.</p>\
             <blockquote>quoted</blockquote></main></body>",
        );
        let url = Url::parse("https://example.com/").unwrap();
        let r = render(&document, &url, Format::Text, 10_000, 50);
        assert_eq!(r.content, "Title\n\nBody text.\n\n  quoted");
    }

    #[test]
    fn charsets_come_from_the_header_then_meta() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
        assert!(decode_html(latin1, Some("text/html")).contains("café"));
        assert!(decode_html(latin1, None).contains("café"));
        let header = b"<p>na\xefve</p>";
        assert!(decode_html(header, Some("text/html; charset=ISO-8859-1")).contains("naïve"));
        let equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"><p>\x93q\x94</p>";
        assert!(decode_html(equiv, None).contains("\u{201c}q\u{201d}"));
        assert!(decode_html("déjà".as_bytes(), None).contains("déjà"));
    }

    #[test]
    fn content_types_are_classified() {
        assert_eq!(
            classify(Some("text/html; charset=utf-8"), b""),
            Ok(Kind::Html)
        );
        assert_eq!(classify(Some("application/json"), b"{}"), Ok(Kind::Text));
        assert_eq!(classify(Some("text/markdown"), b"#"), Ok(Kind::Text));
        assert_eq!(classify(None, b"<!DOCTYPE html><p>"), Ok(Kind::Html));
        assert_eq!(classify(None, b"plain"), Ok(Kind::Text));
        assert!(classify(None, b"\x89PNG\0\0").is_err());
        assert!(classify(Some("image/png"), b"").is_err());
        assert!(classify(Some("application/pdf"), b"").is_err());
    }

    #[test]
    fn content_is_cut_at_max_chars() {
        let (text, cut) = truncate_chars("héllo world".into(), 5);
        assert_eq!((text.as_str(), cut), ("héllo", true));
        let page = format!("<p>{}</p>", "word ".repeat(10_000));
        let document = Html::parse_document(&page);
        let url = Url::parse("https://example.com/").unwrap();
        let r = render(&document, &url, Format::Markdown, 100, 0);
        assert!(r.cut_early && r.content.len() < 1000);
    }
}

//! Builtin tools `storage_read` and `storage_write`: objects in the bucket the operator granted to
//! the assignment (`--grant storage=BUCKET`).
//!
//! The host validates every path (`..`, absolute paths and NUL bytes never leave the bucket) and
//! enforces the size caps, so this crate does not second-guess it: it shapes arguments and
//! results for the model, and turns binary content into base64 both ways. Reading is harmless
//! and runs freely; writing and deleting ask for a human's confirmation by default.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use corral_plugin_sdk::prelude::*;
use corral_plugin_sdk::storage;

/// Bytes of one object `storage_read` returns unless asked for fewer.
const DEFAULT_READ_BYTES: usize = 256 * 1024;
/// Most bytes `storage_read` returns: base64 adds a third, which keeps the result under the
/// host's default 1 MiB output cap.
const MAX_READ_BYTES: usize = 512 * 1024;
/// Most objects one listing returns; a listing is for finding paths, not for dumping a bucket.
const MAX_LISTED: usize = 1000;
/// Longest content type accepted; real ones are far shorter.
const MAX_CONTENT_TYPE_LEN: usize = 255;

/// What `storage_read` does.
#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ReadAction {
    /// Return the content of the object at `path`.
    Read,
    /// List the objects whose path starts with `prefix`.
    List,
}

/// Arguments of `storage_read`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadArgs {
    /// `read` returns one object's content; `list` lists objects (path, size, content type).
    action: ReadAction,
    /// For `read` (required): the object's path relative to the bucket root, `/`-separated,
    /// e.g. `reports/2024/summary.md`. Not used by `list`.
    path: Option<String>,
    /// For `list`: only objects whose path starts with this string, e.g. `reports/` (default:
    /// every object). Not used by `read`.
    prefix: Option<String>,
    /// For `read`: most bytes of content to return (default 262144, at most 524288); a longer
    /// object is cut and the result says `truncated: true`.
    #[schemars(range(min = 1, max = 524288))]
    max_bytes: Option<usize>,
}

/// How `content` is encoded.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum Encoding {
    /// UTF-8 text, as is.
    #[default]
    Text,
    /// Standard base64 of the raw bytes (binary data).
    Base64,
}

/// One object's content, returned by `read`.
#[derive(Serialize, JsonSchema)]
struct ObjectContent {
    /// The object's path.
    path: String,
    /// The object's full size in bytes.
    size: u64,
    /// The recorded (or guessed) content type, if any.
    content_type: Option<String>,
    /// `text` when the object is UTF-8 text, otherwise `base64`.
    encoding: Encoding,
    /// The content, encoded as `encoding` says.
    content: String,
    /// True when only the first `max_bytes` bytes are returned.
    truncated: bool,
}

/// One listed object.
#[derive(Serialize, JsonSchema)]
struct ListedObject {
    /// Path relative to the bucket root; pass it to `read` as `path`.
    path: String,
    /// Size in bytes.
    size: u64,
    /// The recorded (or guessed) content type, if any.
    content_type: Option<String>,
}

/// The objects under a prefix, returned by `list`.
#[derive(Serialize, JsonSchema)]
struct Listing {
    /// The prefix that was listed.
    prefix: String,
    /// The objects, sorted by path.
    objects: Vec<ListedObject>,
    /// True when more objects matched than the 1000 returned; list a narrower prefix.
    truncated: bool,
}

/// What `storage_read` returns: [`ObjectContent`] for `read`, [`Listing`] for `list`.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum ReadResult {
    Object(ObjectContent),
    Listing(Listing),
}

fn storage_read(args: ReadArgs, _ctx: &Context) -> Result<ReadResult, ToolError> {
    match args.action {
        ReadAction::Read => {
            if args.prefix.is_some() {
                return Err(ToolError::invalid(
                    "`prefix` is only for action `list`; `read` takes `path`",
                ));
            }
            let path = args
                .path
                .ok_or_else(|| ToolError::invalid("action `read` needs `path`"))?;
            let max = match args.max_bytes {
                Some(0) => return Err(ToolError::invalid("`max_bytes` must be at least 1")),
                Some(n) => n.min(MAX_READ_BYTES),
                None => DEFAULT_READ_BYTES,
            };
            read_object(path, max).map(ReadResult::Object)
        }
        ReadAction::List => {
            if args.path.is_some() || args.max_bytes.is_some() {
                return Err(ToolError::invalid(
                    "action `list` takes only `prefix`; use action `read` with `path` for content",
                ));
            }
            list_objects(args.prefix.unwrap_or_default()).map(ReadResult::Listing)
        }
    }
}

fn read_object(path: String, max: usize) -> Result<ObjectContent, ToolError> {
    let mut data = storage::read(&path)?;
    // `read` returns bytes only; the content type recorded at write time comes with a listing.
    // It is a nicety, so a listing that fails (a huge bucket) only loses the type.
    let content_type = storage::list(&path)
        .ok()
        .and_then(|objects| objects.into_iter().find(|o| o.path == path))
        .and_then(|o| o.content_type);
    let size = data.len() as u64;
    let textual = content_type.as_deref().map_or_else(
        // Without a type, UTF-8 without NUL bytes is as good a sign of text as any.
        || !data.contains(&0),
        is_textual,
    );
    let truncated = data.len() > max;
    let (encoding, content) = match String::from_utf8(data) {
        Ok(mut text) if textual => {
            if truncated {
                let mut end = max;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            (Encoding::Text, text)
        }
        Ok(text) => {
            data = text.into_bytes();
            data.truncate(max);
            (Encoding::Base64, BASE64.encode(&data))
        }
        Err(e) => {
            data = e.into_bytes();
            data.truncate(max);
            (Encoding::Base64, BASE64.encode(&data))
        }
    };
    Ok(ObjectContent {
        path,
        size,
        content_type,
        encoding,
        content,
        truncated,
    })
}

fn list_objects(prefix: String) -> Result<Listing, ToolError> {
    let mut objects = storage::list(&prefix)?;
    let truncated = objects.len() > MAX_LISTED;
    objects.truncate(MAX_LISTED);
    Ok(Listing {
        prefix,
        objects: objects
            .into_iter()
            .map(|o| ListedObject {
                path: o.path,
                size: o.size,
                content_type: o.content_type,
            })
            .collect(),
        truncated,
    })
}

/// Whether a content type names text: `text/*`, JSON, XML, YAML, scripts and the like.
fn is_textual(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/x-ndjson"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-javascript"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/x-toml"
                | "application/sql"
                | "application/x-sh"
                | "application/x-httpd-php"
                | "application/csv"
        )
}

/// What `storage_write` does.
#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum WriteAction {
    /// Create the object at `path`, or replace it, with `content`.
    Write,
    /// Delete the object at `path`.
    Delete,
}

/// Arguments of `storage_write`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    /// `write` creates or replaces the object at `path` with `content`; `delete` removes it.
    action: WriteAction,
    /// The object's path relative to the bucket root, `/`-separated, e.g.
    /// `reports/2024/summary.md`; folders are created as needed.
    path: String,
    /// For `write` (required): the whole new content, as `encoding` says. Not used by `delete`.
    content: Option<String>,
    /// For `write`: `text` (default) stores `content` as UTF-8; `base64` decodes it first, for
    /// binary data.
    encoding: Option<Encoding>,
    /// For `write`: the MIME type to record with the object, e.g. `text/markdown` or
    /// `image/png`; when omitted, it is guessed from the path's extension.
    content_type: Option<String>,
}

/// What `storage_write` returns.
#[derive(Serialize, JsonSchema)]
struct WriteResult {
    /// `write` or `delete`, as requested.
    action: &'static str,
    /// The object's path.
    path: String,
    /// For `write`: the stored size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// For `write`: the recorded (or guessed) content type.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
}

fn storage_write(args: WriteArgs, _ctx: &Context) -> Result<WriteResult, ToolError> {
    match args.action {
        WriteAction::Write => {
            let content = args
                .content
                .ok_or_else(|| ToolError::invalid("action `write` needs `content`"))?;
            let data = match args.encoding.unwrap_or_default() {
                Encoding::Text => content.into_bytes(),
                Encoding::Base64 => decode_base64(&content)?,
            };
            if let Some(ct) = &args.content_type {
                check_content_type(ct)?;
            }
            let info = storage::write(&args.path, &data, args.content_type.as_deref())?;
            Ok(WriteResult {
                action: "write",
                path: info.path,
                size: Some(info.size),
                content_type: info.content_type,
            })
        }
        WriteAction::Delete => {
            if args.content.is_some() || args.encoding.is_some() || args.content_type.is_some() {
                return Err(ToolError::invalid(
                    "action `delete` takes only `path`; `content`, `encoding` and `content_type` are for `write`",
                ));
            }
            storage::delete(&args.path)?;
            Ok(WriteResult {
                action: "delete",
                path: args.path,
                size: None,
                content_type: None,
            })
        }
    }
}

/// Decodes standard base64, ignoring the line breaks models and tools like to insert.
fn decode_base64(content: &str) -> Result<Vec<u8>, ToolError> {
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    BASE64
        .decode(compact.as_bytes())
        .map_err(|e| ToolError::invalid(format!("`content` is not valid base64: {e}")))
}

/// A content type must look like `type/subtype` (parameters allowed): it is stored and later
/// served back, so junk is refused here rather than carried around.
fn check_content_type(content_type: &str) -> Result<(), ToolError> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let valid = content_type.len() <= MAX_CONTENT_TYPE_LEN
        && !content_type.bytes().any(|b| b.is_ascii_control())
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if valid {
        Ok(())
    } else {
        Err(ToolError::invalid(format!(
            "invalid content_type {content_type:?}: use a MIME type such as `text/plain` or `image/png`"
        )))
    }
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "storage_read",
        "Reads from this agent's file storage (a bucket of objects addressed by relative paths \
         such as `reports/summary.md`). action `list` returns the objects whose path starts with \
         `prefix` (path, size, content type); action `read` returns one object's content: UTF-8 \
         text as is (`encoding: \"text\"`), anything else as base64 (`encoding: \"base64\"`), cut \
         at `max_bytes` with `truncated: true`. List first when you do not know the exact path.",
        storage_read
    )
    .output_schema::<ReadResult>()
    .tool_type("storage"),
    Tool::new(
        "storage_write",
        "Changes this agent's file storage (a bucket of objects addressed by relative paths such \
         as `reports/summary.md`). action `write` creates or replaces the object at `path` with \
         `content` (text, or base64 with `encoding: \"base64\"` for binary data) and records \
         `content_type`; action `delete` removes the object. Writing replaces the whole object. \
         Paths cannot leave the bucket and the operator caps object and bucket sizes.",
        storage_write
    )
    .output_schema::<WriteResult>()
    .confirmation(Confirmation::Always)
    .tool_type("storage"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use corral_plugin_sdk::testing;

    #[test]
    fn textual_types_are_recognised() {
        for t in [
            "text/plain",
            "text/markdown; charset=utf-8",
            "application/json",
            "application/ld+json",
            "image/svg+xml",
            "Application/X-YAML",
        ] {
            assert!(is_textual(t), "{t}");
        }
        for t in ["image/png", "application/octet-stream", "application/pdf"] {
            assert!(!is_textual(t), "{t}");
        }
    }

    #[test]
    fn content_types_and_base64_are_checked() {
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        assert!(check_content_type("application/vnd.api+json").is_ok());
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/pl ain",
            "text/plain\r\nx: y",
        ] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode_base64("aGVs\nbG8=").unwrap(), b"hello");
        assert!(matches!(
            decode_base64("not base64!"),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[test]
    fn arguments_that_do_not_fit_the_action_are_refused_before_any_storage_call() {
        let tools = corral_tools();
        for (tool, args) in [
            ("storage_read", json!({"action": "read"})),
            (
                "storage_read",
                json!({"action": "read", "path": "a", "prefix": "b"}),
            ),
            (
                "storage_read",
                json!({"action": "read", "path": "a", "max_bytes": 0}),
            ),
            ("storage_read", json!({"action": "list", "path": "a"})),
            ("storage_write", json!({"action": "write", "path": "a"})),
            (
                "storage_write",
                json!({"action": "write", "path": "a", "content": "%%", "encoding": "base64"}),
            ),
            (
                "storage_write",
                json!({"action": "write", "path": "a", "content": "x", "content_type": "nope"}),
            ),
            (
                "storage_write",
                json!({"action": "delete", "path": "a", "content": "x"}),
            ),
            ("storage_write", json!({"action": "move", "path": "a"})),
        ] {
            assert!(
                matches!(
                    testing::call(&tools, tool, args.clone()),
                    Err(ToolError::InvalidArguments(_))
                ),
                "{tool} {args}"
            );
        }
    }

    #[test]
    fn schemas_describe_every_argument() {
        let tools = corral_tools();
        for tool in ["storage_read", "storage_write"] {
            let schema = testing::input_schema(&tools, tool).unwrap();
            for (name, property) in schema["properties"].as_object().unwrap() {
                assert!(property.get("description").is_some(), "{tool}.{name}");
            }
        }
    }
}

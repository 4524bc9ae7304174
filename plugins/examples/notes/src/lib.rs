//! Example tool using storage: plain-text notes in the bucket the operator granted
//! (`--grant storage=my-notes`). Deleting asks for a human's confirmation by default.

use corral_plugin_sdk::prelude::*;
use corral_plugin_sdk::storage;

const FOLDER: &str = "notes/";

/// A note's name: 1-64 characters from A-Z, a-z, 0-9, '_' and '-'.
fn path_of(name: &str) -> Result<String, ToolError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ToolError::invalid(format!(
            "invalid note name {name:?}: use 1-64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )));
    }
    Ok(format!("{FOLDER}{name}.txt"))
}

/// Arguments of `save_note`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SaveArgs {
    /// The note's name (A-Z, a-z, 0-9, '_', '-').
    name: String,
    /// The note's text.
    text: String,
}

fn save_note(args: SaveArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    let info = storage::write(
        &path_of(&args.name)?,
        args.text.as_bytes(),
        Some("text/plain"),
    )?;
    Ok(json!({ "path": info.path, "size": info.size }))
}

/// Names one note.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NameArgs {
    /// The note's name.
    name: String,
}

fn read_note(args: NameArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    let text = storage::read_to_string(&path_of(&args.name)?)?;
    Ok(json!({ "name": args.name, "text": text }))
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn list_notes(_args: NoArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    let notes: Vec<_> = storage::list(FOLDER)?
        .into_iter()
        .filter_map(|o| {
            let name = o
                .path
                .strip_prefix(FOLDER)?
                .strip_suffix(".txt")?
                .to_string();
            Some(json!({ "name": name, "size": o.size }))
        })
        .collect();
    Ok(json!({ "notes": notes }))
}

fn delete_note(args: NameArgs, _ctx: &Context) -> Result<serde_json::Value, ToolError> {
    storage::delete(&path_of(&args.name)?)?;
    Ok(json!({ "deleted": args.name }))
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "save_note",
        "Saves a plain-text note under a name, replacing any note with that name.",
        save_note
    )
    .tool_type("storage"),
    Tool::new("read_note", "Reads a note by name.", read_note).tool_type("storage"),
    Tool::new(
        "list_notes",
        "Lists the saved notes with their sizes.",
        list_notes
    )
    .tool_type("storage"),
    Tool::new("delete_note", "Deletes a note by name.", delete_note)
        .confirmation(Confirmation::Always)
        .tool_type("storage"),
];

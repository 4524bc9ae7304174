//! Step 4 of the boundary: decide whether a call needs a human, and hold it until one decides.
//!
//! A gated call does not run. It becomes a [`PendingAction`] carrying the final arguments
//! (after injection and validation); it runs only when that action is allowed, exactly once,
//! with exactly those arguments. Taking the action out of the store is the one atomic step
//! that makes "exactly once" hold even when two approvals race.

use crate::tool::Confirmation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// An assignment's confirmation setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationSetting {
    /// Use the tool's own default.
    #[default]
    Default,
    /// Always ask, whatever the tool says.
    Always,
    /// Never ask, whatever the tool says.
    Never,
}

/// Whether a call needs approval: the assignment's explicit setting wins over the tool's
/// default; an approval hook (`hook_requires`) can only add a requirement, never remove one.
pub fn needs_confirmation(
    tool_default: Confirmation,
    setting: ConfirmationSetting,
    hook_requires: bool,
) -> bool {
    let configured = match setting {
        ConfirmationSetting::Default => tool_default == Confirmation::Always,
        ConfirmationSetting::Always => true,
        ConfirmationSetting::Never => false,
    };
    configured || hook_requires
}

/// A call waiting for ALLOW or DENY.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAction {
    /// The id a human decides on.
    pub action_id: String,
    /// The call it holds.
    pub call_id: String,
    /// The run the call belongs to.
    pub run_id: Option<String>,
    /// The assignment it will run through.
    pub assignment_id: String,
    /// The tool.
    pub tool_name: String,
    /// The tool's type label.
    pub tool_type: Option<String>,
    /// The final arguments, after injection: exactly what will run.
    pub arguments: Value,
    /// What the call will do, for the human deciding.
    pub description: String,
    /// When it was created (Unix ms).
    pub created_at_ms: u64,
}

/// A human's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    /// Run it.
    Allow,
    /// Do not run it; the reason is passed to the model.
    Deny {
        /// Why, if the human said.
        reason: Option<String>,
    },
}

/// Why a decision could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// No such action.
    #[error("no pending action with id {0}")]
    NotFound(String),
    /// It was decided already.
    #[error("action {0} was already decided")]
    AlreadyDecided(String),
}

/// Where pending actions wait. In memory here; the server persists them so an approval
/// survives a restart.
pub trait PendingStore: Send + Sync {
    /// Keeps `action` until it is taken.
    fn put(&self, action: PendingAction);
    /// Removes and returns the action: succeeds once per action, ever.
    fn take(&self, action_id: &str) -> Result<PendingAction, DecisionError>;
    /// The actions still waiting, oldest first.
    fn list(&self) -> Vec<PendingAction>;
}

/// An in-memory [`PendingStore`].
#[derive(Debug, Default)]
pub struct MemoryPendingStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    waiting: HashMap<String, PendingAction>,
    decided: HashSet<String>,
}

impl PendingStore for MemoryPendingStore {
    fn put(&self, action: PendingAction) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.waiting.insert(action.action_id.clone(), action);
    }

    fn take(&self, action_id: &str) -> Result<PendingAction, DecisionError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.waiting.remove(action_id) {
            Some(action) => {
                inner.decided.insert(action_id.to_string());
                Ok(action)
            }
            None if inner.decided.contains(action_id) => {
                Err(DecisionError::AlreadyDecided(action_id.into()))
            }
            None => Err(DecisionError::NotFound(action_id.into())),
        }
    }

    fn list(&self) -> Vec<PendingAction> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<_> = inner.waiting.values().cloned().collect();
        list.sort_by_key(|a| a.created_at_ms);
        list
    }
}

/// A [`PendingStore`] that keeps nothing: for a host that persists pending actions itself
/// (the server stores them in its database and claims them there).
#[derive(Debug, Default, Clone, Copy)]
pub struct ExternalPendingStore;

impl PendingStore for ExternalPendingStore {
    fn put(&self, _action: PendingAction) {}

    fn take(&self, action_id: &str) -> Result<PendingAction, DecisionError> {
        Err(DecisionError::NotFound(action_id.into()))
    }

    fn list(&self) -> Vec<PendingAction> {
        Vec::new()
    }
}

/// The human-readable line shown to whoever approves: the tool, its type, and the arguments.
pub fn describe_call(tool_name: &str, tool_type: Option<&str>, arguments: &Value) -> String {
    let kind = tool_type.map(|t| format!(" ({t})")).unwrap_or_default();
    let mut args = arguments.to_string();
    if args.len() > 500 {
        args = format!(
            "{}…",
            crate::capabilities::log::truncate_at_char_boundary(&args, 500)
        );
    }
    format!("Run tool `{tool_name}`{kind} with arguments {args}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Confirmation::{Always, Never};
    use ConfirmationSetting as S;

    #[test]
    fn the_gate_truth_table() {
        let cases = [
            (Never, S::Default, false, false),
            (Always, S::Default, false, true),
            (Never, S::Always, false, true),
            (Always, S::Always, false, true),
            (Never, S::Never, false, false),
            (Always, S::Never, false, false),
            (Never, S::Never, true, true),
            (Never, S::Default, true, true),
            (Always, S::Never, true, true),
        ];
        for (default, setting, hook, expected) in cases {
            assert_eq!(
                needs_confirmation(default, setting, hook),
                expected,
                "{default:?} {setting:?} hook={hook}"
            );
        }
    }

    fn action(id: &str) -> PendingAction {
        PendingAction {
            action_id: id.into(),
            call_id: "c".into(),
            run_id: None,
            assignment_id: "a".into(),
            tool_name: "t".into(),
            tool_type: None,
            arguments: serde_json::json!({}),
            description: String::new(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn an_action_can_be_taken_exactly_once() {
        let store = MemoryPendingStore::default();
        store.put(action("x"));
        assert_eq!(store.list().len(), 1);
        assert!(store.take("x").is_ok());
        assert_eq!(
            store.take("x"),
            Err(DecisionError::AlreadyDecided("x".into()))
        );
        assert_eq!(
            store.take("nope"),
            Err(DecisionError::NotFound("nope".into()))
        );
        assert!(store.list().is_empty());
    }

    #[test]
    fn racing_approvals_run_it_once() {
        let store = std::sync::Arc::new(MemoryPendingStore::default());
        store.put(action("race"));
        let wins: usize = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || store.take("race").is_ok() as usize)
            })
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(wins, 1);
    }
}

//! Run events: each one is persisted with its sequence number, then broadcast to the clients
//! following the run on this instance. A follower replays the stored events after its
//! `Last-Event-ID`, then takes live ones, skipping any number it already sent, so a client
//! that rejoins sees no gap and no duplicate.

use crate::store::{Store, StoreError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// An event with its place in the run's log.
#[derive(Debug, Clone, PartialEq)]
pub struct SequencedEvent {
    /// Sequence number, from 1.
    pub seq: i64,
    /// The event (`event` names its kind).
    pub event: Value,
}

impl SequencedEvent {
    /// The kind (`start`, `chunk`, `complete`, ...).
    pub fn kind(&self) -> &str {
        self.event["event"].as_str().unwrap_or_default()
    }

    /// Whether nothing follows it: the run ended, or paused for a human.
    pub fn ends_stream(&self) -> bool {
        matches!(
            self.kind(),
            "complete" | "error" | "cancelled" | "run_paused"
        )
    }
}

/// Per-run broadcast channels and write locks.
#[derive(Debug, Default)]
pub struct EventBus {
    channels: Mutex<HashMap<String, broadcast::Sender<SequencedEvent>>>,
    writers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl EventBus {
    /// Live events of `run_id` from now on.
    pub fn subscribe(&self, run_id: &str) -> broadcast::Receiver<SequencedEvent> {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(run_id.to_string())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// Persists `event` (of kind `kind`, with `run_id` added) and broadcasts it. Appends of
    /// one run are serialised, so parallel tool calls never race for a sequence number.
    pub async fn emit(
        &self,
        store: &Store,
        run_id: &str,
        kind: &str,
        mut event: Value,
    ) -> Result<i64, StoreError> {
        if let Value::Object(map) = &mut event {
            map.insert("event".into(), json!(kind));
            map.insert("type".into(), json!(kind));
            map.entry("run_id").or_insert_with(|| json!(run_id));
        }
        let writer = self
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(run_id.to_string())
            .or_default()
            .clone();
        let _guard = writer.lock().await;
        let seq = store.append_run_event(run_id, &event).await?;
        if let Some(sender) = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run_id)
        {
            let _ = sender.send(SequencedEvent { seq, event });
        }
        Ok(seq)
    }

    /// Forgets a run's channel and lock once it ended (followers see the end event first).
    pub fn finish(&self, run_id: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(run_id);
        self.writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(run_id);
    }
}

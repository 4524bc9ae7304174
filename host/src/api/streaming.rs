//! Server-sent events for a run: stored events after `Last-Event-ID` first, then live ones,
//! each as `id: <seq>` + `data: {json}` (the JSON's `event` names the kind), with `: keepalive`
//! comments every 15 s. The stream ends when the run ends or pauses for approval; the run
//! itself never depends on a client being connected.

use crate::engine::Engine;
use crate::engine::events::SequencedEvent;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Keepalive comment interval.
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// How often a follower also looks in the database, for events written by another instance.
const POLL: Duration = Duration::from_secs(1);

/// The SSE response following `run_id` from after `after`.
pub fn follow(
    engine: Arc<Engine>,
    run_id: String,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(256);
    // Subscribe before reading the log, so nothing falls between the two.
    let live = engine.bus().subscribe(&run_id);
    tokio::spawn(async move {
        if let Err(error) = pump(&engine, &run_id, after, live, &tx).await {
            tracing::warn!(run_id, %error, "following a run failed");
            let _ = tx
                .send(Event::default().data(
                    serde_json::json!({"event": "error", "error": error.to_string(), "message": error.to_string(), "run_id": run_id}).to_string(),
                ))
                .await;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
}

/// Sends events in order without gaps or repeats; returns when the stream should end or the
/// client went away.
async fn pump(
    engine: &Engine,
    run_id: &str,
    after: i64,
    mut live: broadcast::Receiver<SequencedEvent>,
    tx: &mpsc::Sender<Event>,
) -> Result<(), crate::store::StoreError> {
    let store = engine.store();
    let mut last = after;
    loop {
        for stored in store.run_events_after(run_id, last).await? {
            let event = SequencedEvent {
                seq: stored.seq,
                event: stored.event,
            };
            last = event.seq;
            if !send(tx, &event).await || ends(engine, run_id, &event).await? {
                return Ok(());
            }
        }
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) if event.seq == last + 1 => {
                    last = event.seq;
                    if !send(tx, &event).await || ends(engine, run_id, &event).await? {
                        return Ok(());
                    }
                }
                // Already sent, or a gap: the next loop reads the log.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    live = engine.bus().subscribe(run_id);
                }
            },
            () = tokio::time::sleep(POLL) => {
                // A run that ended without its final event reaching the log (the database
                // failed mid-write) must not keep the client waiting forever.
                let ended = store
                    .run_status(run_id)
                    .await?
                    .is_none_or(|status| matches!(status.as_str(), "completed" | "failed" | "cancelled"));
                if ended && store.run_events_after(run_id, last).await?.is_empty() {
                    return Ok(());
                }
            }
            () = tx.closed() => return Ok(()),
        }
    }
}

async fn send(tx: &mpsc::Sender<Event>, event: &SequencedEvent) -> bool {
    tx.send(
        Event::default()
            .id(event.seq.to_string())
            .data(event.event.to_string()),
    )
    .await
    .is_ok()
}

/// A terminal event ends the stream; a pause ends it only while the run is still paused.
async fn ends(
    engine: &Engine,
    run_id: &str,
    event: &SequencedEvent,
) -> Result<bool, crate::store::StoreError> {
    if !event.ends_stream() {
        return Ok(false);
    }
    if event.kind() != "run_paused" {
        return Ok(true);
    }
    let status = engine.store().run_status(run_id).await?;
    Ok(status.as_deref() == Some("awaiting_approval"))
}

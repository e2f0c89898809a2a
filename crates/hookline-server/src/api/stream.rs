//! `GET /api/v1/stream`: newly stored events as Server-Sent Events, each as `id: <event id>`,
//! `event: event` and `data:` the JSON of `/api/v1/events`.
//!
//! The stream waits on the store's highest committed event id ([`EventStore::committed_events`]) and reads
//! what is past the last event it sent, so it costs nothing while nothing arrives. It starts after
//! `Last-Event-ID` (an `EventSource` reconnecting), else after `?after=`, else at the newest event (only new
//! ones). It ends when the server begins shutting down or the store closes, so an open stream never holds
//! graceful shutdown open.
//!
//! [`EventStore::committed_events`]: hookline_store::EventStore::committed_events

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use hookline_store::{EventQuery, EventStore, StoredEvent};
use serde::Deserialize;
use tokio::sync::watch;
use utoipa::IntoParams;

use crate::api::error::{ApiError, ErrorBody};
use crate::api::events::event_json;
use crate::api::page::parse_after;
use crate::state::AppState;

/// How often an idle stream sends a comment, so proxies and clients keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events read from the store at a time.
const BATCH: usize = 200;
/// The pause before reading again after the store failed to answer.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Params {
    /// Only events of this kind.
    kind: Option<String>,
    /// Only events of this conversation key.
    conversation: Option<String>,
    /// Start after this event id (the `Last-Event-ID` header wins when both are sent).
    after: Option<String>,
}

/// The longest an event waits for the conversation projection before it is sent anyway.
const PROJECTION_WAIT: Duration = Duration::from_millis(500);

/// Newly stored events as they are committed (`text/event-stream`).
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "events",
    params(
        Params,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "`id: <event id>`, `event: event`, `data: <event JSON as /api/v1/events>` per new event; a comment every 15 s", content_type = "text/event-stream", body = String),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let committed = state.store.committed_events();
    let last_event_id = headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "the Last-Event-ID header is not usable: give the id of an event"
                            .to_owned(),
                    )
                })
        })
        .transpose()?;
    let after = params
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(parse_after)
        .transpose()?;
    let start = last_event_id
        .or(after)
        .unwrap_or_else(|| *committed.borrow());
    let follower = Follower {
        store: state.store.clone(),
        kind: params.kind.filter(|k| !k.is_empty()),
        conversation: params.conversation.filter(|c| !c.is_empty()),
        after: start,
        pending: VecDeque::new(),
        committed,
        projected: state.store.projected_events(),
        shutdown: state.shutdown.subscribe(),
    };
    let events = futures_util::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        let sse = Event::default()
            .id(event.id.to_string())
            .event("event")
            .data(event_json(&event).to_string());
        Some((Ok(sse), follower))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Where one stream is: what it still has to send and what it waits on.
struct Follower {
    store: Arc<dyn EventStore>,
    kind: Option<String>,
    conversation: Option<String>,
    /// Every matching event up to this id has been sent (or read into `pending`).
    after: i64,
    pending: VecDeque<StoredEvent>,
    committed: watch::Receiver<i64>,
    /// The conversation projection's position: an event is sent once its conversation shows it.
    projected: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
}

impl Follower {
    /// The next event to send; `None` when the stream should end.
    async fn next(&mut self) -> Option<StoredEvent> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            // Marked seen before reading, so a commit during the read wakes the wait below.
            let highest = *self.committed.borrow_and_update();
            if highest > self.after {
                // Clients refresh a conversation when one of its events arrives; hold the events
                // until the projection has applied them (it trails commits by milliseconds), but never
                // for long, so a stalled projection cannot stall the stream.
                let _ = tokio::time::timeout(
                    PROJECTION_WAIT,
                    self.projected.wait_for(|projected| *projected >= highest),
                )
                .await;
                match self.read().await {
                    Ok(events) => {
                        if events.len() < BATCH {
                            // Every match up to `highest` was read: skip past the events filtered out.
                            self.after = self.after.max(highest);
                        }
                        if let Some(last) = events.last() {
                            self.after = self.after.max(last.id);
                        }
                        self.pending.extend(events);
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!("the live stream could not read events, retrying: {err}");
                        if !self.pause(RETRY).await {
                            return None;
                        }
                        continue;
                    }
                }
            }
            tokio::select! {
                changed = self.committed.changed() => if changed.is_err() {
                    return None; // the store closed
                },
                _ = self.shutdown.wait_for(|stopping| *stopping) => return None,
            }
        }
    }

    async fn read(&self) -> Result<Vec<StoredEvent>, hookline_store::StoreError> {
        let query = EventQuery {
            kind: self.kind.clone(),
            conversation_key: self.conversation.clone(),
            after_id: Some(self.after),
            limit: BATCH,
            ..EventQuery::default()
        };
        self.store.list_events(query).await
    }

    /// Waits `pause`; false when shutdown began meanwhile.
    async fn pause(&mut self, pause: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            _ = self.shutdown.wait_for(|stopping| *stopping) => false,
        }
    }
}

//! One append transaction: which of a group's events are new, the ids they get, and the multi-row
//! statements that write the group.
//!
//! A group costs four round trips whatever its size: `BEGIN` with the append lock; the next ids and
//! which of the group's dedup keys are stored already (sent together); the rows, as multi-row `UNNEST`
//! statements sent together; `COMMIT`.
//!
//! **Event ids grow in commit order, across instances too.** Sinks, the projection and the live stream
//! read "events after id X"; if one instance could commit id 7 after another committed id 8 and a reader
//! had moved past 8, event 7 would never be read. So every append transaction first takes one advisory
//! transaction lock of the schema, then reads `max(id) + 1` and assigns ids itself (a sequence would
//! hand them out in `nextval` order, not commit order). The lock is released only after the commit is
//! visible, so the next holder reads the new maximum and every id is above all ids committed before it.
//! The price: instances commit one group at a time (each still a whole group), which the group commit
//! already amortises.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Appended, Content, NewDelivery, NewEvent, Outcome};
use crate::postgres::connection::Session;
use crate::postgres::lock::Locks;
use crate::postgres::text;

/// A transaction that failed, and whether `COMMIT` had been sent (then its outcome is unknown).
pub(crate) struct Aborted {
    pub error: tokio_postgres::Error,
    pub committing: bool,
}

const NEXT_IDS: &str = "SELECT (SELECT coalesce(max(id), 0) FROM deliveries) + 1,
                               (SELECT coalesce(max(id), 0) FROM events) + 1";

const STORED: &str = "SELECT dedup_key, id FROM events WHERE dedup_key = ANY($1)";

/// One append transaction, committed.
pub(crate) async fn append<'d>(
    session: &Session,
    locks: Locks,
    deliveries: &[&'d NewDelivery],
) -> Result<Plan<'d>, Aborted> {
    let before = |error| Aborted {
        error,
        committing: false,
    };
    let (key, space) = locks.append();
    // One message: the transaction begins and queues for the append lock (see the module docs).
    session
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({key}, {space})"
        ))
        .await
        .map_err(before)?;
    let keys: BTreeSet<Cow<'_, str>> = deliveries
        .iter()
        .flat_map(|d| events_of(d))
        .map(|e| text(&e.dedup_key))
        .collect();
    let keys: Vec<Cow<'_, str>> = keys.into_iter().collect();
    // Both read after the lock was granted, so they see every commit made before it.
    let next = async {
        let statement = session.prepare_cached(NEXT_IDS).await?;
        session.query_one(&statement, &[]).await
    };
    let stored = async {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let statement = session.prepare_cached(STORED).await?;
        session.query(&statement, &[&keys]).await
    };
    let (next, stored) = tokio::try_join!(next, stored).map_err(before)?;
    let stored: HashMap<String, i64> = stored
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(before)?;
    let (next_delivery, next_event) = (
        next.try_get(0).map_err(before)?,
        next.try_get(1).map_err(before)?,
    );
    let plan = Plan::new(deliveries, next_delivery, next_event, &stored);
    plan.write(session).await.map_err(before)?;
    session
        .batch_execute("COMMIT")
        .await
        .map_err(|error| Aborted {
            error,
            committing: true,
        })?;
    Ok(plan)
}

fn events_of(delivery: &NewDelivery) -> &[NewEvent] {
    match &delivery.content {
        Content::Events(events) => events,
        Content::Quarantined { .. } => &[],
    }
}

/// What a group writes: ids for the deliveries and the new events, and what the repeats add. It follows
/// SQLite's writer event by event: an event whose key is stored (before this group, or earlier in it,
/// even in the same delivery) adds one to that event's duplicates and links the delivery to it.
#[derive(Debug)]
pub(crate) struct Plan<'d> {
    /// What each delivery added, in group order.
    pub appended: Vec<Appended>,
    deliveries: Vec<DeliveryRow<'d>>,
    events: Vec<EventRow<'d>>,
    /// Extra duplicates of events stored before this group, by id.
    bumps: BTreeMap<i64, i64>,
    /// `(event_id, delivery_id)` links of the repeats.
    redeliveries: BTreeSet<(i64, i64)>,
}

#[derive(Debug)]
struct DeliveryRow<'d> {
    id: i64,
    delivery: &'d NewDelivery,
    outcome: Outcome,
    error: Option<&'d str>,
    event_count: i64,
    new_event_count: i64,
}

#[derive(Debug)]
struct EventRow<'d> {
    id: i64,
    key: Cow<'d, str>,
    delivery_id: i64,
    received_at_ms: i64,
    event: &'d NewEvent,
    /// Repeats of it later in the same group.
    duplicates: i64,
}

/// Where a dedup key was seen while planning.
#[derive(Clone, Copy)]
enum Seen {
    /// Stored before this group, with this id.
    Stored(i64),
    /// New in this group, at this index of `Plan::events`.
    New(usize),
}

impl<'d> Plan<'d> {
    fn new(
        deliveries: &[&'d NewDelivery],
        next_delivery: i64,
        mut next_event: i64,
        stored: &HashMap<String, i64>,
    ) -> Self {
        let mut plan = Plan {
            appended: Vec::with_capacity(deliveries.len()),
            deliveries: Vec::with_capacity(deliveries.len()),
            events: Vec::new(),
            bumps: BTreeMap::new(),
            redeliveries: BTreeSet::new(),
        };
        let mut seen: HashMap<Cow<'d, str>, Seen> = HashMap::new();
        for (n, delivery) in deliveries.iter().copied().enumerate() {
            let delivery_id = next_delivery + n as i64;
            let events = events_of(delivery);
            let mut new_events = 0;
            for event in events {
                let key = text(&event.dedup_key);
                let known = seen
                    .get(key.as_ref())
                    .copied()
                    .or_else(|| stored.get(key.as_ref()).map(|id| Seen::Stored(*id)));
                match known {
                    Some(Seen::New(row)) => {
                        let row = &mut plan.events[row];
                        row.duplicates += 1;
                        plan.redeliveries.insert((row.id, delivery_id));
                    }
                    Some(Seen::Stored(id)) => {
                        seen.insert(key, Seen::Stored(id));
                        *plan.bumps.entry(id).or_default() += 1;
                        plan.redeliveries.insert((id, delivery_id));
                    }
                    None => {
                        seen.insert(key.clone(), Seen::New(plan.events.len()));
                        plan.events.push(EventRow {
                            id: next_event,
                            key,
                            delivery_id,
                            received_at_ms: delivery.received_at_ms,
                            event,
                            duplicates: 0,
                        });
                        next_event += 1;
                        new_events += 1;
                    }
                }
            }
            let (outcome, error) = match &delivery.content {
                Content::Events(_) => (Outcome::Accepted, None),
                Content::Quarantined { reason } => (Outcome::Quarantined, Some(reason.as_str())),
            };
            plan.deliveries.push(DeliveryRow {
                id: delivery_id,
                delivery,
                outcome,
                error,
                event_count: events.len() as i64,
                new_event_count: new_events as i64,
            });
            plan.appended.push(Appended {
                delivery_id,
                events: events.len(),
                new_events,
                outcome,
            });
        }
        plan
    }

    /// The id of the last new event, if the group added any.
    pub(crate) fn last_event(&self) -> Option<i64> {
        self.events.last().map(|row| row.id)
    }

    /// The group's rows: four statements, sent together (they touch different rows, so order does not
    /// matter), skipping those with nothing to do.
    async fn write(&self, session: &Session) -> Result<(), tokio_postgres::Error> {
        tokio::try_join!(
            self.insert_events(session),
            self.insert_deliveries(session),
            self.bump_duplicates(session),
            self.insert_redeliveries(session),
        )?;
        Ok(())
    }

    async fn insert_events(&self, session: &Session) -> Result<(), tokio_postgres::Error> {
        if self.events.is_empty() {
            return Ok(());
        }
        let rows = &self.events;
        let opt = |f: fn(&NewEvent) -> &Option<String>| -> Vec<Option<Cow<'_, str>>> {
            rows.iter()
                .map(|r| f(r.event).as_deref().map(text))
                .collect()
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_ref()).collect();
        let delivery_ids: Vec<i64> = rows.iter().map(|r| r.delivery_id).collect();
        let received: Vec<i64> = rows.iter().map(|r| r.received_at_ms).collect();
        let channels: Vec<Cow<'_, str>> = rows.iter().map(|r| text(&r.event.channel)).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.event.kind).collect();
        let times: Vec<Option<i64>> = rows.iter().map(|r| r.event.timestamp_ms).collect();
        let duplicates: Vec<i64> = rows.iter().map(|r| r.duplicates).collect();
        let starts: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.event.raw_span.map(|s| s.start as i64))
            .collect();
        let lens: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.event.raw_span.map(|s| s.len as i64))
            .collect();
        let statement = session.prepare_cached(INSERT_EVENTS).await?;
        session
            .execute(
                &statement,
                &[
                    &ids,
                    &keys,
                    &delivery_ids,
                    &received,
                    &opt(|e| &e.object),
                    &opt(|e| &e.entry_id),
                    &channels,
                    &kinds,
                    &opt(|e| &e.field),
                    &opt(|e| &e.sender),
                    &opt(|e| &e.user_ref),
                    &opt(|e| &e.recipient),
                    &times,
                    &opt(|e| &e.mid),
                    &opt(|e| &e.conversation_key),
                    &duplicates,
                    &starts,
                    &lens,
                    &opt(|e| &e.raw),
                ],
            )
            .await?;
        Ok(())
    }

    async fn insert_deliveries(&self, session: &Session) -> Result<(), tokio_postgres::Error> {
        let rows = &self.deliveries;
        let opt = |f: fn(&NewDelivery) -> &Option<String>| -> Vec<Option<Cow<'_, str>>> {
            rows.iter()
                .map(|r| f(r.delivery).as_deref().map(text))
                .collect()
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let received: Vec<i64> = rows.iter().map(|r| r.delivery.received_at_ms).collect();
        let secrets: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.delivery.secret_index.map(i64::from))
            .collect();
        let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
        let errors: Vec<Option<Cow<'_, str>>> = rows.iter().map(|r| r.error.map(text)).collect();
        let counts: Vec<i64> = rows.iter().map(|r| r.event_count).collect();
        let new_counts: Vec<i64> = rows.iter().map(|r| r.new_event_count).collect();
        let bodies: Vec<&[u8]> = rows.iter().map(|r| r.delivery.body.as_ref()).collect();
        let statement = session.prepare_cached(INSERT_DELIVERIES).await?;
        session
            .execute(
                &statement,
                &[
                    &ids,
                    &received,
                    &opt(|d| &d.app),
                    &secrets,
                    &opt(|d| &d.signature),
                    &opt(|d| &d.api_version),
                    &opt(|d| &d.user_agent),
                    &outcomes,
                    &errors,
                    &counts,
                    &new_counts,
                    &bodies,
                ],
            )
            .await?;
        Ok(())
    }

    async fn bump_duplicates(&self, session: &Session) -> Result<(), tokio_postgres::Error> {
        if self.bumps.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = self.bumps.keys().copied().collect();
        let by: Vec<i64> = self.bumps.values().copied().collect();
        let statement = session.prepare_cached(BUMP_DUPLICATES).await?;
        session.execute(&statement, &[&ids, &by]).await?;
        Ok(())
    }

    async fn insert_redeliveries(&self, session: &Session) -> Result<(), tokio_postgres::Error> {
        if self.redeliveries.is_empty() {
            return Ok(());
        }
        let (events, deliveries): (Vec<i64>, Vec<i64>) = self.redeliveries.iter().copied().unzip();
        let statement = session.prepare_cached(INSERT_REDELIVERIES).await?;
        session.execute(&statement, &[&events, &deliveries]).await?;
        Ok(())
    }
}

/// No `ON CONFLICT` here: under the append lock the lookup of stored keys is exact, so a conflict could
/// only come from a writer outside the lock. Failing the group then (Meta retries, and the retry sees the
/// row) is right; silently skipping the row would leave its id unused and its repeats uncounted.
const INSERT_EVENTS: &str = "
    INSERT INTO events (id, dedup_key, delivery_id, received_at_ms, object, entry_id, channel, kind,
                        field, sender, user_ref, recipient, timestamp_ms, mid, conversation_key,
                        duplicates, raw_start, raw_len, raw)
    SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                         $13::int8[], $14::text[], $15::text[], $16::int8[], $17::int8[], $18::int8[],
                         $19::text[])";

const INSERT_DELIVERIES: &str = "
    INSERT INTO deliveries (id, received_at_ms, app, secret_index, signature, api_version, user_agent,
                            outcome, error, event_count, new_event_count, body)
    SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::bytea[])";

const BUMP_DUPLICATES: &str = "
    UPDATE events AS e SET duplicates = e.duplicates + b.n
    FROM unnest($1::int8[], $2::int8[]) AS b(id, n)
    WHERE e.id = b.id";

const INSERT_REDELIVERIES: &str = "
    INSERT INTO redeliveries (event_id, delivery_id)
    SELECT * FROM unnest($1::int8[], $2::int8[])
    ON CONFLICT DO NOTHING";

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(key: &str) -> NewEvent {
        NewEvent {
            dedup_key: key.to_owned(),
            object: Some("page".into()),
            entry_id: Some("1".into()),
            channel: "messaging".into(),
            kind: "message",
            field: None,
            sender: Some("2".into()),
            user_ref: None,
            recipient: Some("1".into()),
            timestamp_ms: Some(5),
            mid: None,
            conversation_key: None,
            raw_span: None,
            raw: Some("{}".into()),
            facts: None,
        }
    }

    fn delivery(keys: &[&str]) -> NewDelivery {
        NewDelivery {
            received_at_ms: 7,
            app: None,
            secret_index: None,
            signature: None,
            api_version: None,
            user_agent: None,
            body: Bytes::from_static(b"{}"),
            content: Content::Events(keys.iter().map(|k| event(k)).collect()),
        }
    }

    #[test]
    fn repeats_in_the_group_and_in_the_store_count_as_duplicates_and_link_their_delivery() {
        let a = delivery(&["k1", "k2", "k1"]);
        let b = delivery(&["k2", "old", "k3"]);
        let quarantined = NewDelivery {
            content: Content::Quarantined {
                reason: "not JSON".into(),
            },
            ..delivery(&[])
        };
        let stored = HashMap::from([("old".to_owned(), 4)]);
        let plan = Plan::new(&[&a, &quarantined, &b], 10, 20, &stored);
        let new: Vec<_> = plan
            .events
            .iter()
            .map(|r| (r.id, r.key.as_ref(), r.delivery_id, r.duplicates))
            .collect();
        assert_eq!(
            new,
            [(20, "k1", 10, 1), (21, "k2", 10, 1), (22, "k3", 12, 0)]
        );
        assert_eq!(plan.bumps, BTreeMap::from([(4, 1)]));
        assert_eq!(
            plan.redeliveries,
            BTreeSet::from([(20, 10), (21, 12), (4, 12)])
        );
        let counts: Vec<_> = plan
            .appended
            .iter()
            .map(|a| (a.delivery_id, a.events, a.new_events, a.outcome))
            .collect();
        assert_eq!(
            counts,
            [
                (10, 3, 2, Outcome::Accepted),
                (11, 0, 0, Outcome::Quarantined),
                (12, 3, 1, Outcome::Accepted)
            ]
        );
        assert_eq!(plan.deliveries[1].error, Some("not JSON"));
        assert_eq!(plan.last_event(), Some(22));
    }

    #[test]
    fn a_group_of_pure_redeliveries_adds_no_event() {
        let a = delivery(&["old"]);
        let stored = HashMap::from([("old".to_owned(), 1)]);
        let plan = Plan::new(&[&a, &a], 3, 2, &stored);
        assert!(plan.events.is_empty());
        assert_eq!(plan.last_event(), None);
        assert_eq!(plan.bumps, BTreeMap::from([(1, 2)]));
    }
}

//! The conversation projection (`hookline_store::conversation`) on deliveries in any order, with repeats.
//!
//! Input: up to 12 events built from the input (messages, echoes, edits, deletions, reactions, reads,
//! deliveries, postbacks, referrals, handovers) whose times, watermarks, mids, texts and ids come from the
//! input bytes, in the fixtures' Messenger and Instagram threads or one of its own; then the deliveries:
//! indexes into the pool of every fixture event that has a conversation plus those events, repeats
//! allowed, in arrival order.
//!
//! The pool is held as a store holds it: one row per dedup key (two events with one key are one event,
//! and the store keeps a single row for it), each row with its own id. Then, per conversation:
//!
//! - `fold` never panics, and folding the rows in arrival order with the repeats gives the same messages
//!   and timeline as folding each distinct row once in dedup-key order;
//! - `Summary::absorb` (and `AccountSummary::absorb` per account), applied in arrival order with the
//!   repeats and saved and loaded as JSON between projection steps (as both backends do), gives the same
//!   summary as applying each distinct row once in dedup-key order;
//! - every row reads back (`reparse::with_event`) with the kind, mid, standby flag, conversation and
//!   payload that ingest parsed.

#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use hookline_meta::{Event, ParseOptions, parse};
use hookline_store::conversation::fold::fold;
use hookline_store::conversation::reparse::with_event;
use hookline_store::conversation::summary::{AccountSummary, Summary};
use hookline_store::{NewEvent, StoredEvent};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Around the fixtures' own times (2026-01-05 10:46:40 UTC, and the two minutes after).
const T0: i64 = 1_767_610_000_000;
/// The fixtures' own app (so its echoes are `this_app` when the options name it).
const OWN_APP: &str = "1517776481860111";
/// At most this many deliveries per input.
const MAX_ARRIVALS: usize = 48;

/// A conversation as (object, account, person): the fixtures' Messenger and Instagram threads and one
/// of its own, so built events land beside the fixture events they interact with.
const CONVERSATIONS: [(&str, &str, &str); 3] = [
    ("page", "104938475610293", "7392015648120394"),
    ("instagram", "17841412345678901", "6841123456789012"),
    ("page", "100", "7"),
];

/// The fixture events that have a conversation, one row per dedup key with ids from 1, what ingest
/// parsed of each (by dedup key), and the mids they name.
struct Fixtures {
    rows: Vec<StoredEvent>,
    seen: HashMap<String, Seen>,
    mids: Vec<String>,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/hookline-meta/tests/fixtures");
        let mut paths = Vec::new();
        for dir in [dir.clone(), dir.join("extra")] {
            for entry in std::fs::read_dir(&dir).expect("the hookline-meta fixtures") {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|x| x == "json") {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        let mut seen = HashMap::new();
        let mut rows = Vec::new();
        for path in paths {
            keep_new(
                stored(&std::fs::read(path).unwrap()),
                &mut rows,
                &mut seen,
                None,
            );
        }
        number(&mut rows, 1);
        let mut mids: Vec<String> = rows.iter().filter_map(|r| r.mid.clone()).collect();
        mids.sort();
        mids.dedup();
        Fixtures { rows, seen, mids }
    })
}

/// Adds the rows whose dedup keys are new (in `seen`, or in `also` when given): the store keeps the
/// first event of a key, and a later one with that key is a redelivery of it.
fn keep_new(
    rows: Vec<(StoredEvent, Seen)>,
    into: &mut Vec<StoredEvent>,
    seen: &mut HashMap<String, Seen>,
    also: Option<&HashMap<String, Seen>>,
) {
    for (row, parsed) in rows {
        let known = seen.contains_key(&row.dedup_key)
            || also.is_some_and(|also| also.contains_key(&row.dedup_key));
        if !known {
            seen.insert(row.dedup_key.clone(), parsed);
            into.push(row);
        }
    }
}

/// Gives rows the ids a store would, from `first` on.
fn number(rows: &mut [StoredEvent], first: i64) {
    for (i, row) in rows.iter_mut().enumerate() {
        row.id = first + i as i64;
        row.delivery_id = row.id;
    }
}

/// What the projection takes from an event read back from its row, which must be what ingest parsed.
/// (Not its time or dedup key: the projection takes both from the row's columns.)
#[derive(Debug, PartialEq)]
struct Seen {
    kind: &'static str,
    mid: Option<String>,
    standby: bool,
    conversation: Option<String>,
    detail: Value,
}

fn seen(event: &Event<'_>) -> Seen {
    Seen {
        kind: event.kind_name(),
        mid: event.mid().map(str::to_owned),
        standby: event.is_standby(),
        conversation: event.conversation().map(|c| c.to_string()),
        detail: serde_json::to_value(&event.kind).expect("an event's payload serialises"),
    }
}

/// The rows a store keeps for a delivery's events that belong to a conversation, as `NewEvent` makes them,
/// each with what ingest parsed.
fn stored(body: &[u8]) -> Vec<(StoredEvent, Seen)> {
    let Ok(events) = parse(body) else {
        return Vec::new();
    };
    events
        .iter()
        .map(|event| (NewEvent::from_event(event, body), seen(event)))
        .filter(|(new, _)| new.conversation_key.is_some())
        .map(|(new, seen)| {
            let raw = match new.raw_span {
                Some(s) => String::from_utf8_lossy(&body[s.start..s.start + s.len]).into_owned(),
                None => new.raw.unwrap_or_default(),
            };
            let row = StoredEvent {
                id: 0,
                delivery_id: 0,
                received_at_ms: 0,
                dedup_key: new.dedup_key,
                object: new.object,
                entry_id: new.entry_id,
                channel: new.channel,
                kind: new.kind.to_owned(),
                field: new.field,
                sender: new.sender,
                user_ref: new.user_ref,
                recipient: new.recipient,
                timestamp_ms: new.timestamp_ms,
                mid: new.mid,
                conversation_key: new.conversation_key,
                duplicates: 0,
                raw: Some(raw),
            };
            (row, seen)
        })
        .collect()
}

/// `text` as a JSON string.
fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// A time or watermark as JSON text: mostly whole seconds near the fixtures' (so times tie), sometimes
/// seconds, fractions, strings, or values at and past the edges of i64.
fn time(u: &mut Unstructured<'_>) -> Result<String> {
    let near = T0 + 1000 * u.int_in_range(0..=130)?;
    Ok(match u.int_in_range(0..=7)? {
        0..=3 => near.to_string(),
        4 => (near / 1000).to_string(),
        5 => format!("{}.{}", near / 1000, u.int_in_range(0..=999)?),
        6 => u.arbitrary::<i64>()?.to_string(),
        _ => u
            .choose(&[
                "\"1767610005000\"",
                "\"soon\"",
                "null",
                "-1",
                "0",
                "-0",
                "1e400",
                "1.5e12",
                "-9223372036854775808",
                "9223372036854775807",
                "18446744073709551615",
                "1e-7",
            ])?
            .to_string(),
    })
}

/// A mid: one of the fixtures', one of a few short ones, or any text.
fn mid(u: &mut Unstructured<'_>, mids: &[String]) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => json(u.choose(mids)?),
        1 | 2 => json(u.choose(&["m.0", "m.1", "m.2"])?),
        _ => json(u.arbitrary::<&str>()?),
    })
}

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(if u.ratio(1, 2)? {
        json(u.choose(&["hi", "", "Yes, size M", "\u{2764}\u{fe0f}"])?)
    } else {
        json(u.arbitrary::<&str>()?)
    })
}

fn app_id(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(u.choose(&[
        OWN_APP,
        "263902037430900",
        "\"2203418761230987\"",
        "null",
        "\"\"",
    ])?
    .to_string())
}

/// A JSON object's members, some of them left out as the input decides.
#[derive(Default)]
struct Members(Vec<String>);

impl Members {
    fn with(mut self, name: &str, value: String) -> Self {
        self.0.push(format!("{}:{value}", json(name)));
        self
    }

    fn maybe(
        self,
        u: &mut Unstructured<'_>,
        name: &str,
        value: impl FnOnce(&mut Unstructured<'_>) -> Result<String>,
    ) -> Result<Self> {
        Ok(if u.ratio(3, 4)? {
            let value = value(u)?;
            self.with(name, value)
        } else {
            self
        })
    }

    fn object(&self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

/// One messaging event's kind key and payload (`"message":{...}`), and whether the business sent it.
fn event(u: &mut Unstructured<'_>, mids: &[String]) -> Result<(String, bool)> {
    let mut outbound = false;
    let m = Members::default();
    let (key, payload) = match u.int_in_range(0..=12)? {
        0 | 1 => {
            let reply_to = Members::default().with("mid", mid(u, mids)?).object();
            let quick_reply = Members::default().with("payload", text(u)?).object();
            let image = Members::default().with("url", text(u)?).object();
            let attachment = Members::default()
                .with("type", json("image"))
                .with("payload", image)
                .object();
            let m = m
                .with("mid", mid(u, mids)?)
                .maybe(u, "text", text)?
                .maybe(u, "reply_to", |_| Ok(reply_to))?
                .maybe(u, "quick_reply", |_| Ok(quick_reply))?
                .maybe(u, "attachments", |_| Ok(format!("[{attachment}]")))?;
            ("message", m)
        }
        2 | 3 => {
            outbound = true;
            let m = m
                .with("is_echo", "true".into())
                .with("mid", mid(u, mids)?)
                .maybe(u, "app_id", app_id)?
                .maybe(u, "text", text)?;
            ("message", m)
        }
        4 => (
            "message",
            m.with("mid", mid(u, mids)?)
                .with("is_deleted", "true".into()),
        ),
        5 => {
            let num_edit = u.choose(&["0", "1", "2", "3", "4294967296", "-1", "1.5", "null"])?;
            let m = m.with("mid", mid(u, mids)?).maybe(u, "text", text)?.maybe(
                u,
                "num_edit",
                |_| Ok(num_edit.to_string()),
            )?;
            ("message_edit", m)
        }
        6 | 7 => {
            outbound = u.ratio(1, 4)?;
            let action = u.choose(&["react", "unreact", "other"])?;
            let reaction = u.choose(&["love", "like", "other"])?;
            let m = m
                .with("mid", mid(u, mids)?)
                .maybe(u, "action", |_| Ok(json(action)))?
                .maybe(u, "reaction", |_| Ok(json(reaction)))?
                .maybe(u, "emoji", text)?;
            ("reaction", m)
        }
        8 => {
            let m = m
                .maybe(u, "watermark", time)?
                .maybe(u, "mid", |u| mid(u, mids))?;
            ("read", m)
        }
        9 => {
            let mids = [mid(u, mids)?, mid(u, mids)?];
            let m = m.maybe(u, "watermark", time)?.with(
                "mids",
                format!("[{}]", mids[..u.int_in_range(0..=2)?].join(",")),
            );
            ("delivery", m)
        }
        10 => {
            let m = m
                .with("title", text(u)?)
                .maybe(u, "payload", text)?
                .maybe(u, "mid", |u| mid(u, mids))?
                .maybe(u, "referral", referral)?;
            ("postback", m)
        }
        11 => return Ok((format!("\"referral\":{}", referral(u)?), false)),
        _ => {
            let key = *u.choose(&[
                "pass_thread_control",
                "take_thread_control",
                "request_thread_control",
            ])?;
            let owner = if key == "request_thread_control" {
                "requested_owner_app_id"
            } else {
                "new_owner_app_id"
            };
            let m = m
                .maybe(u, owner, app_id)?
                .maybe(u, "previous_owner_app_id", app_id)?;
            (key, m)
        }
    };
    Ok((format!("{}:{}", json(key), payload.object()), outbound))
}

/// A referral, sometimes with a member of any name (referrals keep members they do not know).
fn referral(u: &mut Unstructured<'_>) -> Result<String> {
    let source = u.choose(&["\"ADS\"", "\"SHORTLINK\"", "\"CUSTOMER_CHAT_PLUGIN\"", "7"])?;
    let mut m = Members::default()
        .with("type", json("OPEN_THREAD"))
        .maybe(u, "ref", text)?
        .maybe(u, "source", |_| Ok(source.to_string()))?;
    if u.ratio(1, 4)? {
        m = m.with(u.arbitrary::<&str>()?, text(u)?);
    }
    Ok(m.object())
}

/// A one-event delivery built from the input, in one of [`CONVERSATIONS`].
fn delivery(u: &mut Unstructured<'_>, mids: &[String]) -> Result<String> {
    let (object, account, person) = *u.choose(&CONVERSATIONS)?;
    let (event, outbound) = event(u, mids)?;
    let (sender, recipient) = if outbound {
        (account, person)
    } else {
        (person, account)
    };
    let array = if u.ratio(1, 8)? {
        "standby"
    } else {
        "messaging"
    };
    let timestamp = Members::default().maybe(u, "timestamp", time)?.0;
    let mut members = vec![
        format!(r#""sender":{{"id":"{sender}"}}"#),
        format!(r#""recipient":{{"id":"{recipient}"}}"#),
    ];
    members.extend(timestamp);
    members.push(event);
    Ok(format!(
        r#"{{"object":"{object}","entry":[{{"id":"{account}","time":{T0},"{array}":[{{{}}}]}}]}}"#,
        members.join(",")
    ))
}

/// A summary as it is saved and loaded between projection steps (a state that fails to load starts over).
fn reload<T: Serialize + DeserializeOwned + Default>(state: &T) -> T {
    let saved = serde_json::to_string(state).expect("a summary serialises");
    serde_json::from_str(&saved).unwrap_or_default()
}

/// Applies `rows` as a projector does, saving and loading the summaries every `step` rows.
fn project(
    rows: &[&StoredEvent],
    step: usize,
    options: &ParseOptions,
) -> (
    BTreeMap<String, Summary>,
    BTreeMap<(String, String), AccountSummary>,
) {
    let mut conversations: BTreeMap<String, Summary> = BTreeMap::new();
    let mut accounts: BTreeMap<(String, String), AccountSummary> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Some(key) = &row.conversation_key {
            let summary = conversations.entry(key.clone()).or_default();
            with_event(row, options, |e| summary.absorb(row, e));
        }
        if let (Some(object), Some(account)) = (&row.object, &row.entry_id) {
            let summary = accounts
                .entry((object.clone(), account.clone()))
                .or_default();
            with_event(row, options, |e| summary.absorb(row, e));
        }
        if (i + 1) % step == 0 {
            conversations.values_mut().for_each(|s| *s = reload(s));
            accounts.values_mut().for_each(|s| *s = reload(s));
        }
    }
    (conversations, accounts)
}

/// Each conversation's rows, in the order given.
fn by_conversation(rows: &[&StoredEvent]) -> BTreeMap<String, Vec<StoredEvent>> {
    let mut out: BTreeMap<String, Vec<StoredEvent>> = BTreeMap::new();
    for row in rows {
        if let Some(key) = &row.conversation_key {
            out.entry(key.clone()).or_default().push((*row).clone());
        }
    }
    out
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let fixtures = fixtures();
    let options = ParseOptions {
        own_app_ids: if u.ratio(1, 2)? {
            vec![OWN_APP.to_owned()]
        } else {
            Vec::new()
        },
    };
    let step = u.int_in_range(1..=8)?;

    // The pool: one row per dedup key, the first event with that key standing for it.
    let (mut built, mut built_seen) = (Vec::new(), HashMap::new());
    for _ in 0..u.int_in_range(0..=12)? {
        let rows = stored(delivery(u, &fixtures.mids)?.as_bytes());
        keep_new(rows, &mut built, &mut built_seen, Some(&fixtures.seen));
    }
    number(&mut built, fixtures.rows.len() as i64 + 1);
    let pool: Vec<&StoredEvent> = fixtures.rows.iter().chain(&built).collect();

    // Deliveries: the built events more often than the fixtures' (they are the ones that vary).
    let mut arrival: Vec<&StoredEvent> = Vec::new();
    while !u.is_empty() && arrival.len() < MAX_ARRIVALS {
        let row = if !built.is_empty() && u.ratio(2, 3)? {
            u.choose(&built)?
        } else {
            *u.choose(&pool)?
        };
        arrival.push(row);
    }
    let mut canonical = arrival.clone();
    canonical.sort_by(|a, b| a.dedup_key.cmp(&b.dedup_key));
    canonical.dedup_by(|a, b| a.dedup_key == b.dedup_key);

    for row in &canonical {
        let read = with_event(row, &ParseOptions::default(), seen);
        let parsed = fixtures.seen.get(&row.dedup_key);
        assert_eq!(
            read.as_ref(),
            parsed.or_else(|| built_seen.get(&row.dedup_key)),
            "a stored event reads back differently: {row:?}"
        );
    }

    let (arrived, once) = (by_conversation(&arrival), by_conversation(&canonical));
    assert_eq!(
        arrived.keys().collect::<Vec<_>>(),
        once.keys().collect::<Vec<_>>()
    );
    for (key, events) in &arrived {
        let (a, b) = (fold(events, &options), fold(&once[key], &options));
        assert!(
            a.messages == b.messages && a.timeline == b.timeline,
            "the fold of {key} depends on order or repeats\n\
             in arrival order: {a:#?}\nonce each, in dedup-key order: {b:#?}"
        );
    }

    let arrived = project(&arrival, step, &options);
    let once = project(&canonical, usize::MAX, &options);
    assert_eq!(
        arrived.0, once.0,
        "conversation summaries depend on order, repeats or reloads"
    );
    assert_eq!(
        arrived.1, once.1,
        "account summaries depend on order, repeats or reloads"
    );
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

//! The conversation projection, through a real store: what it shows, and that it does not depend on
//! the order or repetition of deliveries (Meta delivers late, twice and out of order), nor on when
//! hookline's own sends and their outcomes are recorded among them. Every test runs against SQLite and
//! against PostgreSQL (see `support/mod.rs`).

#[macro_use]
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookline_meta::ParseOptions;
use hookline_store::conversation::ConversationQuery;
use hookline_store::conversation::fold::{fold, fold_with_sends};
use hookline_store::conversation::view::Counterpart;
use hookline_store::{
    Content, EventStore, NewDelivery, NewEvent, NewSend, SendId, SendOutcome, WriterOptions,
};
use proptest::prelude::*;
use proptest::sample::Index;
use support::Fixture;
use support::meta::fixtures;

on_every_backend!(
    every_fixture_lands_in_a_conversation_with_its_messages,
    a_conversation_shows_the_thread_as_a_support_team_reads_it,
    a_store_reopened_goes_on_projecting_where_it_stopped,
    the_projection_keeps_up_with_deliveries_that_never_pause,
);

fn delivery(body: &[u8]) -> NewDelivery {
    let body = Bytes::copy_from_slice(body);
    let events = hookline_meta::parse(&body).unwrap();
    let content = Content::Events(
        events
            .iter()
            .map(|e| NewEvent::from_event(e, &body))
            .collect(),
    );
    NewDelivery {
        received_at_ms: 1_700_000_000_000,
        app: None,
        secret_index: Some(0),
        signature: None,
        api_version: None,
        user_agent: None,
        body,
        content,
    }
}

async fn open(fx: &Fixture) -> Arc<dyn EventStore> {
    fx.open_projecting().await
}

/// Submits every body (all queued before any is awaited, so groups form in this order) and waits until
/// the projection has applied every committed event.
async fn ingest(store: &Arc<dyn EventStore>, bodies: &[&[u8]]) {
    let pending: Vec<_> = bodies
        .iter()
        .map(|b| store.submit(delivery(b)).unwrap())
        .collect();
    for commit in pending {
        commit.await.unwrap();
    }
    let committed = *store.committed_events().borrow();
    let mut projected = store.projected_events();
    tokio::time::timeout(
        Duration::from_secs(10),
        projected.wait_for(|p| *p >= committed),
    )
    .await
    .expect("the projection catches up")
    .unwrap();
}

/// Everything the conversation routes would show, and the sends, as one JSON document.
async fn state(store: &Arc<dyn EventStore>) -> serde_json::Value {
    let options = ParseOptions {
        own_app_ids: vec!["1517906555124442".into()],
    };
    let query = ConversationQuery {
        limit: 10_000,
        ..ConversationQuery::default()
    };
    let mut conversations = store.list_conversations(query).await.unwrap();
    conversations.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::new();
    for conversation in conversations {
        let events = store
            .conversation_events(conversation.key.clone())
            .await
            .unwrap();
        let sends = store
            .conversation_sends(conversation.key.clone())
            .await
            .unwrap();
        let folded = fold_with_sends(&events, &sends, &options);
        let messages: Vec<_> = folded.messages.iter().map(|(_, m)| m).collect();
        let timeline: Vec<_> = folded
            .timeline
            .iter()
            .map(|(_, t)| (&t.kind, &t.dedup_key, t.timestamp_ms, &t.note, &t.detail))
            .collect();
        out.push(serde_json::json!({
            "conversation": conversation,
            "messages": messages,
            "timeline": serde_json::to_value(&timeline).unwrap(),
            "sends": sends,
        }));
    }
    let accounts = store.list_accounts().await.unwrap();
    serde_json::json!({ "conversations": out, "accounts": accounts })
}

async fn every_fixture_lands_in_a_conversation_with_its_messages(fx: &Fixture) {
    let store = open(fx).await;
    let bodies = fixtures();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    ingest(&store, &refs).await;
    let state = state(&store).await;
    let conversations = state["conversations"].as_array().unwrap();
    assert!(conversations.len() >= 4, "{}", conversations.len());
    // Every stored message or echo with a conversation shows up as a message of it.
    let events = store
        .list_events(hookline_store::EventQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let expected: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| {
            matches!(e.kind.as_str(), "message" | "message_echo") && e.conversation_key.is_some()
        })
        .filter_map(|e| e.mid.clone())
        .collect();
    let shown: std::collections::BTreeSet<String> = conversations
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap().iter())
        .map(|m| m["mid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, expected);
    // The policy enforcement fixtures are on the account, latest first.
    let accounts = state["accounts"].as_array().unwrap();
    assert!(
        accounts.iter().any(|a| a["policy"]["action"].is_string()),
        "{accounts:?}"
    );
}

async fn a_conversation_shows_the_thread_as_a_support_team_reads_it(fx: &Fixture) {
    const PAGE: &str = "104938475610293";
    let message = |ts: i64, mid: &str, text: &str| {
        format!(
            r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{ts},"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{ts},"message":{{"mid":"{mid}","text":"{text}"}}}}]}}]}}"#
        )
    };
    let echo = |ts: i64, mid: &str| {
        format!(
            r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{ts},"messaging":[{{"sender":{{"id":"{PAGE}"}},"recipient":{{"id":"7"}},"timestamp":{ts},"message":{{"mid":"{mid}","is_echo":true,"app_id":1517906555124442,"text":"On its way"}}}}]}}]}}"#
        )
    };
    let read = |ts: i64, watermark: i64| {
        format!(
            r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{ts},"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{ts},"read":{{"watermark":{watermark}}}}}]}}]}}"#
        )
    };
    let react = |ts: i64, mid: &str| {
        format!(
            r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{ts},"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{ts},"reaction":{{"mid":"{mid}","action":"react","reaction":"love","emoji":"\u2764\ufe0f"}}}}]}}]}}"#
        )
    };
    const T: i64 = 1_767_000_000_000;
    let bodies = [
        message(T + 1_000, "m.1", "Where is my order?"),
        echo(T + 2_000, "m.2"),
        read(T + 3_000, T + 2_000),
        react(T + 4_000, "m.2"),
        message(T + 5_000, "m.3", "Thanks!"),
    ];
    let store = open(fx).await;
    let refs: Vec<&[u8]> = bodies.iter().rev().map(|b| b.as_bytes()).collect();
    ingest(&store, &refs).await;

    let conversations = store
        .list_conversations(ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(conversations.len(), 1);
    let c = &conversations[0];
    assert_eq!(c.key, format!("page:{PAGE}:7"));
    assert_eq!((c.message_count, c.unread), (3, 1));
    assert_eq!(c.last_event_ms, Some(T + 5_000));
    assert_eq!(
        c.last_message.as_ref().unwrap().text.as_deref(),
        Some("Thanks!")
    );
    assert_eq!(
        store.get_conversation(c.id.clone()).await.unwrap().as_ref(),
        Some(c)
    );

    let events = store.conversation_events(c.key.clone()).await.unwrap();
    let options = ParseOptions {
        own_app_ids: vec!["1517906555124442".into()],
    };
    let messages: Vec<_> = fold(&events, &options)
        .messages
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let view: Vec<_> = messages
        .iter()
        .map(|m| (m.mid.as_str(), m.status, m.echo_source, m.reactions.len()))
        .collect();
    assert_eq!(
        view,
        [
            ("m.1", None, None, 0),
            ("m.2", Some("read"), Some("this_app"), 1),
            ("m.3", None, None, 0)
        ]
    );
}

/// A steady trickle, a delivery every half millisecond, never leaves the writer idle long enough to
/// project in a quiet moment, nor builds up a large lag; the projection must still follow within a
/// bounded time rather than wait for the trickle to end.
async fn the_projection_keeps_up_with_deliveries_that_never_pause(fx: &Fixture) {
    let store = open(fx).await;
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../hookline-meta/tests/fixtures/ig01_message_text.json"),
    )
    .unwrap();
    let mid = template
        .split("\"mid\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the fixture has a mid")
        .to_owned();
    let projected = store.projected_events();
    let mut pending = Vec::new();
    let mut seen_during_trickle = 0;
    for i in 0..800 {
        let body = template.replace(&mid, &format!("{mid}_trickle_{i}"));
        pending.push(store.submit(delivery(body.as_bytes())).unwrap());
        if i == 600 {
            seen_during_trickle = *projected.borrow();
        }
        // Blocking on purpose: the writer runs on threads of its own, and a timer of the test's runtime
        // would round the pause up to a millisecond or more.
        std::thread::sleep(Duration::from_micros(500));
    }
    for commit in pending {
        commit.await.unwrap();
    }
    assert!(
        seen_during_trickle > 0,
        "after 300 ms of a steady trickle the projection had applied nothing"
    );
}

async fn a_store_reopened_goes_on_projecting_where_it_stopped(fx: &Fixture) {
    let bodies = fixtures();
    {
        // Events stored without the projection (as by an older hookline) are projected on the next start.
        let plain = fx.open(WriterOptions::default()).await;
        for body in &bodies[..40] {
            plain.submit(delivery(body)).unwrap().await.unwrap();
        }
        assert_eq!(*plain.projected_events().borrow(), 0);
        plain.close().await;
    }
    let store = open(fx).await;
    let rest: Vec<&[u8]> = bodies[40..].iter().map(Vec::as_slice).collect();
    ingest(&store, &rest).await;
    let reopened = state(&store).await;

    let fresh_fx = same_backend(fx);
    let fresh = open(&fresh_fx).await;
    let all: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    ingest(&fresh, &all).await;
    assert_eq!(reopened, state(&fresh).await);
}

#[tokio::test]
async fn sqlite_and_postgres_show_the_same_conversations() {
    let Some(postgres) = Fixture::postgres("sqlite_and_postgres_show_the_same_conversations")
    else {
        return;
    };
    let sqlite = Fixture::sqlite();
    let bodies = fixtures();
    // Out of order and with repeats, as Meta delivers.
    let mixed: Vec<&[u8]> = bodies
        .iter()
        .rev()
        .chain(bodies.iter().step_by(3))
        .map(Vec::as_slice)
        .collect();
    let mut states = Vec::new();
    for fx in [&sqlite, &postgres] {
        let store = open(fx).await;
        ingest(&store, &mixed).await;
        states.push(state(&store).await);
        store.close().await;
    }
    assert!(states[0]["conversations"].as_array().unwrap().len() >= 4);
    assert_eq!(states[0], states[1]);
}

/// Another store of the same backend as `fx`.
fn same_backend(fx: &Fixture) -> Fixture {
    match fx.schema() {
        None => Fixture::sqlite(),
        Some(_) => Fixture::postgres("a second store").unwrap(),
    }
}

/// The fixtures and the echoes of [`sends`] that are not among them.
fn bodies() -> Vec<Vec<u8>> {
    let mut bodies = fixtures();
    bodies.extend(sends().1);
    bodies
}

/// A send and what its call answered (`None`: it never answered).
type Planned = (NewSend, Option<SendOutcome>);

/// Sends into the fixtures' conversations, and echo bodies for some of them: one answered with the mid
/// of each fixture echo (so joined by mid), two whose echoes below name them by metadata (one never
/// answered, one answered with its echo's mid), and a failed, a sent and a pending one that no echo
/// names.
fn sends() -> (Vec<Planned>, Vec<Vec<u8>>) {
    const T: i64 = 1_767_100_000_000;
    let mut planned: Vec<Planned> = Vec::new();
    let mut mids = std::collections::BTreeSet::new();
    let mut thread = None;
    for body in fixtures() {
        for event in hookline_meta::parse(&body).unwrap() {
            let (Some(mid), Some(conversation)) = (event.mid(), event.conversation()) else {
                continue;
            };
            let object = conversation.object;
            if event.kind_name() != "message_echo"
                || !matches!(object, "page" | "instagram")
                || !mids.insert(mid.to_owned())
            {
                continue;
            }
            let recipient = match conversation.counterpart {
                hookline_meta::conversation::Counterpart::Id(id) => Counterpart::Id(id.into()),
                hookline_meta::conversation::Counterpart::UserRef(r) => {
                    Counterpart::UserRef(r.into())
                }
            };
            if object == "page" {
                thread = Some((conversation.account.to_owned(), recipient.clone()));
            }
            let n = planned.len() as u128;
            let send = NewSend {
                id: SendId::from_parts(T, n),
                object: object.into(),
                account_id: conversation.account.into(),
                recipient,
                request: serde_json::json!({"message": {"text": format!("send {n}")}}),
                created_at_ms: event.timestamp_ms().unwrap_or(T) - 50,
            };
            let outcome = SendOutcome::Sent {
                message_id: mid.to_owned(),
            };
            planned.push((send, Some(outcome)));
        }
    }
    let (account, recipient) = thread.expect("a fixture echo on a Page");
    let Counterpart::Id(user) = &recipient else {
        panic!("the Page echo's recipient is a scoped id");
    };
    let mut echoes = Vec::new();
    // (n, its echo arrives, what its call answered)
    let plan = [
        (100_u128, true, "nothing"),
        (101, true, "sent"),
        (102, false, "failed"),
        (103, false, "sent"),
        (104, false, "nothing"),
    ];
    for (n, echoed, answered) in plan {
        let id = SendId::from_parts(T + n as i64, n);
        let at = T + 1_000 * n as i64;
        let mid = format!("m_hookline_{n}");
        if echoed {
            echoes.push(
                serde_json::json!({"object": "page", "entry": [{"id": account, "time": at, "messaging": [{
                    "sender": {"id": account}, "recipient": {"id": user}, "timestamp": at + 80,
                    "message": {"mid": mid, "is_echo": true, "app_id": 1517906555124442_u64,
                                "metadata": id.as_str(), "text": format!("send {n}")}
                }]}]})
                .to_string()
                .into_bytes(),
            );
        }
        let outcome = match answered {
            "sent" => Some(SendOutcome::Sent { message_id: mid }),
            "failed" => Some(SendOutcome::Failed {
                error: "(#551) This person isn't available right now".into(),
            }),
            _ => None,
        };
        let send = NewSend {
            id,
            object: "page".into(),
            account_id: account.clone(),
            recipient: recipient.clone(),
            request: serde_json::json!({"message": {"text": format!("send {n}")}}),
            created_at_ms: at,
        };
        planned.push((send, outcome));
    }
    (planned, echoes)
}

/// Records `send` (at `create`) or its outcome (at `mark`).
async fn apply(store: &Arc<dyn EventStore>, (send, outcome): &Planned, create: bool) {
    if create {
        store.create_send(send.clone()).await.unwrap();
        return;
    }
    let id = send.id.clone();
    let at = send.created_at_ms + 400;
    match outcome {
        Some(SendOutcome::Sent { message_id }) => {
            store.mark_send_sent(id, message_id.clone(), at).await
        }
        Some(SendOutcome::Failed { error }) => store.mark_send_failed(id, error.clone(), at).await,
        None => return,
    }
    .unwrap();
}

/// Two stores given the same deliveries and sends: one the deliveries in fixture order and then the
/// sends, the other the deliveries in `order` followed by the `repeats`, each send recorded and then
/// marked at two `moments` among them; and the states they show.
fn both_states(
    fixture: impl Fn() -> Fixture,
    order: &[usize],
    repeats: &[usize],
    moments: &[(Index, Index)],
) -> (serde_json::Value, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies = bodies();
    let (planned, _) = sends();
    runtime.block_on(async {
        let (a, b) = (fixture(), fixture());
        let canonical = open(&a).await;
        let all: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        ingest(&canonical, &all).await;
        for create in [true, false] {
            for send in &planned {
                apply(&canonical, send, create).await;
            }
        }

        let other = open(&b).await;
        let mixed: Vec<&[u8]> = order
            .iter()
            .chain(repeats.iter())
            .map(|&i| bodies[i].as_slice())
            .collect();
        // (where, mark, which): at each place among the deliveries, creations before marks.
        let mut steps: Vec<(usize, bool, usize)> = Vec::new();
        for (i, (one, two)) in moments.iter().enumerate() {
            let (one, two) = (one.index(mixed.len() + 1), two.index(mixed.len() + 1));
            steps.push((one.min(two), false, i));
            steps.push((one.max(two), true, i));
        }
        steps.sort();
        let mut done = 0;
        for (at, mark, i) in steps {
            if at > done {
                ingest(&other, &mixed[done..at]).await;
                done = at;
            }
            apply(&other, &planned[i], !mark).await;
        }
        ingest(&other, &mixed[done..]).await;

        let states = (state(&canonical).await, state(&other).await);
        canonical.close().await;
        other.close().await;
        states
    })
}

/// Every planned send shows as exactly one message, `this_app`.
fn each_send_shows_once(state: &serde_json::Value) -> Result<(), TestCaseError> {
    let shown: Vec<&str> = state["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap())
        .filter(|m| m["send_id"].is_string())
        .inspect(|m| assert_eq!(m["echo_source"], "this_app", "{m}"))
        .map(|m| m["send_id"].as_str().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = shown.iter().copied().collect();
    prop_assert_eq!(shown.len(), distinct.len(), "a send shows twice");
    prop_assert_eq!(shown.len(), sends().0.len(), "a send is missing");
    Ok(())
}

fn same_state(
    expected: &serde_json::Value,
    shuffled: &serde_json::Value,
) -> Result<(), TestCaseError> {
    each_send_shows_once(expected)?;
    if expected != shuffled {
        let dir = std::env::temp_dir();
        std::fs::write(
            dir.join("projection-expected.json"),
            serde_json::to_string_pretty(expected).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.join("projection-shuffled.json"),
            serde_json::to_string_pretty(shuffled).unwrap(),
        )
        .unwrap();
    }
    prop_assert!(
        expected == shuffled,
        "the two states differ: see projection-expected.json and projection-shuffled.json in {}",
        std::env::temp_dir().display()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Two SQLite stores given the same deliveries and sends, one in fixture order and one shuffled
    /// with repeats and the sends recorded and marked among them, show the same conversations,
    /// messages, timelines, sends and accounts.
    #[test]
    fn the_projection_does_not_depend_on_order_or_duplicates_in_sqlite(
        order in Just((0..bodies().len()).collect::<Vec<_>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..bodies().len(), 0..40),
        moments in proptest::collection::vec(any::<(Index, Index)>(), sends().0.len()),
    ) {
        let (expected, shuffled) = both_states(Fixture::sqlite, &order, &repeats, &moments);
        same_state(&expected, &shuffled)?;
    }

    /// The same in PostgreSQL.
    #[test]
    fn the_projection_does_not_depend_on_order_or_duplicates_in_postgres(
        order in Just((0..bodies().len()).collect::<Vec<_>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..bodies().len(), 0..40),
        moments in proptest::collection::vec(any::<(Index, Index)>(), sends().0.len()),
    ) {
        if support::postgres_url("the_projection_does_not_depend_on_order_or_duplicates_in_postgres").is_some() {
            let postgres = || Fixture::postgres("the projection property").unwrap();
            let (expected, shuffled) = both_states(postgres, &order, &repeats, &moments);
            same_state(&expected, &shuffled)?;
        }
    }
}

//! hookline's own sends (see `hookline_store::send`): the records and their refusals, and each send
//! joined to its echo in the conversation (one message, `this_app`, linked to the send) whichever of the
//! send, its outcome and its echo arrived first. Each case runs on both backends.

use super::*;
use hookline_meta::ParseOptions;
use hookline_store::conversation::ConversationQuery;
use hookline_store::conversation::fold::fold_with_sends;
use hookline_store::conversation::view::{Conversation, Counterpart, Message};
use hookline_store::{NewSend, SendId, SendStatus};
use serde_json::{Value, json};

on_every_backend!(
    a_send_is_recorded_pending_then_marked_and_found_by_id_conversation_and_message_id,
    marks_of_unknown_sends_and_second_marks_that_differ_are_refused,
    a_send_recorded_again_is_the_same_send_and_an_unusable_one_is_refused,
    a_send_then_its_echo_are_one_message_of_this_app,
    an_echo_before_the_send_is_marked_is_joined_by_its_metadata,
    an_echo_before_the_send_is_recorded_is_joined_once_it_is,
    an_echo_without_metadata_is_joined_by_its_mid,
    a_failed_send_shows_failed_with_its_error,
    receipts_set_the_status_of_a_send_whose_echo_has_not_arrived,
    an_echo_of_another_app_without_metadata_stays_other_app,
    the_conversation_list_counts_one_message_per_send_and_echo,
    a_send_and_its_echo_show_the_same_in_every_order,
);

const PAGE: &str = "100";
const USER: &str = "7";
const KEY: &str = "page:100:7";
/// Meta's times: real epoch ms, as watermarks below 1e12 would be read as seconds.
const T: i64 = 1_767_000_000_000;
/// An app id no store in these tests is configured with: its echoes are `other_app` unless they are
/// a send's.
const OTHER_APP: &str = "9990001";

async fn open_projecting(fx: &Fixture) -> Arc<dyn EventStore> {
    fx.open_projecting().await
}

/// Stores the bodies and waits until the projection has applied every committed event.
async fn ingest(store: &Arc<dyn EventStore>, bodies: &[String]) {
    for body in bodies {
        store
            .submit(delivery(body.clone().into_bytes()))
            .unwrap()
            .await
            .unwrap();
    }
    let committed = *store.committed_events().borrow();
    tokio::time::timeout(
        Duration::from_secs(10),
        store.projected_events().wait_for(|p| *p >= committed),
    )
    .await
    .expect("the projection catches up")
    .unwrap();
}

fn messaging(ts: i64, sender: &str, recipient: &str, inner: Value) -> String {
    let mut event =
        json!({"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": ts});
    if let (Value::Object(event), Value::Object(inner)) = (&mut event, inner) {
        event.extend(inner);
    }
    json!({"object": "page", "entry": [{"id": PAGE, "time": ts, "messaging": [event]}]}).to_string()
}

/// An echo of a message the Page sent, with the metadata of the Send API call when there was one.
fn echo(ts: i64, mid: &str, app_id: &str, metadata: Option<&str>, text: &str) -> String {
    let mut message = json!({"mid": mid, "is_echo": true, "app_id": app_id.parse::<u64>().unwrap(), "text": text});
    if let Some(metadata) = metadata {
        message["metadata"] = json!(metadata);
    }
    messaging(ts, PAGE, USER, json!({ "message": message }))
}

fn inbound(ts: i64, mid: &str, text: &str) -> String {
    messaging(
        ts,
        USER,
        PAGE,
        json!({"message": {"mid": mid, "text": text}}),
    )
}

/// A delivery receipt naming mids, with a watermark before every message of these tests, so that only
/// the mids count.
fn delivered(ts: i64, mids: &[&str]) -> String {
    messaging(
        ts,
        USER,
        PAGE,
        json!({"delivery": {"mids": mids, "watermark": T - 1_000}}),
    )
}

fn read(ts: i64, watermark: i64) -> String {
    messaging(ts, USER, PAGE, json!({"read": {"watermark": watermark}}))
}

/// A send to the test conversation, recorded at `at`.
fn new_send(id: &SendId, at: i64, text: &str) -> NewSend {
    NewSend {
        id: id.clone(),
        object: "page".into(),
        account_id: PAGE.into(),
        recipient: Counterpart::Id(USER.into()),
        request: json!({"messaging_type": "RESPONSE", "message": {"text": text}}),
        created_at_ms: at,
    }
}

fn id(n: u128) -> SendId {
    SendId::from_parts(T, n)
}

/// The test conversation's messages as the messages route shows them, with own app ids that match no
/// echo here, so `this_app` can only come from a send.
async fn messages(store: &Arc<dyn EventStore>) -> Vec<Message> {
    let events = store.conversation_events(KEY.into()).await.unwrap();
    let sends = store.conversation_sends(KEY.into()).await.unwrap();
    let options = ParseOptions {
        own_app_ids: vec!["555".into()],
    };
    fold_with_sends(&events, &sends, &options)
        .messages
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

/// The test conversation as listed.
async fn listed(store: &Arc<dyn EventStore>) -> Conversation {
    let all = store
        .list_conversations(ConversationQuery {
            limit: 10,
            ..ConversationQuery::default()
        })
        .await
        .unwrap();
    let found = all.into_iter().find(|c| c.key == KEY).expect("listed");
    assert_eq!(
        store.get_conversation(found.id.clone()).await.unwrap(),
        Some(found.clone())
    );
    found
}

/// What a message shows of its send: mid, status, source and send id.
fn shown(
    m: &Message,
) -> (
    String,
    Option<&'static str>,
    Option<&'static str>,
    Option<String>,
) {
    (m.mid.clone(), m.status, m.echo_source, m.send_id.clone())
}

fn sid(id: &SendId) -> Option<String> {
    Some(id.to_string())
}

async fn a_send_is_recorded_pending_then_marked_and_found_by_id_conversation_and_message_id(
    fx: &Fixture,
) {
    let store = open(fx).await;
    let (first, second) = (id(1), id(2));
    let created = store
        .create_send(new_send(&first, T, "Hello"))
        .await
        .unwrap();
    assert_eq!(created.status, SendStatus::Pending);
    assert_eq!(
        (created.message_id.as_deref(), created.error.as_deref()),
        (None, None)
    );
    assert_eq!(created.conversation_key, KEY);
    assert_eq!(
        created.conversation_id,
        hookline_store::conversation::conversation_id(KEY)
    );
    assert_eq!(created.request["message"]["text"], "Hello");
    assert_eq!((created.created_at_ms, created.updated_at_ms), (T, T));
    assert_eq!(
        store.get_send(first.clone()).await.unwrap().as_ref(),
        Some(&created)
    );

    let sent = store
        .mark_send_sent(first.clone(), "m_out.1".into(), T + 300)
        .await
        .unwrap();
    assert_eq!(
        (sent.status, sent.message_id.as_deref(), sent.updated_at_ms),
        (SendStatus::Sent, Some("m_out.1"), T + 300)
    );
    assert_eq!(
        store.get_send(first.clone()).await.unwrap().as_ref(),
        Some(&sent)
    );
    assert_eq!(
        store
            .send_by_message_id("m_out.1".into())
            .await
            .unwrap()
            .as_ref(),
        Some(&sent)
    );
    assert_eq!(
        store.send_by_message_id("m_none".into()).await.unwrap(),
        None
    );

    store
        .create_send(new_send(&second, T - 5, "Earlier"))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .conversation_sends(KEY.into())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [second.clone(), first]);
    assert!(
        store
            .conversation_sends("page:100:8".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_send(id(3)).await.unwrap(), None);
}

async fn marks_of_unknown_sends_and_second_marks_that_differ_are_refused(fx: &Fixture) {
    let store = open(fx).await;
    let unknown = store
        .mark_send_sent(id(9), "m_x".into(), T)
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, StoreError::UnknownSend { id: i } if *i == id(9).to_string()),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("create_send"), "{unknown}");

    let (a, b) = (id(1), id(2));
    for send in [&a, &b] {
        store.create_send(new_send(send, T, "hi")).await.unwrap();
    }
    let empty = store.mark_send_sent(a.clone(), String::new(), T).await;
    assert!(
        matches!(empty, Err(StoreError::InvalidSend { .. })),
        "{empty:?}"
    );
    let sent = store
        .mark_send_sent(a.clone(), "m_1".into(), T + 1)
        .await
        .unwrap();
    // The same mark again (a retried call to the store) changes nothing, not even the time.
    let again = store
        .mark_send_sent(a.clone(), "m_1".into(), T + 2)
        .await
        .unwrap();
    assert_eq!(again, sent);
    let other_mid = store
        .mark_send_sent(a.clone(), "m_2".into(), T + 3)
        .await
        .unwrap_err();
    assert!(
        matches!(&other_mid, StoreError::SendConflict { .. }),
        "{other_mid}"
    );
    assert!(other_mid.to_string().contains("\"m_1\""), "{other_mid}");
    let failed_after = store
        .mark_send_failed(a.clone(), "timeout".into(), T + 3)
        .await
        .unwrap_err();
    assert!(
        matches!(failed_after, StoreError::SendConflict { .. }),
        "{failed_after}"
    );
    // A message id is the answer to one send.
    let taken = store
        .mark_send_sent(b.clone(), "m_1".into(), T + 4)
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::SendConflict { .. }), "{taken}");
    assert!(taken.to_string().contains(a.as_str()), "{taken}");
    assert_eq!(
        store.get_send(b.clone()).await.unwrap().unwrap().status,
        SendStatus::Pending
    );

    let failed = store
        .mark_send_failed(
            b.clone(),
            "(#551) This person isn't available".into(),
            T + 5,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            failed.status,
            failed.error.as_deref(),
            failed.message_id.as_deref()
        ),
        (
            SendStatus::Failed,
            Some("(#551) This person isn't available"),
            None
        )
    );
    let sent_after = store
        .mark_send_sent(b.clone(), "m_3".into(), T + 6)
        .await
        .unwrap_err();
    assert!(
        matches!(sent_after, StoreError::SendConflict { .. }),
        "{sent_after}"
    );
    assert_eq!(store.get_send(a).await.unwrap(), Some(sent));
    assert_eq!(store.get_send(b).await.unwrap(), Some(failed));
}

async fn a_send_recorded_again_is_the_same_send_and_an_unusable_one_is_refused(fx: &Fixture) {
    let store = open(fx).await;
    let a = id(1);
    let first = store.create_send(new_send(&a, T, "hi")).await.unwrap();
    let again = store.create_send(new_send(&a, T, "hi")).await.unwrap();
    assert_eq!(again, first);
    let other = store
        .create_send(new_send(&a, T, "something else"))
        .await
        .unwrap_err();
    assert!(matches!(other, StoreError::SendConflict { .. }), "{other}");
    assert!(other.to_string().contains("new id"), "{other}");

    let mut whatsapp = new_send(&id(2), T, "hi");
    whatsapp.object = "whatsapp_business_account".into();
    let refused = store.create_send(whatsapp).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::InvalidSend { .. }),
        "{refused}"
    );
    let mut not_an_object = new_send(&id(3), T, "hi");
    not_an_object.request = json!("hi");
    assert!(matches!(
        store.create_send(not_an_object).await,
        Err(StoreError::InvalidSend { .. })
    ));
    assert_eq!(store.get_send(id(2)).await.unwrap(), None);

    // A send to a chat-plugin guest is in the conversation its events are keyed by.
    let mut guest = new_send(&id(4), T, "hi");
    guest.recipient = Counterpart::UserRef("guest:1".into());
    let stored = store.create_send(guest).await.unwrap();
    assert_eq!(stored.conversation_key, "page:100:ref:guest:1");
    assert_eq!(stored.recipient, Counterpart::UserRef("guest:1".into()));
    store.close().await;
    assert!(matches!(
        store.create_send(new_send(&id(5), T, "hi")).await,
        Err(StoreError::Closed)
    ));
}

async fn a_send_then_its_echo_are_one_message_of_this_app(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    ingest(&store, &[inbound(T, "m_in.1", "Where is my order?")]).await;
    store
        .create_send(new_send(&send, T + 100, "On its way"))
        .await
        .unwrap();
    let pending = messages(&store).await;
    assert_eq!(pending.len(), 2);
    assert_eq!(
        shown(&pending[1]),
        (String::new(), Some("pending"), Some("this_app"), sid(&send))
    );
    assert_eq!(pending[1].text.as_deref(), Some("On its way"));
    assert_eq!(pending[1].timestamp_ms, Some(T + 100));
    let c = listed(&store).await;
    assert_eq!((c.message_count, c.unread), (2, 0));
    let preview = c.last_message.unwrap();
    assert_eq!(
        (preview.mid, preview.text.as_deref(), preview.send_id),
        (None, Some("On its way"), sid(&send))
    );

    store
        .mark_send_sent(send.clone(), "m_out.1".into(), T + 400)
        .await
        .unwrap();
    let sent = messages(&store).await;
    assert_eq!(
        shown(&sent[1]),
        ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send))
    );

    ingest(
        &store,
        &[echo(
            T + 250,
            "m_out.1",
            OTHER_APP,
            Some(send.as_str()),
            "On its way",
        )],
    )
    .await;
    let joined = messages(&store).await;
    assert_eq!(joined.len(), 2, "{joined:?}");
    assert_eq!(
        shown(&joined[1]),
        ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send))
    );
    // Now the echo's: Meta's time and the event's dedup key.
    assert_eq!(joined[1].timestamp_ms, Some(T + 250));
    assert!(!joined[1].dedup_key.is_empty());
    assert_eq!(joined[1].app_id.as_deref(), Some(OTHER_APP));
    let c = listed(&store).await;
    assert_eq!((c.message_count, c.unread), (2, 0));
    let preview = c.last_message.unwrap();
    assert_eq!(
        (preview.mid.as_deref(), preview.send_id),
        (Some("m_out.1"), sid(&send))
    );
}

async fn an_echo_before_the_send_is_marked_is_joined_by_its_metadata(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    store
        .create_send(new_send(&send, T + 100, "Sure"))
        .await
        .unwrap();
    // Meta delivers the echo before the Send API call has returned.
    ingest(
        &store,
        &[
            inbound(T, "m_in.1", "Can you help?"),
            echo(T + 200, "m_out.1", OTHER_APP, Some(send.as_str()), "Sure"),
        ],
    )
    .await;
    let before = messages(&store).await;
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(
        shown(&before[1]),
        ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send))
    );
    assert_eq!(listed(&store).await.message_count, 2);

    store
        .mark_send_sent(send.clone(), "m_out.1".into(), T + 500)
        .await
        .unwrap();
    let after = messages(&store).await;
    assert_eq!(after, before);
    assert_eq!(listed(&store).await.message_count, 2);
}

async fn an_echo_before_the_send_is_recorded_is_joined_once_it_is(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    ingest(
        &store,
        &[echo(
            T + 200,
            "m_out.1",
            OTHER_APP,
            Some(send.as_str()),
            "Sure",
        )],
    )
    .await;
    // Before the send is known, the echo is what its app id says.
    let alone = messages(&store).await;
    assert_eq!(
        shown(&alone[0]),
        ("m_out.1".into(), Some("sent"), Some("other_app"), None)
    );
    store
        .create_send(new_send(&send, T + 100, "Sure"))
        .await
        .unwrap();
    let joined = messages(&store).await;
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert_eq!(
        shown(&joined[0]),
        ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send))
    );
    let c = listed(&store).await;
    assert_eq!(c.message_count, 1);
    assert_eq!(c.last_message.unwrap().send_id, sid(&send));
}

async fn an_echo_without_metadata_is_joined_by_its_mid(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    store
        .create_send(new_send(&send, T + 100, "Sure"))
        .await
        .unwrap();
    store
        .mark_send_sent(send.clone(), "m_out.1".into(), T + 300)
        .await
        .unwrap();
    ingest(&store, &[echo(T + 200, "m_out.1", OTHER_APP, None, "Sure")]).await;
    let joined = messages(&store).await;
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert_eq!(
        shown(&joined[0]),
        ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send))
    );
    let c = listed(&store).await;
    assert_eq!(c.message_count, 1);
    assert_eq!(c.last_message.unwrap().send_id, sid(&send));
}

async fn a_failed_send_shows_failed_with_its_error(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    ingest(&store, &[inbound(T, "m_in.1", "Hello?")]).await;
    store
        .create_send(new_send(&send, T + 100, "Hi!"))
        .await
        .unwrap();
    store
        .mark_send_failed(
            send.clone(),
            "(#10) This message is sent outside of allowed window".into(),
            T + 200,
        )
        .await
        .unwrap();
    let shown_now = messages(&store).await;
    assert_eq!(shown_now.len(), 2);
    assert_eq!(
        shown(&shown_now[1]),
        (String::new(), Some("failed"), Some("this_app"), sid(&send))
    );
    assert_eq!(
        shown_now[1].send_error.as_deref(),
        Some("(#10) This message is sent outside of allowed window")
    );
    // A failed send never reached the person: their message is still unanswered.
    let c = listed(&store).await;
    assert_eq!((c.message_count, c.unread), (2, 1));
    assert_eq!(c.last_message.unwrap().send_id, sid(&send));
}

async fn receipts_set_the_status_of_a_send_whose_echo_has_not_arrived(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let (first, second, waiting) = (id(1), id(2), id(3));
    for (send, at) in [(&first, T + 100), (&second, T + 200), (&waiting, T + 300)] {
        store
            .create_send(new_send(send, at, "hello"))
            .await
            .unwrap();
    }
    for (send, mid) in [(&first, "m_out.1"), (&second, "m_out.2")] {
        store
            .mark_send_sent(send.clone(), mid.into(), T + 1_000)
            .await
            .unwrap();
    }
    ingest(&store, &[delivered(T + 2_000, &["m_out.2"])]).await;
    let status: Vec<_> = messages(&store).await.iter().map(|m| m.status).collect();
    assert_eq!(status, [Some("sent"), Some("delivered"), Some("pending")]);
    // A read watermark past every send: the sent ones are read, the pending one stays pending.
    ingest(&store, &[read(T + 3_000, T + 2_500)]).await;
    let status: Vec<_> = messages(&store).await.iter().map(|m| m.status).collect();
    assert_eq!(status, [Some("read"), Some("read"), Some("pending")]);
}

async fn an_echo_of_another_app_without_metadata_stays_other_app(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let send = id(1);
    store
        .create_send(new_send(&send, T + 100, "Ours"))
        .await
        .unwrap();
    store
        .mark_send_sent(send.clone(), "m_out.1".into(), T + 300)
        .await
        .unwrap();
    ingest(
        &store,
        &[
            echo(T + 200, "m_crm.1", OTHER_APP, None, "Theirs"),
            echo(T + 250, "m_crm.2", OTHER_APP, Some("crm:42"), "Theirs too"),
        ],
    )
    .await;
    let all = messages(&store).await;
    let view: Vec<_> = all.iter().map(shown).collect();
    assert_eq!(
        view,
        [
            ("m_out.1".into(), Some("sent"), Some("this_app"), sid(&send)),
            ("m_crm.1".into(), Some("sent"), Some("other_app"), None),
            ("m_crm.2".into(), Some("sent"), Some("other_app"), None),
        ]
    );
    assert_eq!(listed(&store).await.message_count, 3);
}

async fn the_conversation_list_counts_one_message_per_send_and_echo(fx: &Fixture) {
    let store = open_projecting(fx).await;
    let (by_metadata, by_mid, pending, failed) = (id(1), id(2), id(3), id(4));
    for (send, at) in [
        (&by_metadata, T + 100),
        (&by_mid, T + 200),
        (&pending, T + 300),
        (&failed, T + 400),
    ] {
        store.create_send(new_send(send, at, "x")).await.unwrap();
    }
    store
        .mark_send_sent(by_mid.clone(), "m_out.2".into(), T + 250)
        .await
        .unwrap();
    store
        .mark_send_failed(failed.clone(), "(#100) invalid".into(), T + 450)
        .await
        .unwrap();
    ingest(
        &store,
        &[
            inbound(T, "m_in.1", "hi"),
            echo(
                T + 150,
                "m_out.1",
                OTHER_APP,
                Some(by_metadata.as_str()),
                "x",
            ),
            echo(T + 210, "m_out.2", OTHER_APP, None, "x"),
            echo(T + 500, "m_crm.1", OTHER_APP, None, "from the CRM"),
            inbound(T + 600, "m_in.2", "thanks"),
        ],
    )
    .await;
    let all = messages(&store).await;
    let sends: Vec<_> = all.iter().filter_map(|m| m.send_id.clone()).collect();
    assert_eq!(
        sends,
        [
            by_metadata.to_string(),
            by_mid.to_string(),
            pending.to_string(),
            failed.to_string()
        ]
    );
    let c = listed(&store).await;
    assert_eq!(c.message_count, all.len() as i64);
    assert_eq!((c.message_count, c.unread), (7, 1));
    let preview = c.last_message.unwrap();
    assert_eq!(
        (preview.mid.as_deref(), preview.send_id),
        (Some("m_in.2"), None)
    );
}

async fn a_send_and_its_echo_show_the_same_in_every_order(fx: &Fixture) {
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Create,
        Mark,
        Echo,
        Receipt,
    }
    let send = id(1);
    let bodies = |step: Step| match step {
        Step::Echo => vec![echo(
            T + 200,
            "m_out.1",
            OTHER_APP,
            Some(send.as_str()),
            "On its way",
        )],
        Step::Receipt => vec![delivered(T + 900, &["m_out.1"])],
        Step::Create | Step::Mark => Vec::new(),
    };
    let orders = [
        [Step::Create, Step::Mark, Step::Echo, Step::Receipt],
        [Step::Create, Step::Echo, Step::Mark, Step::Receipt],
        [Step::Echo, Step::Create, Step::Mark, Step::Receipt],
        [Step::Receipt, Step::Create, Step::Mark, Step::Echo],
        [Step::Create, Step::Mark, Step::Receipt, Step::Echo],
        [Step::Receipt, Step::Echo, Step::Create, Step::Mark],
    ];
    let mut shown_by_order = Vec::new();
    for order in orders {
        let fx = match fx.schema() {
            None => Fixture::sqlite(),
            Some(_) => Fixture::postgres("one store per order").unwrap(),
        };
        let store = open_projecting(&fx).await;
        ingest(&store, &[inbound(T, "m_in.1", "Where is my order?")]).await;
        for step in order {
            match step {
                Step::Create => {
                    store
                        .create_send(new_send(&send, T + 100, "On its way"))
                        .await
                        .unwrap();
                }
                Step::Mark => {
                    store
                        .mark_send_sent(send.clone(), "m_out.1".into(), T + 300)
                        .await
                        .unwrap();
                }
                Step::Echo | Step::Receipt => ingest(&store, &bodies(step)).await,
            }
        }
        let messages = serde_json::to_value(messages(&store).await).unwrap();
        let conversation = serde_json::to_value(listed(&store).await).unwrap();
        shown_by_order.push((format!("{order:?}"), messages, conversation));
        store.close().await;
    }
    let (_, first_messages, first_conversation) = &shown_by_order[0];
    assert_eq!(first_messages.as_array().unwrap().len(), 2);
    assert_eq!(first_messages[1]["send_id"], send.as_str());
    assert_eq!(first_messages[1]["status"], "delivered");
    assert_eq!(first_messages[1]["echo_source"], "this_app");
    assert_eq!(first_conversation["message_count"], 2);
    for (order, messages, conversation) in &shown_by_order[1..] {
        assert_eq!(messages, first_messages, "{order}");
        assert_eq!(conversation, first_conversation, "{order}");
    }
}

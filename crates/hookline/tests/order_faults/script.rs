//! One conversation-rich set of deliveries, drawn from a seed: Messenger and Instagram threads with
//! messages in and out (echoes from this app, the Page inbox and another app), attachments, quick
//! replies, replies, reactions (react, unreact, react again), edits, deletions, delivery and read
//! receipts with watermarks, Instagram reads by mid, postbacks, referrals, handovers and standby
//! messages, built from the `hookline-meta` fixtures; plus every fixture as it is.
//!
//! Times are skewed the way Meta and the clocks around it skew them: milliseconds, seconds, numeric
//! strings and fractional seconds; some in the future or the far past of the server's clock; entries
//! whose `time` disagrees with their events' `timestamp` (or is missing, or is all an event has).
//!
//! The set is listed in event-time order ([`Set::in_order`]); [`Set::shuffled`] is the same events in
//! another order, with deliveries repeated and some split into one-item deliveries (a partial
//! redelivery), each item keeping the entry time it travelled with.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::rng::Rng;

const PAGE: &str = "104938475610293";
const IG: &str = "17841412345678901";
/// The app the servers are told is theirs (`--app-id`), so its echoes are `this_app`.
pub const OWN_APP: &str = "1517776481860111";
const PAGE_INBOX_APP: &str = "263902037430900";
const OTHER_APP: &str = "2203418761230987";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const YEAR_MS: i64 = 365 * DAY_MS;

/// A delivery: its body, and the same events as one-item deliveries.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub body: Vec<u8>,
    parts: Vec<Vec<u8>>,
}

#[derive(Debug)]
pub struct Set {
    deliveries: Vec<Delivery>,
    /// Conversations scripted here (the fixtures add their own).
    pub scripted: usize,
}

impl Set {
    pub fn in_order(&self) -> Vec<Vec<u8>> {
        self.deliveries.iter().map(|d| d.body.clone()).collect()
    }

    /// Every delivery once or more (or split into its items, at least once each), in a random order.
    pub fn shuffled(&self, rng: &mut Rng) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for delivery in &self.deliveries {
            let copies = match rng.below(20) {
                0..=11 => 1,
                12..=16 => 2,
                _ => 3,
            };
            let split = delivery.parts.len() > 1 && rng.one_in(4);
            if split {
                out.extend(delivery.parts.iter().cloned());
                if rng.one_in(2) {
                    out.push(delivery.body.clone());
                }
            } else {
                out.extend(std::iter::repeat_n(delivery.body.clone(), copies));
            }
        }
        for i in (1..out.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).unwrap();
            out.swap(i, j);
        }
        // Now and then a copy right behind its original: the clients post the two at the same time.
        let mut paired = Vec::with_capacity(out.len() * 11 / 10);
        for body in out {
            if rng.one_in(10) {
                paired.push(body.clone());
            }
            paired.push(body);
        }
        paired
    }
}

/// An item of a `messaging` or `standby` array, with where it travels and when it happened.
#[derive(Clone, Debug)]
struct Item {
    object: &'static str,
    account: &'static str,
    array: &'static str,
    /// Its time before skew: the order the in-order server gets it in.
    order: i64,
    json: Value,
}

/// Draws the set for one seed.
pub fn build(rng: &mut Rng) -> Set {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // Threads from the fixtures' era (January 2026), from around the server's clock, and older.
    let eras = [1_767_610_000_000, now - 3_600_000, 1_560_000_000_000];
    let mut items = Vec::new();
    let mut scripted = 0;
    for c in 0..4 {
        let base = eras[c % eras.len()] + i64::try_from(rng.below(600_000)).unwrap();
        items.extend(messenger(rng, c, base, now));
        scripted += 1;
    }
    for c in 0..3 {
        let base = eras[(c + 1) % eras.len()] + i64::try_from(rng.below(600_000)).unwrap();
        items.extend(instagram(rng, c, base, now));
        scripted += 1;
    }
    items.sort_by_key(|item| item.order);
    let mut deliveries = batch(rng, &items);
    deliveries.extend(fixtures());
    Set {
        deliveries,
        scripted,
    }
}

/// The first item of a fixture's first entry, to build variants of.
fn template(name: &str) -> Value {
    let body: Value = serde_json::from_slice(&crate::support::fixture(name)).unwrap();
    let entry = &body["entry"][0];
    let array = ["messaging", "standby"]
        .into_iter()
        .find(|a| entry.get(*a).is_some())
        .unwrap_or_else(|| panic!("fixture {name} has no messaging or standby array"));
    entry[array][0].clone()
}

/// Sets the value at `pointer`, creating the last key if needed.
fn put(value: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut *value
    } else {
        value
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("the template has no {parent}"))
    };
    target[key] = new;
}

/// A time as Meta may send it: milliseconds, seconds, either as a string, or fractional seconds.
fn time_value(rng: &mut Rng, ms: i64) -> Value {
    match rng.below(8) {
        0..=3 => json!(ms),
        4 => json!(ms / 1000),
        5 => json!(ms.to_string()),
        6 => json!((ms / 1000).to_string()),
        _ => json!(ms as f64 / 1000.0),
    }
}

/// Now and then a time far from the thread's: years ahead of the server's clock, or years back.
fn skew(rng: &mut Rng, ms: i64, now: i64) -> i64 {
    match rng.below(12) {
        0 => now + YEAR_MS + i64::try_from(rng.below(4 * YEAR_MS as u64)).unwrap(),
        1 => 1_300_000_000_000 + i64::try_from(rng.below(YEAR_MS as u64)).unwrap(),
        _ => ms,
    }
}

/// Builds the items of one thread from (fixture, edit) steps, a few seconds apart.
struct Thread<'r> {
    rng: &'r mut Rng,
    object: &'static str,
    account: &'static str,
    user: String,
    at: i64,
    now: i64,
    items: Vec<Item>,
}

impl Thread<'_> {
    /// The next step's time (before skew).
    fn tick(&mut self) -> i64 {
        self.at += 500 + i64::try_from(self.rng.below(4000)).unwrap();
        // Two events in the same millisecond now and then: ties are broken by dedup key.
        if self.rng.one_in(10) {
            self.at -= self.at % 1000;
        }
        self.at
    }

    /// Adds a step from `fixture`, from the user (`inbound`) or the account, changed by `edit`.
    fn step(&mut self, fixture: &str, inbound: bool, edit: impl FnOnce(&mut Value, &mut Rng)) {
        let order = self.tick();
        let mut json = template(fixture);
        let (from, to) = if inbound {
            (self.user.clone(), self.account.to_owned())
        } else {
            (self.account.to_owned(), self.user.clone())
        };
        put(&mut json, "/sender/id", json!(from));
        put(&mut json, "/recipient/id", json!(to));
        let at = skew(self.rng, order, self.now);
        if self.rng.one_in(12) {
            // The event's own time is missing: its entry's `time` is all it has.
            json.as_object_mut().unwrap().remove("timestamp");
        } else {
            let value = time_value(self.rng, at);
            put(&mut json, "/timestamp", value);
        }
        edit(&mut json, self.rng);
        let array = if fixture.contains("standby") {
            "standby"
        } else {
            "messaging"
        };
        self.items.push(Item {
            object: self.object,
            account: self.account,
            array,
            order,
            json,
        });
    }

    /// The time the last step's event carries, in ms (for watermarks that should reach it).
    fn last_ms(&self) -> i64 {
        self.items.last().map_or(self.at, |i| i.order)
    }
}

fn messenger(rng: &mut Rng, c: usize, base: i64, now: i64) -> Vec<Item> {
    let mut t = Thread {
        rng,
        object: "page",
        account: PAGE,
        user: format!("91000000000000{c:02}"),
        at: base,
        now,
        items: Vec::new(),
    };
    let mid = |n: u32| format!("m_order_{c}_{n}");
    t.step("m39_referral_shortlink.json", true, |_, _| {});
    t.step("m01_message_text.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(1)));
    });
    t.step("m04_message_attachment_image.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(2)));
    });
    t.step("m21_echo_text.json", false, |j, rng| {
        put(j, "/message/mid", json!(mid(3)));
        let app = [OWN_APP, PAGE_INBOX_APP, OTHER_APP][rng.below(3) as usize];
        put(j, "/message/app_id", json!(app.parse::<u64>().unwrap()));
    });
    let echoed = t.last_ms();
    t.step("m30_delivery.json", true, |j, rng| {
        put(j, "/delivery/mids", json!([mid(3)]));
        put(j, "/delivery/watermark", time_value(rng, echoed));
    });
    t.step("m56_reaction_react.json", true, |j, _| {
        put(j, "/reaction/mid", json!(mid(3)));
    });
    t.step("m02_message_quick_reply.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(4)));
    });
    t.step("m03_message_reply_to.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(5)));
        put(j, "/message/reply_to/mid", json!(mid(3)));
    });
    for n in 1..=2 {
        t.step("m58_message_edit.json", true, |j, _| {
            put(j, "/message_edit/mid", json!(mid(5)));
            put(j, "/message_edit/num_edit", json!(n));
            put(
                j,
                "/message_edit/text",
                json!(format!("edit {n} of thread {c}")),
            );
        });
    }
    t.step("m57_reaction_unreact.json", true, |j, _| {
        put(j, "/reaction/mid", json!(mid(3)));
    });
    t.step("m56_reaction_react.json", true, |j, _| {
        put(j, "/reaction/mid", json!(mid(3)));
        put(j, "/reaction/reaction", json!("wow"));
        put(j, "/reaction/emoji", json!("\u{1f62e}"));
    });
    t.step("m32_postback.json", true, |j, _| {
        put(j, "/postback/mid", json!(mid(6)));
    });
    t.step("m46_handover_request_thread_control.json", true, |_, _| {});
    t.step("m44_handover_pass_thread_control.json", true, |_, _| {});
    t.step("m48_standby_message.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(7)));
    });
    t.step("m45_handover_take_thread_control.json", true, |_, _| {});
    t.step("m21_echo_text.json", false, |j, _| {
        put(j, "/message/mid", json!(mid(8)));
        put(j, "/message/text", json!("Anything else?"));
    });
    let second_echo = t.last_ms();
    t.step("m01_message_text.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(9)));
        put(j, "/message/is_deleted", json!(true));
        j["message"].as_object_mut().unwrap().remove("text");
    });
    t.step("m31_read.json", true, |j, rng| {
        put(j, "/read/watermark", time_value(rng, second_echo));
    });
    t.step("m01_message_text.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(10)));
        put(j, "/message/text", json!("Thanks, bye"));
    });
    // After the last read: one answer delivered (by mid, without a watermark), one only sent.
    t.step("m21_echo_text.json", false, |j, _| {
        put(j, "/message/mid", json!(mid(11)));
        put(j, "/message/text", json!("Bye!"));
    });
    t.step("m30_delivery.json", true, |j, _| {
        put(j, "/delivery/mids", json!([mid(11)]));
        j["delivery"].as_object_mut().unwrap().remove("watermark");
    });
    t.step("m22_echo_attachment_image.json", false, |j, _| {
        put(j, "/message/mid", json!(mid(12)));
    });
    t.items
}

fn instagram(rng: &mut Rng, c: usize, base: i64, now: i64) -> Vec<Item> {
    let mut t = Thread {
        rng,
        object: "instagram",
        account: IG,
        user: format!("68000000000000{c:02}"),
        at: base,
        now,
        items: Vec::new(),
    };
    let mid = |n: u32| format!("aWdfZAG1_order_{c}_{n}");
    t.step("ig01_message_text.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(1)));
    });
    t.step("ig13_message_echo.json", false, |j, _| {
        put(j, "/message/mid", json!(mid(2)));
    });
    t.step("ig20_reaction_react.json", true, |j, _| {
        put(j, "/reaction/mid", json!(mid(2)));
    });
    t.step("ig25_seen.json", true, |j, _| {
        put(j, "/read/mid", json!(mid(2)));
    });
    t.step("ig15_message_reply_to_mid.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(3)));
        put(j, "/message/reply_to/mid", json!(mid(2)));
    });
    t.step("ig30_message_edit.json", true, |j, _| {
        put(j, "/message_edit/mid", json!(mid(3)));
    });
    t.step("ig21_reaction_unreact.json", true, |j, _| {
        put(j, "/reaction/mid", json!(mid(2)));
    });
    t.step("ig22_postback_icebreaker.json", true, |j, _| {
        put(j, "/postback/mid", json!(mid(4)));
    });
    t.step("ig13_message_echo.json", false, |j, _| {
        put(j, "/message/mid", json!(mid(5)));
        put(j, "/message/text", json!("Which size?"));
    });
    t.step("ig26_handover_pass_thread_control.json", true, |_, _| {});
    t.step("ig12_message_deleted.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(3)));
    });
    t.step("ig01_message_text.json", true, |j, _| {
        put(j, "/message/mid", json!(mid(6)));
        put(j, "/message/text", json!("M please"));
    });
    t.items
}

/// Groups consecutive items of one account and array into entries (1-3 items), and entries of one
/// object into deliveries (1-2 entries); each entry gets a `time` that may disagree with its items'.
fn batch(rng: &mut Rng, items: &[Item]) -> Vec<Delivery> {
    let mut entries: Vec<(&Item, Vec<&Item>)> = Vec::new();
    for item in items {
        let joins = entries.last().is_some_and(|(first, members)| {
            first.account == item.account && first.array == item.array && members.len() < 3
        }) && !rng.one_in(3);
        match entries.last_mut() {
            Some((_, members)) if joins => members.push(item),
            _ => entries.push((item, vec![item])),
        }
    }
    let entries: Vec<(&Item, Value)> = entries
        .into_iter()
        .map(|(first, members)| {
            let mut entry = json!({ "id": first.account });
            match rng.below(6) {
                // The usual: a little after its events.
                0..=2 => entry["time"] = json!(first.order + 300),
                // Hours off, in any form.
                3 | 4 => {
                    let off = i64::try_from(rng.below(2 * DAY_MS as u64)).unwrap() - DAY_MS;
                    entry["time"] = time_value(rng, first.order + off);
                }
                // No entry time at all.
                _ => {}
            }
            let jsons: Vec<Value> = members.iter().map(|m| m.json.clone()).collect();
            entry[first.array] = Value::Array(jsons);
            (first, entry)
        })
        .collect();
    let mut deliveries = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let object = entries[i].0.object;
        let mut group = vec![entries[i].1.clone()];
        i += 1;
        if i < entries.len() && entries[i].0.object == object && rng.one_in(3) {
            group.push(entries[i].1.clone());
            i += 1;
        }
        deliveries.push(delivery(object, &group));
    }
    deliveries
}

/// A delivery of `entries`, and each of their items alone in an entry with the same id and time.
fn delivery(object: &str, entries: &[Value]) -> Delivery {
    let body = json!({ "object": object, "entry": entries });
    let mut parts = Vec::new();
    for entry in entries {
        for array in ["messaging", "standby"] {
            for item in entry
                .get(array)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut alone = entry.clone();
                alone[array] = json!([item]);
                parts.push(
                    serde_json::to_vec(&json!({ "object": object, "entry": [alone] })).unwrap(),
                );
            }
        }
    }
    Delivery {
        body: serde_json::to_vec(&body).unwrap(),
        parts,
    }
}

/// Every fixture of `hookline-meta`, as its file's bytes (deliveries as Meta and its dashboard send
/// them, of every kind).
fn fixtures() -> Vec<Delivery> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
    let mut paths = Vec::new();
    for dir in [root.clone(), root.join("extra")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| Delivery {
            body: std::fs::read(path).unwrap(),
            parts: Vec::new(),
        })
        .collect()
}

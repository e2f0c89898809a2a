//! Turning a template's patchable values into markers, and finding them again in the encoded body.
//!
//! Each value a delivery must change (ids, times, mids) is replaced in the JSON tree by a marker string
//! naming its slot. After overrides are applied and the body is encoded once, [`locate`] swaps every marker
//! for the slot's first value and records the byte offsets, so rendering later only overwrites bytes. A
//! marker standing for a whole number is a whole string (`"~~hln3~~"`) and loses its quotes; a marker
//! inside a string (`~~hls3~~`) keeps them. Markers are ASCII that the wire form does not escape.

use fastrand::Rng;
use serde_json::{Map, Value};

use crate::fresh;
use crate::shape::Shape;
use crate::slot::{DIGITS_MAX, Fill, Slot, TOKEN_LEN};
use crate::timefield;

/// The start of every marker. User input containing it is refused.
pub(crate) const MARKER: &str = "~~hl";

/// What a slot stands for, which decides whether rendering rewrites it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The Page / Instagram account id.
    Account,
    /// The user id or user_ref.
    User,
    /// A mid, call id, comment or media id: fresh for every event.
    Content,
    /// A time.
    Time,
}

/// A slot as first marked: its role, fill and the text it starts with.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub event: u32,
    pub role: Role,
    pub fill: Fill,
    pub initial: String,
}

/// The ids a delivery uses for the account and the user.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub account: String,
    pub user: Option<String>,
}

/// Marks one entry (a copy of the template's) as event `event` of the body, adding its slots to `marks`.
pub(crate) fn entry(
    entry: &mut Map<String, Value>,
    shape: &Shape,
    ids: &Ids,
    event: u32,
    marks: &mut Vec<Mark>,
    rng: &mut Rng,
) {
    let mut add = |role, fill, initial: String| {
        marks.push(Mark {
            event,
            role,
            fill,
            initial,
        });
        marks.len() - 1
    };
    let item = Shape::event(entry, shape.channel);
    content(item, shape.channel, &ids.account, rng, &mut add);
    let mut whole = Value::Object(std::mem::take(entry));
    times(&mut whole, shape.anchor_ms, &mut add);
    let slot = add(
        Role::Account,
        digits_fill(&ids.account),
        ids.account.clone(),
    );
    replace_id(&mut whole, &shape.account, slot);
    if let (Some(old), Some(new)) = (&shape.user, &ids.user) {
        let slot = add(Role::User, digits_fill(new), new.clone());
        replace_id(&mut whole, old.as_str(), slot);
    }
    let Value::Object(marked) = whole else {
        unreachable!("an entry stays an object")
    };
    *entry = marked;
}

/// The digits of an id that can vary: all but its first, at most [`DIGITS_MAX`].
fn digits_fill(id: &str) -> Fill {
    let width = id.len().saturating_sub(1).min(DIGITS_MAX);
    Fill::Digits { width: width as u8 }
}

/// Mids everywhere in the event; the id of a call; the comment, media and mention ids of a change.
fn content(
    event: &mut Value,
    channel: &str,
    account: &str,
    rng: &mut Rng,
    add: &mut impl FnMut(Role, Fill, String) -> usize,
) {
    mids(event, account, rng, add);
    match channel {
        "calls" => {
            if let Some(id) = event.get_mut("id") {
                token(id, account, rng, add);
            }
        }
        "changes" => {
            let Some(value) = event.get_mut("value").and_then(Value::as_object_mut) else {
                return;
            };
            for key in ["id", "media_id", "comment_id"] {
                let Some(id) = value.get_mut(key) else {
                    continue;
                };
                let Some(text) = crate::shape::string(Some(id)).filter(|t| t.len() > 1) else {
                    continue;
                };
                let slot = add(Role::Content, digits_fill(&text), text);
                *id = marker(id, slot);
            }
        }
        _ => {}
    }
}

fn mids(
    value: &mut Value,
    account: &str,
    rng: &mut Rng,
    add: &mut impl FnMut(Role, Fill, String) -> usize,
) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                match (name.as_str(), member) {
                    ("mid", mid @ Value::String(_)) => token(mid, account, rng, add),
                    ("mids", Value::Array(list)) => list
                        .iter_mut()
                        .for_each(|mid| token(mid, account, rng, add)),
                    (_, other) => mids(other, account, rng, add),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| mids(item, account, rng, add)),
        _ => {}
    }
}

/// Replaces a string id by a fresh one of the same shape, whose tail is a slot.
fn token(
    id: &mut Value,
    account: &str,
    rng: &mut Rng,
    add: &mut impl FnMut(Role, Fill, String) -> usize,
) {
    let Value::String(old) = id else { return };
    if old.len() < TOKEN_LEN + 2 {
        return;
    }
    let slot = add(
        Role::Content,
        Fill::Token,
        fresh::id_like(old, account, rng),
    );
    *old = inner(slot);
}

/// Every time member in the entry, relative to the template's anchor time.
fn times(value: &mut Value, anchor_ms: i64, add: &mut impl FnMut(Role, Fill, String) -> usize) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                match timefield::ms(member) {
                    Some(ms) if timefield::is_time_key(name) => {
                        let fill = Fill::Time {
                            delta_ms: ms - anchor_ms,
                            seconds: timefield::is_seconds(member),
                        };
                        let initial = crate::shape::string(Some(member)).unwrap_or_default();
                        let slot = add(Role::Time, fill, initial);
                        *member = marker(member, slot);
                    }
                    _ => times(member, anchor_ms, add),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| times(item, anchor_ms, add)),
        _ => {}
    }
}

/// Replaces every occurrence of the id `old` (whole strings, whole numbers, and inside strings such as
/// `<page>_<post>` ids and URLs) by the slot's marker. Object member names are left alone.
fn replace_id(value: &mut Value, old: &str, slot: usize) {
    match value {
        Value::String(text) if text.contains(old) => *text = text.replace(old, &inner(slot)),
        Value::Number(number) if number.to_string() == old => *value = Value::String(bare(slot)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_id(item, old, slot)),
        Value::Object(members) => members
            .values_mut()
            .for_each(|member| replace_id(member, old, slot)),
        _ => {}
    }
}

/// The marker for `slot` in place of `value`: bare for numbers, inside quotes for strings.
fn marker(value: &Value, slot: usize) -> Value {
    Value::String(match value {
        Value::Number(_) => bare(slot),
        _ => inner(slot),
    })
}

fn inner(slot: usize) -> String {
    format!("{MARKER}s{slot}~~")
}

fn bare(slot: usize) -> String {
    format!("{MARKER}n{slot}~~")
}

/// Swaps the markers in an encoded body for their slots' first values. Returns the body and the slots that
/// occur in it (a slot whose marker an override replaced is gone), with the offsets of their fills.
pub(crate) fn locate(encoded: &[u8], marks: &[Mark]) -> (Vec<u8>, Vec<(Role, Slot)>) {
    let mut body = Vec::with_capacity(encoded.len() + marks.len() * 32);
    let mut at: Vec<Vec<u32>> = vec![Vec::new(); marks.len()];
    let mut i = 0;
    while i < encoded.len() {
        let quoted = encoded[i] == b'"' && encoded[i + 1..].starts_with(MARKER.as_bytes());
        let start = if quoted { i + 1 } else { i };
        let Some((slot, kind, end)) = read_marker(encoded, start) else {
            body.push(encoded[i]);
            i += 1;
            continue;
        };
        if quoted && kind == b's' {
            // A string that is wholly a marker keeps its quotes: copy the quote and read the marker next.
            body.push(b'"');
            i += 1;
            continue;
        }
        let mark = &marks[slot];
        let offset = body.len() + mark.initial.len() - mark.fill.width();
        at[slot].push(u32::try_from(offset).expect("bodies are far below 4 GiB"));
        body.extend_from_slice(mark.initial.as_bytes());
        // A bare marker replaces its quotes too.
        i = if kind == b'n' { end + 1 } else { end };
    }
    let slots = marks
        .iter()
        .zip(at)
        .filter(|(_, at)| !at.is_empty())
        .map(|(mark, at)| {
            (
                mark.role,
                Slot {
                    event: mark.event,
                    fill: mark.fill,
                    at,
                },
            )
        })
        .collect();
    (body, slots)
}

/// Reads `~~hl{n|s}<index>~~` at `start`: the index, the kind byte and the offset just past the marker.
fn read_marker(bytes: &[u8], start: usize) -> Option<(usize, u8, usize)> {
    let rest = bytes.get(start..)?.strip_prefix(MARKER.as_bytes())?;
    let (&kind, rest) = rest.split_first()?;
    if kind != b'n' && kind != b's' {
        return None;
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let index: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    rest[digits..].starts_with(b"~~").then_some((
        index,
        kind,
        start + MARKER.len() + 1 + digits + 2,
    ))
}

//! The body envelope: `object`, `entry[]` and the arrays inside each entry, down to one raw JSON value per
//! event.
//!
//! Two paths produce the same [`Envelope`]. The fast path ([`scan`]) walks a body shaped the way Meta sends
//! it with a small structural scanner that only finds where each value starts and ends; it validates the
//! envelope's own punctuation, and every span it hands out is validated by the typed read that follows (the
//! caller falls back when one is not JSON). Messaging and standby events, nearly all of a body, are not
//! scanned at all: their typed read happens where they are found and tells where they end, so their bytes
//! are read once. That is what keeps a typed parse near one pass over the body.
//!
//! Anything the scanner does not expect (an escaped key, a key beside `object` and `entry`, an entry that is
//! not an object, `messaging` that is not an array, a repeated id...) sends the body to the slow path
//! ([`read`]), which re-reads it member by member with serde_json, tolerating every such shape, so that
//! nothing in a valid JSON body is lost or fails the delivery, and invalid JSON is reported with its position.

use serde_json::value::RawValue;

use crate::event::{Channel, EventKind, Unknown};
use crate::id::Id;
use crate::json::{array_items, is_valid, lenient, member, object_fields, type_name};
use crate::messaging::{self, Wire};
use crate::raw::RawJson;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// What the envelope yields before events are decoded. Raw pieces are slices of the body.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    pub object: Option<Text<'a>>,
    pub entries: Vec<RawEntry<'a>>,
    /// Every raw event of every entry's arrays, in body order: one list for the whole body, so a batch of
    /// entries costs no allocation per entry.
    pub items: Vec<Item<'a>>,
    /// A bare `{"field", "value"}` body: the whole body is one change-or-messaging item.
    pub bare: Option<&'a str>,
    /// Events for parts of the body that are not shaped like a delivery at all.
    pub anomalies: Vec<Anomaly<'a>>,
}

/// One entry: its id and time, and what in it cannot be an event.
#[derive(Debug, Default)]
pub(crate) struct RawEntry<'a> {
    pub id: Option<Id<'a>>,
    pub time: Option<Timestamp<'a>>,
    pub hop_context: Option<RawJson<'a>>,
    pub anomalies: Vec<Anomaly<'a>>,
}

/// One raw event: the entry it belongs to (an index into `entries`), the array it came from, its JSON.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub entry: usize,
    pub channel: Channel<'a>,
    pub raw: &'a str,
    /// A messaging or standby event the scanner has already read (see [`messaging::read_leading`]). Boxed:
    /// it is large, and moved with the item a few times before it becomes an event.
    pub read: Option<Box<Wire<'a>>>,
}

impl<'a> Item<'a> {
    fn new(entry: usize, channel: Channel<'a>, raw: &'a str) -> Self {
        Item {
            entry,
            channel,
            raw,
            read: None,
        }
    }
}

/// A piece of the body that cannot be an event of a known array, reported as an `unknown` event.
#[derive(Debug)]
pub(crate) struct Anomaly<'a> {
    pub channel: Channel<'a>,
    pub field: Option<String>,
    pub reason: String,
    pub raw: &'a str,
}

impl<'a> Anomaly<'a> {
    /// The `unknown` kind that reports it.
    pub(crate) fn kind(&self) -> EventKind<'a> {
        EventKind::Unknown(Unknown {
            field: self.field.clone(),
            reason: self.reason.clone(),
        })
    }
}

fn known_channel(name: &str) -> Option<Channel<'static>> {
    match name {
        "messaging" => Some(Channel::Messaging),
        "standby" => Some(Channel::Standby),
        "changes" => Some(Channel::Changes),
        "calls" => Some(Channel::Calls),
        _ => None,
    }
}

/// The fast path: `None` when the body is not shaped like a regular delivery. Items of `changes` and `calls`,
/// and messaging or standby items that their typed read could not read, are NOT validated here; everything
/// else is.
pub(crate) fn scan(text: &str) -> Option<Envelope<'_>> {
    let mut scanner = Scanner { text, at: 0 };
    // Room for a typical delivery (one entry, a few events) from the start: growing an empty vector costs
    // more than allocating it at a size.
    let mut envelope = Envelope {
        entries: Vec::with_capacity(1),
        items: Vec::with_capacity(4),
        ..Envelope::default()
    };
    let (mut saw_object, mut saw_entry) = (false, false);
    scanner.open(b'{')?;
    loop {
        let key = scanner.key()?;
        match key {
            "object" if !saw_object => {
                saw_object = true;
                envelope.object = plain_text(scanner.value()?)?;
            }
            "entry" if !saw_entry => {
                saw_entry = true;
                scanner.open(b'[')?;
                if !scanner.close(b']') {
                    loop {
                        let index = envelope.entries.len();
                        envelope
                            .entries
                            .push(scanner.entry(index, &mut envelope.items)?);
                        if scanner.next_or_close(b']')? {
                            break;
                        }
                    }
                }
            }
            _ => return None,
        }
        if scanner.next_or_close(b'}')? {
            break;
        }
    }
    (saw_entry && scanner.at_end()).then_some(envelope)
}

/// The bytes that end the scan of a member name: `"`, `\\` and the control characters.
const ENDS_KEY: [bool; 256] = {
    let mut ends = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        ends[byte] = true;
        byte += 1;
    }
    ends[b'"' as usize] = true;
    ends[b'\\' as usize] = true;
    ends
};

/// A cursor over the body's bytes. Every method returns `None` on anything unexpected.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.at).copied()
    }

    fn open(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Consumes `byte` if it is next (an empty object or array).
    fn close(&mut self, byte: u8) -> bool {
        self.open(byte).is_some()
    }

    /// After a member or item: `,` (more follow, false) or the closing byte (done, true).
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Some(false)
            }
            byte if byte == close => {
                self.at += 1;
                Some(true)
            }
            _ => None,
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.at == self.text.len()
    }

    /// A member name and its colon. Escaped names are left to the slow path.
    fn key(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        // Keys are a few bytes long: a byte loop beats setting up `memchr` for each. It stops at the closing
        // quote, a backslash, or a raw control character (not JSON; serde_json reports it on the slow path).
        let len = self.bytes()[start..]
            .iter()
            .position(|&b| ENDS_KEY[usize::from(b)])?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        let key = self.text.get(start..start + len)?;
        self.open(b':')?;
        Some(key)
    }

    /// The span of the next value, found without validating it.
    fn value(&mut self) -> Option<&'a str> {
        let start = {
            self.skip_ws();
            self.at
        };
        match *self.bytes().get(start)? {
            b'"' => self.skip_string()?,
            b'{' | b'[' => self.skip_nested()?,
            _ => {
                let rest = &self.bytes()[start..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    return None;
                }
                self.at = start + len;
            }
        }
        // `get` also refuses a span that would end inside a multi-byte character (only in invalid JSON).
        self.text.get(start..self.at)
    }

    /// Skips a string. Wire-form strings are full of `\/` and `\u` escapes but rarely hold an escaped
    /// quote, so the scan jumps from quote to quote and only then counts the backslashes before it.
    fn skip_string(&mut self) -> Option<()> {
        self.at += 1;
        let bytes = self.bytes();
        loop {
            let len = memchr::memchr(b'"', bytes.get(self.at..)?)?;
            let quote = self.at + len;
            let backslashes = bytes[self.at..quote]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            self.at = quote + 1;
            if backslashes % 2 == 0 {
                return Some(());
            }
        }
    }

    fn skip_nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.bytes().get(self.at)? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }

    /// The items of an array value, as spans, added to `items`.
    fn items(
        &mut self,
        entry: usize,
        channel: Channel<'a>,
        items: &mut Vec<Item<'a>>,
    ) -> Option<()> {
        self.open(b'[')?;
        if self.close(b']') {
            return Some(());
        }
        let is_messaging = matches!(channel, Channel::Messaging | Channel::Standby);
        loop {
            let item = if is_messaging {
                self.messaging_item(entry, channel.clone())?
            } else {
                Item::new(entry, channel.clone(), self.value()?)
            };
            items.push(item);
            if self.next_or_close(b']')? {
                return Some(());
            }
        }
    }

    /// A messaging event, read as it is found: the typed read also finds the event's end. An event it cannot
    /// read is only delimited here, and read again later, on its own, to say why.
    fn messaging_item(&mut self, entry: usize, channel: Channel<'a>) -> Option<Item<'a>> {
        self.skip_ws();
        let start = self.at;
        let Some((wire, len)) = messaging::read_leading(&self.text[start..]) else {
            return Some(Item::new(entry, channel, self.value()?));
        };
        self.at = start + len;
        Some(Item {
            read: Some(wire),
            ..Item::new(entry, channel, self.text.get(start..self.at)?)
        })
    }

    fn entry(&mut self, index: usize, items: &mut Vec<Item<'a>>) -> Option<RawEntry<'a>> {
        let mut entry = RawEntry::default();
        self.open(b'{')?;
        if self.close(b'}') {
            return Some(entry);
        }
        loop {
            let key = self.key()?;
            match key {
                "id" if entry.id.is_none() => entry.id = plain_id(self.value()?)?,
                "time" if entry.time.is_none() => entry.time = plain_time(self.value()?)?,
                "id" | "time" => return None,
                "hop_context" => entry.hop_context = Some(RawJson::new(self.valid_value()?)),
                name => match known_channel(name) {
                    Some(channel) => self.items(index, channel, items)?,
                    None if self.peek()? == b'[' => {
                        let first = items.len();
                        self.items(index, Channel::Other(Text::new(key)), items)?;
                        items[first..]
                            .iter()
                            .all(|item| is_valid(item.raw))
                            .then_some(())?;
                    }
                    None => {
                        self.valid_value()?;
                    }
                },
            }
            if self.next_or_close(b'}')? {
                return Some(entry);
            }
        }
    }

    fn valid_value(&mut self) -> Option<&'a str> {
        let value = self.value()?;
        is_valid(value).then_some(value)
    }
}

/// A string of plain characters is a slice of the body; anything else (escapes, control characters, other
/// types) goes through serde_json, which also rejects what is not JSON.
fn plain_text(span: &str) -> Option<Option<Text<'_>>> {
    match quoted(span) {
        Some(inner) if inner.bytes().all(|b| b >= 0x20 && b != b'\\' && b != b'"') => {
            Some(Some(Text::new(inner)))
        }
        _ => serde_json::from_str(span).ok(),
    }
}

/// Ids are decimal digits, as a string or as a JSON integer.
fn plain_id(span: &str) -> Option<Option<Id<'_>>> {
    let digits = match quoted(span) {
        Some(inner) => inner,
        None if is_json_integer(span) => span,
        None => "",
    };
    if !digits.is_empty() && digits.len() < 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Some(Id::new(digits)));
    }
    serde_json::from_str(span).ok()
}

/// Entry times are JSON integers.
fn plain_time(span: &str) -> Option<Option<Timestamp<'_>>> {
    match span.parse::<i64>() {
        Ok(value) if is_json_integer(span) => Some(Some(Timestamp::from_int(value))),
        _ => serde_json::from_str(span).ok(),
    }
}

fn quoted(span: &str) -> Option<&str> {
    span.strip_prefix('"')?.strip_suffix('"')
}

/// `-?(0|[1-9][0-9]*)`: an integer as JSON writes it (no `+`, no leading zeros).
fn is_json_integer(span: &str) -> bool {
    let digits = span.strip_prefix('-').unwrap_or(span);
    match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The tolerant path: every member is read as raw JSON first and typed only where its shape allows.
pub(crate) fn read(text: &str) -> Result<Envelope<'_>, serde_json::Error> {
    let body: &RawValue = serde_json::from_str(text)?;
    let body = body.get();
    let mut envelope = Envelope::default();
    let Some(fields) = object_fields(body) else {
        envelope.anomalies.push(Anomaly {
            channel: Channel::Body,
            field: None,
            reason: format!(
                "the body is {}, not an object with `object` and `entry`",
                type_name(body)
            ),
            raw: body,
        });
        return Ok(envelope);
    };
    envelope.object = lenient(member(&fields, "object"));
    let mut saw_entry = false;
    for (key, raw) in &fields {
        if key.as_str() != "entry" {
            continue;
        }
        saw_entry = true;
        match array_items(raw) {
            Some(entries) => {
                for raw in entries {
                    let index = envelope.entries.len();
                    let entry = slow_entry(raw, index, &mut envelope.items);
                    envelope.entries.push(entry);
                }
            }
            None if *raw == "null" => {}
            None => envelope.anomalies.push(Anomaly {
                channel: Channel::Body,
                field: Some("entry".into()),
                reason: format!("`entry` is {}, not an array", type_name(raw)),
                raw,
            }),
        }
    }
    if !saw_entry {
        no_entry(&fields, body, &mut envelope);
    }
    Ok(envelope)
}

/// A body without `entry`: a dashboard `{"field","value"}` sample, or something that is no delivery.
fn no_entry<'a>(fields: &[(Text<'a>, &'a str)], body: &'a str, envelope: &mut Envelope<'a>) {
    if member(fields, "field").is_some() && member(fields, "value").is_some() {
        envelope.bare = Some(body);
        return;
    }
    let field = fields
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| *name != "object")
        .map(str::to_owned);
    envelope.anomalies.push(Anomaly {
        channel: Channel::Body,
        field,
        reason: "the body has no `entry` array and is not a `{\"field\", \"value\"}` sample".into(),
        raw: body,
    });
}

fn slow_entry<'a>(raw: &'a str, index: usize, items: &mut Vec<Item<'a>>) -> RawEntry<'a> {
    let mut entry = RawEntry::default();
    let Some(fields) = object_fields(raw) else {
        entry.anomalies.push(Anomaly {
            channel: Channel::Other(Text::new("entry")),
            field: None,
            reason: format!("an entry is {}, not an object", type_name(raw)),
            raw,
        });
        return entry;
    };
    for (key, value) in fields {
        match key.as_str() {
            // The first well-formed id and time win; a duplicate or malformed one is ignored.
            "id" => entry.id = entry.id.take().or_else(|| lenient(Some(value))),
            "time" => entry.time = entry.time.take().or_else(|| lenient(Some(value))),
            "hop_context" => entry.hop_context = entry.hop_context.or(Some(RawJson::new(value))),
            name => {
                let known = known_channel(name);
                slow_array(&mut entry, (index, items), key, known, value);
            }
        }
    }
    entry
}

fn slow_array<'a>(
    entry: &mut RawEntry<'a>,
    (index, items): (usize, &mut Vec<Item<'a>>),
    key: Text<'a>,
    known: Option<Channel<'a>>,
    value: &'a str,
) {
    let push = |items: &mut Vec<Item<'a>>, channel: Channel<'a>, raws: Vec<&'a str>| {
        items.extend(
            raws.into_iter()
                .map(|raw| Item::new(index, channel.clone(), raw)),
        );
    };
    match (array_items(value), known) {
        (Some(raws), Some(channel)) => push(items, channel, raws),
        (Some(raws), None) => push(items, Channel::Other(key), raws),
        (None, Some(channel)) if value != "null" => entry.anomalies.push(Anomaly {
            channel,
            field: Some(key.as_str().to_owned()),
            reason: format!("`{}` is {}, not an array", key.as_str(), type_name(value)),
            raw: value,
        }),
        // Scalars and objects beside the arrays are entry metadata (`uid`, ...), not events.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Option<Vec<&str>> {
        scan(text).map(|e| e.items.iter().map(|item| item.raw).collect())
    }

    #[test]
    fn scanner_finds_each_event_exactly() {
        let body = r#" { "object" : "page" , "entry" : [ { "id" : "1" , "time" : 5 ,
            "messaging" : [ {"a":"x\"}]\\","b":[{"c":{}}]} , {"d":-1.5e3} ] } ] } "#;
        let found = spans(body).unwrap();
        assert_eq!(
            found,
            [r#"{"a":"x\"}]\\","b":[{"c":{}}]}"#, r#"{"d":-1.5e3}"#]
        );
    }

    #[test]
    fn events_the_typed_read_cannot_read_are_still_delimited() {
        let body = r#"{"object":"page","entry":[{"messaging":[ 5 , {"message":7} ,
            {"sender":{"id":"1"}} ],"standby":[[1]]}]}"#;
        let envelope = scan(body).unwrap();
        let items: Vec<_> = envelope
            .items
            .iter()
            .map(|item| (item.raw, item.read.is_some()))
            .collect();
        assert_eq!(
            items,
            [
                ("5", false),
                (r#"{"message":7}"#, false),
                (r#"{"sender":{"id":"1"}}"#, true),
                ("[1]", false)
            ]
        );
    }

    #[test]
    fn scanner_leaves_unusual_shapes_to_the_slow_path() {
        for body in [
            r#"{"object":"page","entry":[],"extra":1}"#,
            r#"{"obj\u0065ct":"page","entry":[]}"#,
            r#"{"object":"page","entry":[1]}"#,
            r#"{"object":"page","entry":[{"messaging":{}}]}"#,
            r#"{"object":"page","entry":[{"id":"1","id":"2"}]}"#,
            r#"{"object":"page","entry":[{"hop_context":[1,]}]}"#,
            r#"{"object":"page","entry":[{"other":[1,]}]}"#,
            r#"{"object":"page","entry":[]} x"#,
            r#"{"object":"page","entry":[{"messaging":[{"a":"\"#,
            "{\"object\":\"pa\u{1}ge\",\"entry\":[]}",
            "{\"object\":\"page\",\"entry\":[{\"mess\u{1}aging\":[]}]}",
            r#"{"object":"page","entry":[{"id":007}]}"#,
            r#"{"object":"page","entry":[{"time":-01}]}"#,
            r#"{"object":"page"}"#,
            "[]",
        ] {
            assert!(scan(body).is_none(), "{body}");
        }
    }

    #[test]
    fn deep_nesting_is_read_without_recursion() {
        let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        let body = |depth: usize| {
            format!(
                r#"{{"object":"page","entry":[{{"messaging":[{}]}}]}}"#,
                nested(depth)
            )
        };
        for depth in [50, 130, 100_000] {
            let body = body(depth);
            let events = crate::parse(body.as_bytes()).unwrap();
            assert_eq!(events[0].kind_name(), "unknown", "{depth}");
            let _ = events[0].dedup_key();
        }
    }

    #[test]
    fn scanner_and_slow_path_agree_on_a_regular_body() {
        let body = r#"{"object":"page","entry":[{"id":"1","time":5,"messaging":[{"x":1}],"custom":[{"y":2}]}]}"#;
        let fast = scan(body).unwrap();
        let slow = read(body).unwrap();
        assert_eq!(format!("{:?}", fast.entries), format!("{:?}", slow.entries));
        let spans = |items: &[Item<'_>]| {
            let spans = items
                .iter()
                .map(|item| (item.entry, &item.channel, item.raw));
            format!("{:?}", spans.collect::<Vec<_>>())
        };
        assert_eq!(spans(&fast.items), spans(&slow.items));
    }
}

//! What `hookline demo` prints about the store: conversations, messages, echoes by source, receipts,
//! reactions and the rest, counted once per stored event.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use hookline_meta::reaction::ReactionAction;
use hookline_meta::{Channel, Event, EventKind};

/// Counts over distinct stored events.
#[derive(Debug, Default)]
pub struct Summary {
    pub deliveries: usize,
    pub events: usize,
    /// Conversation keys, by `object`.
    conversations: BTreeMap<String, BTreeSet<String>>,
    messages: usize,
    with_text: usize,
    with_attachments: usize,
    attachments: BTreeMap<String, usize>,
    echoes: BTreeMap<&'static str, usize>,
    reactions: usize,
    unreactions: usize,
    reads: usize,
    delivery_receipts: usize,
    standby: usize,
    /// Every other kind, by name.
    others: BTreeMap<&'static str, usize>,
    /// Feed-style changes, by field.
    changes: BTreeMap<String, usize>,
    /// What was not understood: the field and the reason.
    unknown: Vec<(String, String)>,
    seen: HashSet<String>,
}

impl Summary {
    /// Counts `event` unless an event with its dedup key was already counted.
    pub fn add(&mut self, event: &Event<'_>) {
        if !self.seen.insert(event.dedup_key().as_str().to_owned()) {
            return;
        }
        self.events += 1;
        if let Some(conversation) = event.conversation() {
            self.conversations
                .entry(conversation.object.to_owned())
                .or_default()
                .insert(conversation.to_string());
        }
        if event.channel == Channel::Standby {
            self.standby += 1;
        }
        self.count_kind(&event.kind);
    }

    fn count_kind(&mut self, kind: &EventKind<'_>) {
        if let EventKind::Message(message) = kind {
            self.with_text += usize::from(message.text.is_some());
            self.with_attachments += usize::from(!message.attachments.is_empty());
            for attachment in &message.attachments {
                *self
                    .attachments
                    .entry(attachment.type_name().to_owned())
                    .or_default() += 1;
            }
        }
        match kind {
            EventKind::Message(_) => self.messages += 1,
            EventKind::MessageEcho(echo) => {
                *self.echoes.entry(echo.source.as_str()).or_default() += 1
            }
            EventKind::Reaction(reaction) => match reaction.action {
                Some(ReactionAction::Unreact) => self.unreactions += 1,
                _ => self.reactions += 1,
            },
            EventKind::Read(_) => self.reads += 1,
            EventKind::Delivery(_) => self.delivery_receipts += 1,
            EventKind::Change(change) => {
                let field = change.field.as_deref().unwrap_or("(no field)").to_owned();
                *self.changes.entry(field).or_default() += 1;
            }
            EventKind::Unknown(unknown) => self.unknown.push((
                unknown.field.clone().unwrap_or_default(),
                unknown.reason.clone(),
            )),
            other => *self.others.entry(other.name()).or_default() += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Stored {} distinct events from {} deliveries:",
            self.events, self.deliveries
        )?;
        let total: usize = self.conversations.values().map(BTreeSet::len).sum();
        let by_object = self
            .conversations
            .iter()
            .map(|(object, keys)| format!("{object} {}", keys.len()));
        line(f, "conversations", total, by_object)?;
        let echoes: usize = self.echoes.values().sum();
        line(
            f,
            "messages in",
            self.messages,
            [
                format!("{} with text", self.with_text),
                format!("{} with attachments", self.with_attachments),
            ],
        )?;
        let attachments: usize = self.attachments.values().sum();
        line(f, "attachments", attachments, listed(&self.attachments))?;
        line(f, "echoes (out)", echoes, listed(&self.echoes))?;
        line(
            f,
            "reactions",
            self.reactions + self.unreactions,
            [
                format!("react {}", self.reactions),
                format!("unreact {}", self.unreactions),
            ],
        )?;
        line(
            f,
            "receipts",
            self.reads + self.delivery_receipts,
            [
                format!("read {}", self.reads),
                format!("delivery {}", self.delivery_receipts),
            ],
        )?;
        let others: usize = self.others.values().sum();
        line(f, "other events", others, listed(&self.others))?;
        let changes: usize = self.changes.values().sum();
        line(f, "feed changes", changes, listed(&self.changes))?;
        line(f, "on standby", self.standby, std::iter::empty())?;
        let unknown = self.unknown.iter().map(|(field, _)| field.clone());
        line(f, "unknown", self.unknown.len(), unknown)
    }
}

/// `name count   detail, detail, ...` in columns, details wrapped to keep lines under ~100 characters.
fn line(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    count: usize,
    details: impl IntoIterator<Item = String>,
) -> fmt::Result {
    const INDENT: usize = 24;
    const WIDTH: usize = 100;
    write!(f, "  {name:<14}{count:>5}")?;
    let mut column = INDENT - 3;
    let mut first = true;
    for detail in details {
        if first {
            write!(f, "   {detail}")?;
            column += 3 + detail.len();
            first = false;
        } else if column + 2 + detail.len() > WIDTH {
            write!(f, ",\n{:INDENT$}{detail}", "")?;
            column = INDENT + detail.len();
        } else {
            write!(f, ", {detail}")?;
            column += 2 + detail.len();
        }
    }
    writeln!(f)
}

/// `name count` for each entry of a count map.
fn listed<K: fmt::Display>(counts: &BTreeMap<K, usize>) -> impl Iterator<Item = String> + '_ {
    counts.iter().map(|(name, n)| format!("{name} {n}"))
}

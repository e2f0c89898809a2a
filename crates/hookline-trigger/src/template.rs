//! A delivery encoded once, with the places that change from one request to the next marked, so that a
//! load generator can produce distinct signed-ready bodies by overwriting a few bytes.

use std::collections::HashSet;

use serde_json::Value;

use crate::catalog::Kind;
use crate::error::TriggerError;
use crate::mark::{self, Ids, Mark, Role};
use crate::params::{self, Params};
use crate::set::{self, Set};
use crate::shape::{Shape, User};
use crate::slot::{Fill, Slot};

/// The user each object's templates are normalised to when no `--user` is given, so that one `trigger`
/// after another lands in the same conversation.
const DEFAULT_USER: [(&str, &str); 2] = [
    ("page", "7392015648120394"),
    ("instagram", "6841123456789012"),
];

/// A kind's delivery, pre-encoded in Meta's wire form, that [`render`](Template::render) turns into the body
/// of request number `seq` by patching fixed-width slots: no JSON is built or serialised per call.
///
/// # Which bytes change
///
/// Every body holds [`events`](Template::events) entries; event `i` of request `seq` gets the index
/// `seq * events + i`, and a bijection of that index is written into the slots that make up the event's
/// dedup key (see `hookline_meta::dedup`):
///
/// - the last 11 characters of every mid (messages, echoes, deletions, edits, reactions, postbacks,
///   Instagram reads, delivery `mids`, `reply_to`) and of call ids: base 62, distinct for every `u64`;
/// - the last 12 digits of comment, media and mention ids of Instagram changes;
/// - for kinds whose key has none of those (Messenger `delivery` and `read`, the handover events,
///   opt-ins, referrals, account linking, games, feedback, orders, call permission replies, `unknown`) the
///   last 12 digits of the user id (or `user_ref`), and for those without a user (`app_roles`,
///   `policy_enforcement`) of the account id. Which case a kind is in is checked when the template is
///   made, by rendering two indices and comparing their keys.
///
/// Digit slots are distinct for 10^12 indices. An id fixed by [`Params::page`] or [`Params::user`] is never
/// rewritten: for the kinds keyed by that id, bodies for different `seq` then differ only if `now_ms`
/// does.
///
/// Every time (`entry.time`, `timestamp`, watermarks, expiries, booking times) is written from `now_ms`
/// at its template offset and in its template unit (seconds stay seconds). Slots have a fixed width, so
/// every body of a template has the same length; `now_ms` must be a current epoch time in milliseconds
/// (13 digits), and times that would leave their width are clamped.
#[derive(Debug, Clone)]
pub struct Template {
    kind: &'static Kind,
    events: usize,
    base: Vec<u8>,
    slots: Vec<Slot>,
    /// Whether the dedup key of each event includes a content slot (a mid, call or comment id), so that
    /// keys differ between indices without touching the user or account id.
    content_keyed: bool,
    /// Whether the event's own time is in seconds (calls, lead-ads referrals, Instagram changes).
    seconds: bool,
}

/// Whether identity slots may vary: yes for load templates, no for one-off deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Load,
    Once,
}

impl Template {
    /// The template of `kind` with `params` applied.
    pub fn new(kind: &'static Kind, params: &Params) -> Result<Template, TriggerError> {
        Template::prepare(kind, params, Mode::Load)
    }

    /// The catalog entry the template was made from.
    pub fn kind(&self) -> &'static Kind {
        self.kind
    }

    /// Events (entries) per body.
    pub fn events(&self) -> usize {
        self.events
    }

    /// The length of every rendered body.
    pub fn len(&self) -> usize {
        self.base.len()
    }

    /// Never true: a body is at least `{"object":...,"entry":[...]}`.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// Writes request number `seq`'s body into `out` (cleared first) by patching fixed-width slots of a
    /// pre-encoded wire-form body: no JSON serialisation per call (the load generator calls this 100k+/s).
    /// See the [type docs](Template) for what changes with `seq` and `now_ms`.
    pub fn render(&self, seq: u64, now_ms: u64, out: &mut Vec<u8>) {
        self.render_with(seq, out, |_| now_ms);
    }

    /// Whether the events' keys differ between indices through content ids alone.
    pub(crate) fn content_keyed(&self) -> bool {
        self.content_keyed
    }

    /// Whether the event's own time is in seconds.
    pub(crate) fn seconds(&self) -> bool {
        self.seconds
    }

    /// [`render`](Template::render) with a time per event.
    pub(crate) fn render_with(&self, seq: u64, out: &mut Vec<u8>, now_of: impl Fn(usize) -> u64) {
        out.clear();
        out.extend_from_slice(&self.base);
        let first = seq.wrapping_mul(self.events as u64);
        let mut fill = [0u8; 16];
        for slot in &self.slots {
            let width = slot.fill.width();
            let index = first.wrapping_add(u64::from(slot.event));
            slot.fill
                .write(index, now_of(slot.event as usize), &mut fill[..width]);
            for &at in &slot.at {
                let at = at as usize;
                out[at..at + width].copy_from_slice(&fill[..width]);
            }
        }
    }

    pub(crate) fn prepare(
        kind: &'static Kind,
        params: &Params,
        mode: Mode,
    ) -> Result<Template, TriggerError> {
        let events = params.events()?;
        let shape = Shape::of(kind);
        let ids = ids(kind, &shape, params)?;
        let text = match (params.text()?, shape.text) {
            (Some(text), Some(path)) => Some((path, text)),
            (Some(_), None) => return Err(TriggerError::NoText { kind: kind.name }),
            (None, _) => None,
        };
        let mut marks = Vec::new();
        let body = body(&shape, &ids, text, &params.sets()?, events, &mut marks)?;
        let (base, slots) = mark::locate(&hookline_meta::wire::encode(&body), &marks);
        let event = &shape.entry[shape.channel][0];
        let own_time = event.get("timestamp").or(shape.entry.get("time"));
        let mut template = Template {
            kind,
            events,
            base,
            slots: Vec::new(),
            content_keyed: false,
            seconds: own_time.is_some_and(crate::timefield::is_seconds),
        };
        template.choose_slots(slots, params, &shape, mode, params.users()?);
        Ok(template)
    }

    /// Keeps the slots rendering must write: content and times always; for load templates, the user's id
    /// from the population when `users` is given, else the user's (or, without a user, the account's) id
    /// only when keys would otherwise repeat; never an id that `params` fixes.
    fn choose_slots(
        &mut self,
        slots: Vec<(Role, Slot)>,
        params: &Params,
        shape: &Shape,
        mode: Mode,
        users: Option<u64>,
    ) {
        let (always, identity): (Vec<_>, Vec<_>) = slots
            .into_iter()
            .partition(|(role, _)| matches!(role, Role::Content | Role::Time));
        self.slots = always.into_iter().map(|(_, slot)| slot).collect();
        self.content_keyed = self.keys_differ();
        if mode == Mode::Once {
            return;
        }
        if let (Some(users), Some(_), None) = (users, &shape.user, &params.user) {
            // Every event comes from one of the population; a kind keyed by its user and time then gets
            // distinct keys from its times, as the same user's turns are `users` events apart.
            let pooled = identity
                .into_iter()
                .filter(|(role, _)| *role == Role::User)
                .map(|(_, mut slot)| {
                    if let Fill::Digits { width } = slot.fill {
                        slot.fill = Fill::Pool { width, users };
                    }
                    slot
                });
            self.slots.extend(pooled);
            return;
        }
        if self.content_keyed {
            return;
        }
        let vary = match (&shape.user, &params.user, &params.page) {
            (Some(_), None, _) => Role::User,
            (None, _, None) => Role::Account,
            _ => return,
        };
        let varying = identity.into_iter().filter(|(role, _)| *role == vary);
        self.slots.extend(varying.map(|(_, slot)| slot));
    }

    /// Whether two indices give all-distinct dedup keys with the slots chosen so far.
    fn keys_differ(&self) -> bool {
        let now = crate::build::now_ms();
        let mut keys = HashSet::new();
        let mut count = 0;
        let mut body = Vec::new();
        for seq in [0, 1] {
            self.render(seq, now, &mut body);
            let events = hookline_meta::parse(&body).unwrap_or_default();
            count += events.len();
            keys.extend(events.iter().map(|e| e.dedup_key()));
        }
        count > 0 && keys.len() == count
    }
}

/// The body of `events` marked copies of the template's entry, with the text and the `--set`s applied:
/// relative ones to each event, absolute ones to the body.
fn body(
    shape: &Shape,
    ids: &Ids,
    text: Option<(&[&str], &str)>,
    sets: &[Set],
    events: usize,
    marks: &mut Vec<Mark>,
) -> Result<Value, TriggerError> {
    let mut rng = fastrand::Rng::new();
    let mut entries = Vec::with_capacity(events);
    for event in 0..events {
        let mut entry = shape.entry.clone();
        mark::entry(&mut entry, shape, ids, event as u32, marks, &mut rng);
        let item = Shape::event(&mut entry, shape.channel);
        if let Some((path, text)) = text {
            set::put(item, path, Value::String(text.to_owned())).expect("the text path exists");
        }
        for set in sets.iter().filter(|set| !set.is_absolute()) {
            set.apply(item)?;
        }
        entries.push(Value::Object(entry));
    }
    let mut body = shape.root.clone();
    body.insert("entry".to_owned(), Value::Array(entries));
    let mut body = Value::Object(body);
    for set in sets.iter().filter(|set| set.is_absolute()) {
        set.apply(&mut body)?;
    }
    Ok(body)
}

/// The account and user ids of a delivery: from `params`, else the template's account and the object's
/// default user (plugin kinds keep their template `user_ref`).
fn ids(kind: &Kind, shape: &Shape, params: &Params) -> Result<Ids, TriggerError> {
    let account = match &params.page {
        Some(page) => params::check_id("page", page)?,
        None => shape.account.clone(),
    };
    let user = match (&shape.user, &params.user) {
        (None, _) => None,
        (Some(User::Id(_)), Some(user)) => Some(params::check_id("user", user)?),
        (Some(User::Ref(_)), Some(user)) => Some(params::check_user_ref(user)?),
        (Some(User::Ref(user_ref)), None) => Some(user_ref.clone()),
        (Some(User::Id(_)), None) => {
            let default = DEFAULT_USER
                .iter()
                .find(|(object, _)| *object == kind.object);
            Some(
                default
                    .expect("every object has a default user")
                    .1
                    .to_owned(),
            )
        }
    };
    Ok(Ids { account, user })
}

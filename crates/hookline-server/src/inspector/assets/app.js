// hookline inspector: conversations and the event log, read from the admin API with the session cookie.
// Plain DOM code, no framework and no build step; every piece of stored data goes into the page as text,
// never as HTML.
"use strict";

const API = "/api/v1";

const KINDS = [
  "message", "message_echo", "message_deleted", "message_edit", "reaction", "delivery", "read",
  "postback", "optin", "referral", "pass_thread_control", "take_thread_control",
  "request_thread_control", "app_roles", "policy_enforcement", "account_linking", "game_play",
  "messaging_feedback", "response_feedback", "order", "call", "call_permission_reply", "change",
  "unknown",
];

const ECHO_SOURCES = {
  this_app: "this app",
  page_inbox: "Page inbox",
  instagram_inbox: "Instagram inbox",
  other_app: "other app",
  unknown: "unknown source",
};

const state = {
  view: "conversations",
  conversations: [],
  conversationsAvailable: null, // null: not asked yet; false: the server has no conversation routes
  account: "",
  open: null, // the open conversation (list item)
  openId: null,
  lastEventId: 0, // the newest event id seen, for polling when there is no stream
  log: { kind: "", items: [], cursor: null, loaded: false },
  live: "connecting",
};

// ---------- small helpers ----------

/** Creates an element: h("div", {class: "x", onclick: f}, child, "text", ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

async function api(path) {
  const response = await fetch(API + path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) {
    // The session ended (the admin token changed, or sign-out in another tab).
    window.location.assign("/");
    throw new Error("signed out");
  }
  if (!response.ok) {
    const error = new Error(`${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

/** Every page of a list route, up to `max` items. */
async function apiAll(path, max) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });

/** "now", "4 min", "3 h", "Tue", "12 Mar": how long ago, as a list shows it. */
function relative(ms) {
  if (!ms) return "";
  const diff = Date.now() - ms;
  if (diff < 45e3) return "now";
  if (diff < 3600e3) return `${Math.round(diff / 60e3)} min`;
  if (diff < 86400e3) return `${Math.round(diff / 3600e3)} h`;
  if (diff < 6 * 86400e3) return weekday.format(ms);
  return shortDate.format(ms);
}

function dayLabel(ms) {
  const day = new Date(ms).toDateString();
  if (day === new Date().toDateString()) return "Today";
  if (day === new Date(Date.now() - 86400e3).toDateString()) return "Yesterday";
  return dayFormat.format(ms);
}

function timeTag(ms, format) {
  if (!ms) return h("span", { class: "time" }, "");
  return h("time", { class: "time", datetime: new Date(ms).toISOString(), title: fullFormat.format(ms), dataset: { ms: String(ms), format } },
    format === "relative" ? relative(ms) : timeFormat.format(ms));
}

/** Re-renders relative times every half minute. */
function tickRelativeTimes() {
  for (const el of document.querySelectorAll('time[data-format="relative"]')) {
    el.textContent = relative(Number(el.dataset.ms));
  }
}

function short(id) {
  if (!id) return "—";
  const text = String(id);
  return text.length > 12 ? "…" + text.slice(-8) : text;
}

function counterpartName(c) {
  const who = c.counterpart || {};
  if (who.id) return `User ${short(who.id)}`;
  if (who.user_ref) return `Guest ${short(who.user_ref)}`;
  return "Unknown user";
}

function counterpartFull(c) {
  const who = c.counterpart || {};
  return who.id ? `id ${who.id}` : who.user_ref ? `user_ref ${who.user_ref}` : "";
}

function platform(object) {
  if (object === "instagram") return { label: "Instagram", cls: "ig" };
  if (object === "page") return { label: "Messenger", cls: "fb" };
  return { label: object || "other", cls: "other" };
}

function kindLabel(kind) {
  return String(kind || "unknown").replace(/_/g, " ");
}

// ---------- live updates ----------

let stream = null;
let pollTimer = null;

function setLive(mode) {
  state.live = mode;
  const el = $("live");
  el.dataset.state = mode;
  const text = { live: "Live", polling: "Live (polling)", connecting: "Connecting…", offline: "Offline" }[mode];
  const title = {
    live: "Receiving events as they are stored",
    polling: "This server has no event stream; checking for new events every 2 seconds",
    connecting: "Connecting to the live stream",
    offline: "Cannot reach hookline; retrying",
  }[mode];
  el.textContent = text;
  el.title = title;
}

function startLive() {
  if (!("EventSource" in window)) return startPolling();
  stream = new EventSource(API + "/stream");
  stream.addEventListener("open", () => setLive("live"));
  stream.addEventListener("event", (message) => {
    try {
      onEvent(JSON.parse(message.data));
    } catch (err) {
      console.warn("unreadable stream event", err);
    }
  });
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED) {
      // No stream route on this server (404), or the session ended: fall back to polling the event list.
      stream = null;
      startPolling();
    } else {
      setLive("connecting");
    }
  });
}

async function startPolling() {
  // Follow from the newest stored event; only then say "live", so nothing stored later is missed.
  try {
    const newest = await api("/events?order=desc&limit=1");
    if (newest.items.length && newest.items[0].id > state.lastEventId) state.lastEventId = newest.items[0].id;
    setLive("polling");
  } catch (err) {
    setLive("offline");
  }
  const poll = async () => {
    try {
      const page = await api(`/events?after=${state.lastEventId}&limit=200&raw=true`);
      if (state.live !== "polling") setLive("polling");
      for (const event of page.items) onEvent(event);
    } catch (err) {
      setLive("offline");
    }
    pollTimer = setTimeout(poll, 2000);
  };
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, 2000);
}

const refreshConversationsSoon = debounce(() => loadConversations().catch(showError), 400);
const refreshThreadSoon = debounce(() => loadThread(false).catch(showError), 250);

function onEvent(event) {
  if (event.id > state.lastEventId) state.lastEventId = event.id;
  logPrepend(event);
  if (state.conversationsAvailable !== false) refreshConversationsSoon();
  if (state.open && event.conversation_key && event.conversation_key === state.open.key) refreshThreadSoon();
}

// ---------- conversation list ----------

async function loadConversations() {
  let items;
  try {
    items = await apiAll("/conversations" + (state.account ? "?account=" + encodeURIComponent(state.account) : ""), 2000);
    state.conversationsAvailable = true;
  } catch (err) {
    if (err.status === 404 || err.status === 405) {
      state.conversationsAvailable = false;
      renderConversations();
      return;
    }
    throw err;
  }
  items.sort((a, b) => (b.last_event_ms || 0) - (a.last_event_ms || 0) || String(a.id).localeCompare(String(b.id)));
  state.conversations = items;
  if (!state.account) updateAccounts(items);
  if (state.openId) {
    const fresh = items.find((c) => c.id === state.openId);
    if (fresh) {
      state.open = fresh;
      renderThreadHead();
    }
  }
  renderConversations();
}

function updateAccounts(items) {
  const select = $("account-filter");
  const known = new Set([...select.options].map((o) => o.value));
  const accounts = new Map();
  for (const c of items) accounts.set(c.account_id, c.object);
  for (const [account, object] of accounts) {
    if (known.has(account)) continue;
    select.append(h("option", { value: account }, `${platform(object).label} · ${account}`));
  }
}

function preview(c) {
  const last = c.last_message;
  if (!last) return { text: "No messages yet", cls: "preview muted" };
  const prefix = last.direction === "out" ? "You: " : "";
  if (last.deleted) return { text: prefix + "Message deleted", cls: "preview muted" };
  if (last.text) return { text: prefix + last.text, cls: "preview" };
  const types = last.attachment_types || [];
  if (types.length) return { text: prefix + types.map(attachmentLabel).join(", "), cls: "preview" };
  return { text: prefix + "Message", cls: "preview muted" };
}

function attachmentLabel(type) {
  return { image: "Photo", video: "Video", audio: "Audio", file: "File", sticker: "Sticker",
    share: "Share", story_mention: "Story mention", reel: "Reel", ig_reel: "Reel",
    template: "Template", fallback: "Link", location: "Location" }[type] || `Attachment (${type})`;
}

function renderConversations() {
  const list = $("conversation-list");
  const empty = $("conversation-empty");
  list.replaceChildren();
  if (state.conversationsAvailable === false) {
    $("account-filter").parentElement.hidden = true;
    if (!state.openId) {
      $("thread-placeholder").replaceChildren(
        h("div", { class: "empty-art", "aria-hidden": "true" }),
        h("h2", {}, "Everything that arrived is in the event log"),
        h("p", {}, "Conversation threads need the conversation routes of the admin API."),
        h("p", {}, h("a", { class: "button link-button", href: "#/events" }, "Open the event log")));
    }
    empty.hidden = false;
    empty.replaceChildren(
      h("h3", {}, "Conversations are not available"),
      h("p", {}, "This hookline serves no conversation routes. The ",
        h("a", { href: "#/events" }, "event log"), " shows everything that arrived."));
    return;
  }
  if (!state.conversations.length) {
    empty.hidden = false;
    empty.replaceChildren(
      h("div", { class: "empty-art small", "aria-hidden": "true" }),
      h("h3", {}, state.account ? "No conversations for this account" : "No conversations yet"),
      h("p", {}, "When Meta delivers a message to your webhook, the conversation appears here."));
    return;
  }
  empty.hidden = true;
  for (const c of state.conversations) list.append(conversationRow(c));
}

function conversationRow(c) {
  const p = platform(c.object);
  const pv = preview(c);
  const badges = [];
  if (c.standby) badges.push(h("span", { class: "badge badge-standby", title: "Another app owns this thread (handover protocol)" }, "standby"));
  else if (c.owner_app_id) badges.push(h("span", { class: "badge badge-owner", title: `Thread owner: app ${c.owner_app_id}` }, `app ${short(c.owner_app_id)}`));
  const row = h("li", { class: "conv" + (c.id === state.openId ? " selected" : ""), dataset: { id: c.id, key: c.key || "" } },
    h("a", { href: `#/c/${encodeURIComponent(c.id)}`, class: "conv-link" },
      h("span", { class: `avatar ${p.cls}`, "aria-hidden": "true" }, initials(c)),
      h("span", { class: "conv-main" },
        h("span", { class: "conv-top" },
          h("span", { class: "conv-name" }, counterpartName(c)),
          timeTag(c.last_event_ms, "relative")),
        h("span", { class: "conv-mid" },
          h("span", { class: pv.cls }, pv.text),
          c.unread ? h("span", { class: "unread", title: `${c.unread} unread` }, String(c.unread)) : null),
        h("span", { class: "conv-bottom" },
          h("span", { class: `platform ${p.cls}` }, p.label),
          h("span", { class: "account", title: `Account ${c.account_id}` }, c.account_id),
          badges))));
  return row;
}

function initials(c) {
  const who = c.counterpart || {};
  const id = String(who.id || who.user_ref || "?");
  return id.slice(-2).toUpperCase();
}

// ---------- the open conversation ----------

async function openConversation(id) {
  state.openId = id;
  state.open = state.conversations.find((c) => c.id === id) || null;
  $("view-conversations").dataset.open = "true";
  for (const row of document.querySelectorAll(".conv")) row.classList.toggle("selected", row.dataset.id === id);
  if (!state.open) {
    try {
      state.open = await api(`/conversations/${encodeURIComponent(id)}`);
    } catch (err) {
      showThreadMessage("This conversation is not in the store.", "It may belong to another database, or the link is old.");
      return;
    }
  }
  $("thread-body").replaceChildren(h("div", { class: "loading" }, "Loading…"));
  renderThreadHead();
  announceThread(id);
  await loadThread(true);
}

/** Tells the reply box (reply.js) which conversation is open, or that none is (`null`). */
function announceThread(id) {
  document.dispatchEvent(new CustomEvent("hookline:thread", { detail: { id } }));
}

function closeConversation() {
  state.openId = null;
  state.open = null;
  $("view-conversations").dataset.open = "false";
  $("thread-head").hidden = true;
  $("thread-body").hidden = true;
  $("thread-placeholder").hidden = false;
  for (const row of document.querySelectorAll(".conv.selected")) row.classList.remove("selected");
  announceThread(null);
}

function showThreadMessage(title, text) {
  announceThread(null);
  $("thread-head").hidden = true;
  $("thread-body").hidden = true;
  const placeholder = $("thread-placeholder");
  placeholder.hidden = false;
  placeholder.replaceChildren(h("h2", {}, title), h("p", {}, text));
}

function renderThreadHead() {
  const c = state.open;
  if (!c) return;
  const p = platform(c.object);
  const head = $("thread-head");
  head.hidden = false;
  $("thread-placeholder").hidden = true;
  const facts = [
    h("span", { class: `platform ${p.cls}` }, p.label),
    h("span", {}, `Account ${c.account_id}`),
    h("span", { class: "mono" }, counterpartFull(c)),
  ];
  if (c.standby) facts.push(h("span", { class: "badge badge-standby" }, "standby: another app owns the thread"));
  else if (c.owner_app_id) facts.push(h("span", { class: "badge badge-owner" }, `owner app ${c.owner_app_id}`));
  if (c.referral) facts.push(h("span", { class: "badge badge-referral", title: JSON.stringify(c.referral) }, `via ${String(c.referral.source || "referral").toLowerCase()}`));
  head.replaceChildren(
    h("a", { href: "#/conversations", class: "back", "aria-label": "Back to conversations" }, "‹"),
    h("span", { class: `avatar ${p.cls}`, "aria-hidden": "true" }, initials(c)),
    h("div", { class: "thread-title" },
      h("h2", {}, counterpartName(c)),
      h("div", { class: "thread-facts" }, facts)),
    h("div", { class: "thread-count muted" }, c.message_count != null ? `${c.message_count} messages` : ""));
}

/** Loads the open conversation's timeline (or, on a server without it, its messages) and renders it. */
async function loadThread(first) {
  const c = state.open;
  if (!c) return;
  const id = encodeURIComponent(c.id);
  let items;
  try {
    const [timeline, messages] = await Promise.all([
      apiAll(`/conversations/${id}/timeline`, 5000),
      apiAll(`/conversations/${id}/messages`, 5000),
    ]);
    items = withSends(timeline, messages);
  } catch (err) {
    if (err.status !== 404) throw err;
    const messages = await apiAll(`/conversations/${id}/messages`, 5000);
    items = messages.map((m) => ({ event_id: m.event_id, kind: m.direction === "out" ? "message_echo" : "message", timestamp_ms: m.timestamp_ms, message: m }));
  }
  if (state.open !== c && state.openId !== c.id) return; // another conversation was opened meanwhile
  renderThread(items, first);
}

/**
 * The timeline with the replies that have no event of their own put in at their time: the timeline lists
 * events, and a send has none until its echo arrives (pending, failed, or sent with the echo still on
 * its way). A send whose echo is in the timeline is that echo's message already.
 */
function withSends(timeline, messages) {
  const shown = new Set(timeline.map((item) => item.message && item.message.send_id).filter(Boolean));
  const items = timeline.slice();
  for (const m of messages) {
    if (!m.send_id || shown.has(m.send_id)) continue;
    const at = items.findIndex((item) => (item.timestamp_ms || 0) > (m.timestamp_ms || 0));
    items.splice(at < 0 ? items.length : at, 0, { kind: "send", timestamp_ms: m.timestamp_ms, message: m });
  }
  return items;
}

function renderThread(items, first) {
  const body = $("thread-body");
  const atBottom = first || body.scrollHeight - body.scrollTop - body.clientHeight < 80;
  const open = new Set([...body.querySelectorAll("[data-raw-open]")].map((el) => el.dataset.rawOpen));
  body.hidden = false;
  body.replaceChildren();
  if (!items.length) {
    body.append(h("div", { class: "empty" }, h("h3", {}, "Nothing here yet"), h("p", {}, "Events of this conversation will appear as they arrive.")));
    return;
  }
  let lastDay = null;
  for (const item of items) {
    const day = item.timestamp_ms ? new Date(item.timestamp_ms).toDateString() : null;
    if (day && day !== lastDay) {
      body.append(h("div", { class: "day" }, h("span", {}, dayLabel(item.timestamp_ms))));
      lastDay = day;
    }
    body.append(item.message ? bubble(item.message, item) : note(item));
  }
  for (const id of open) {
    const button = body.querySelector(`[data-raw-for="${CSS.escape(id)}"]`);
    if (button) toggleRaw(button, Number(id));
  }
  if (atBottom) body.scrollTop = body.scrollHeight;
}

function bubble(m, item) {
  const out = m.direction === "out";
  const children = [];
  if (m.deleted) {
    children.push(h("p", { class: "tombstone" }, "This message was deleted"));
  } else {
    if (m.reply_to) children.push(h("div", { class: "reply-to" }, m.reply_to.story ? "Replied to a story" : "Reply"));
    for (const a of m.attachments || []) children.push(attachment(a));
    if (m.text) children.push(h("p", { class: "text" }, m.text));
    if (m.quick_reply && m.quick_reply.payload) children.push(h("div", { class: "quick-reply" }, `Quick reply · ${m.quick_reply.payload}`));
  }
  const meta = [timeTag(m.timestamp_ms, "clock")];
  if (m.edit_count > 0 && !m.deleted) meta.unshift(editedMarker(m));
  if (out) meta.push(statusMark(m));
  const eventId = m.event_id != null ? m.event_id : item && item.event_id;
  meta.push(rawButton(eventId));
  const failed = out && m.status === "failed";
  const dataset = { mid: m.mid || "" };
  if (m.send_id) dataset.sendId = m.send_id;
  if (out && m.status) dataset.status = m.status;
  const row = h("div", { class: `msg ${out ? "out" : "in"}${failed ? " failed" : ""}${m.deleted ? " deleted" : ""}${m.standby || (item && item.standby) ? " standby" : ""}`, dataset },
    h("div", { class: "bubble" }, children, h("div", { class: "meta" }, meta)),
    reactions(m.reactions),
    h("div", { class: "under" },
      failed ? h("span", { class: "send-error", title: m.send_error }, `Not sent: ${m.send_error || "the Send API refused it"}`)
        : out && m.echo_source ? h("span", { class: `source source-${m.echo_source}`, title: m.app_id ? `app ${m.app_id}` : null }, `${m.status === "pending" ? "Sending" : "Sent"} from ${ECHO_SOURCES[m.echo_source] || m.echo_source}`) : null,
      m.standby || (item && item.standby) ? h("span", { class: "badge badge-standby" }, "standby") : null));
  return row;
}

/** The URL if it is http(s), else null: a payload's URL never becomes a javascript: link. */
function webUrl(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

function attachment(a) {
  const type = a.type || "file";
  const url = webUrl(a.url);
  if ((type === "image" || type === "sticker" || type === "animated_image") && url) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "attachment-image" },
      h("img", { src: url, alt: a.title || type, loading: "lazy" }));
  }
  const label = attachmentLabel(type) + (a.title ? ` · ${a.title}` : "");
  if (url) return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "attachment-link" }, label);
  return h("span", { class: "attachment-link" }, label);
}

function editedMarker(m) {
  const edits = m.edits || [];
  const history = edits.map((e) => `#${e.num_edit}: ${e.text == null ? "(no text)" : e.text}`).join("\n");
  const button = h("button", { type: "button", class: "edited", title: history || `Edited ${m.edit_count}×`, "aria-expanded": "false" }, "edited");
  button.addEventListener("click", () => {
    const bubbleEl = button.closest(".bubble");
    const existing = bubbleEl.querySelector(".edits");
    button.setAttribute("aria-expanded", existing ? "false" : "true");
    if (existing) return existing.remove();
    bubbleEl.append(h("ol", { class: "edits" }, edits.length
      ? edits.map((e) => h("li", {}, h("span", { class: "muted" }, `Edit ${e.num_edit}${e.timestamp_ms ? " · " + timeFormat.format(e.timestamp_ms) : ""}`), h("span", {}, e.text == null ? "(no text)" : e.text)))
      : h("li", {}, `Edited ${m.edit_count}×; earlier texts were not delivered`)));
  });
  return button;
}

const STATUSES = {
  pending: { mark: "", label: "Sending" }, // a clock, drawn by the style sheet
  sent: { mark: "✓", label: "Sent" },
  delivered: { mark: "✓✓", label: "Delivered" },
  read: { mark: "✓✓", label: "Read" },
  failed: { mark: "✕", label: "Not sent" },
};

/** An outbound message's status mark; a failed send's reason is its tooltip (and a line under it). */
function statusMark(m) {
  const status = STATUSES[m.status];
  if (!status) return null;
  const title = m.status === "failed" && m.send_error ? `Not sent: ${m.send_error}` : status.label;
  return h("span", { class: "status", role: "img", "aria-label": status.label, title, dataset: { status: m.status } }, status.mark);
}

function reactions(list) {
  if (!list || !list.length) return null;
  return h("div", { class: "reactions" }, list.map((r) =>
    h("span", { class: "reaction", title: `${r.reaction || "reaction"} by ${r.by}` }, r.emoji || r.reaction || "•")));
}

function note(item) {
  const text = item.note || "";
  return h("div", { class: `note note-${item.kind}` },
    h("div", { class: "note-line" },
      h("span", { class: "note-kind" }, kindLabel(item.kind)),
      h("span", { class: "note-text" }, text),
      timeTag(item.timestamp_ms, "clock"),
      item.standby ? h("span", { class: "badge badge-standby" }, "standby") : null,
      rawButton(item.event_id)));
}

// ---------- raw JSON ----------

function rawButton(eventId) {
  if (eventId == null) return null;
  const button = h("button", { type: "button", class: "raw-toggle", "aria-expanded": "false", dataset: { rawFor: String(eventId) }, title: "Show the event's JSON" }, "{ }");
  button.addEventListener("click", () => toggleRaw(button, eventId));
  return button;
}

async function fetchRaw(eventId) {
  try {
    return await api(`/events/${eventId}?raw=true`);
  } catch (err) {
    if (err.status !== 404 && err.status !== 405) throw err;
    // A server without GET /events/{id}: the first event after the one before it is the same event.
    const page = await api(`/events?after=${eventId - 1}&limit=1&raw=true`);
    if (!page.items.length || page.items[0].id !== eventId) throw err;
    return page.items[0];
  }
}

async function toggleRaw(button, eventId) {
  const host = button.closest(".msg, .note, .log-row");
  const existing = host.querySelector(":scope > .raw");
  if (existing) {
    existing.remove();
    button.setAttribute("aria-expanded", "false");
    delete host.dataset.rawOpen;
    return;
  }
  button.setAttribute("aria-expanded", "true");
  host.dataset.rawOpen = String(eventId);
  const pre = h("pre", { class: "raw" }, "Loading…");
  host.append(pre);
  try {
    const event = await fetchRaw(eventId);
    pre.textContent = JSON.stringify(event, null, 2);
  } catch (err) {
    pre.textContent = `Could not load event ${eventId}: ${err.message}`;
  }
}

// ---------- event log ----------

function summary(event) {
  const raw = event.raw || {};
  const m = raw.message;
  if (m) {
    if (m.is_deleted) return "deleted a message";
    if (m.text) return m.text;
    if (m.attachments && m.attachments.length) return m.attachments.map((a) => attachmentLabel(a.type)).join(", ");
  }
  if (raw.reaction) return `${raw.reaction.action === "unreact" ? "removed " : ""}${raw.reaction.emoji || raw.reaction.reaction || "reaction"}`;
  if (raw.message_edit) return `edited: ${raw.message_edit.text || ""}`;
  if (raw.postback) return `tapped “${raw.postback.title || raw.postback.payload || "button"}”`;
  if (raw.read) return "read up to " + (raw.read.watermark ? timeFormat.format(Number(raw.read.watermark)) : "a message");
  if (raw.delivery) return "delivered";
  if (raw.referral) return `referral ${raw.referral.source || ""} ${raw.referral.ref || ""}`.trim();
  if (raw.optin) return `opt-in ${raw.optin.type || raw.optin.ref || ""}`.trim();
  if (raw.pass_thread_control) return `thread passed to app ${raw.pass_thread_control.new_owner_app_id || "?"}`;
  if (raw.take_thread_control) return "thread taken back";
  if (raw.request_thread_control) return "thread control requested";
  if (event.field) return event.field;
  return "";
}

function logRow(event) {
  const p = platform(event.object);
  const from = event.sender || event.sender_user_ref;
  const who = from || event.recipient
    ? { text: `${short(from)} → ${short(event.recipient)}`, title: `sender ${from || "—"} → recipient ${event.recipient || "—"}` }
    : { text: event.entry_id ? `entry ${short(event.entry_id)}` : "", title: event.entry_id ? `entry ${event.entry_id}` : null };
  const conversation = event.conversation_key && state.conversations.find((c) => c.key === event.conversation_key);
  const row = h("li", { class: "log-row", dataset: { id: String(event.id), kind: event.kind } },
    h("div", { class: "log-line" },
      h("span", { class: "log-id mono" }, `#${event.id}`),
      h("span", { class: `kind kind-${event.kind}` }, kindLabel(event.kind)),
      h("span", { class: `platform ${p.cls}` }, p.label),
      h("span", { class: "log-who mono", title: who.title }, who.text),
      h("span", { class: "log-summary" }, summary(event)),
      conversation ? h("a", { class: "log-open", href: `#/c/${encodeURIComponent(conversation.id)}`, title: "Open this event's conversation" }, "Conversation ›") : null,
      event.duplicates > 0 ? h("span", { class: "badge", title: "Delivered more than once; stored once" }, `×${event.duplicates + 1}`) : null,
      timeTag(event.timestamp_ms || Date.parse(event.received_at), "relative"),
      rawButton(event.id)));
  return row;
}

async function loadLog(more) {
  const log = state.log;
  const kind = log.kind ? "&kind=" + encodeURIComponent(log.kind) : "";
  const cursor = more && log.cursor ? "&cursor=" + encodeURIComponent(log.cursor) : "";
  const page = await api(`/events?order=desc&limit=50&raw=true${kind}${cursor}`);
  if (!more) log.items = [];
  log.items.push(...page.items);
  log.cursor = page.next_cursor;
  log.loaded = true;
  for (const e of page.items) if (e.id > state.lastEventId) state.lastEventId = e.id;
  renderLog(more ? page.items : null);
}

function renderLog(appended) {
  const list = $("event-log");
  if (appended) list.append(...appended.map(logRow));
  else list.replaceChildren(...state.log.items.map(logRow));
  const empty = $("events-empty");
  empty.hidden = state.log.items.length > 0;
  if (!state.log.items.length) {
    empty.replaceChildren(h("div", { class: "empty-art small", "aria-hidden": "true" }),
      h("h3", {}, state.log.kind ? `No ${kindLabel(state.log.kind)} events yet` : "No events yet"),
      h("p", {}, "Point your Meta app's webhook at this server, or try ", h("code", {}, "hookline trigger message"), "."));
  }
  $("events-more").hidden = !state.log.cursor;
  $("events-count").textContent = state.log.items.length ? `${state.log.items.length}${state.log.cursor ? "+" : ""} shown` : "";
}

function logPrepend(event) {
  const log = state.log;
  if (!log.loaded) return;
  if (log.kind && event.kind !== log.kind) return;
  if (log.items.some((e) => e.id === event.id)) return;
  log.items.unshift(event);
  const row = logRow(event);
  row.classList.add("fresh");
  $("event-log").prepend(row);
  $("events-empty").hidden = true;
  $("events-count").textContent = `${log.items.length}${log.cursor ? "+" : ""} shown`;
  // The stream sends events without their raw JSON; fetch it, for a burst at once, for the summary line.
  if (!event.raw) {
    pendingSummaries.set(event.id, { event, row });
    fillSummariesSoon();
  }
}

const pendingSummaries = new Map();

const fillSummariesSoon = debounce(async () => {
  const pending = new Map(pendingSummaries);
  pendingSummaries.clear();
  if (!pending.size) return;
  const first = Math.min(...pending.keys());
  const kind = state.log.kind ? "&kind=" + encodeURIComponent(state.log.kind) : "";
  try {
    const page = await api(`/events?after=${first - 1}&limit=200&raw=true${kind}`);
    for (const full of page.items) {
      const seen = pending.get(full.id);
      if (!seen) continue;
      Object.assign(seen.event, full);
      seen.row.querySelector(".log-summary").textContent = summary(full);
    }
  } catch (err) {
    // The summary line is a convenience; the row and its raw-JSON button work without it.
  }
}, 300);

// ---------- navigation ----------

function route() {
  const hash = window.location.hash || "#/conversations";
  const events = hash.startsWith("#/events");
  state.view = events ? "events" : "conversations";
  $("view-events").hidden = !events;
  $("view-conversations").hidden = events;
  $("tab-events").setAttribute("aria-current", events ? "page" : "false");
  $("tab-conversations").setAttribute("aria-current", events ? "false" : "page");
  if (events) {
    if (!state.log.loaded) loadLog(false).catch(showError);
    return;
  }
  const match = hash.match(/^#\/c\/(.+)$/);
  if (match) openConversation(decodeURIComponent(match[1])).catch(showError);
  else closeConversation();
}

function showError(err) {
  if (err && err.message === "signed out") return;
  console.error(err);
  const toast = h("div", { class: "toast", role: "alert" }, `Something went wrong: ${err.message || err}`);
  document.body.append(toast);
  setTimeout(() => toast.remove(), 6000);
}

function init() {
  const kindSelect = $("kind-filter");
  for (const kind of KINDS) kindSelect.append(h("option", { value: kind }, kindLabel(kind)));
  kindSelect.addEventListener("change", () => {
    state.log.kind = kindSelect.value;
    loadLog(false).catch(showError);
  });
  $("events-more").addEventListener("click", () => loadLog(true).catch(showError));
  $("account-filter").addEventListener("change", (e) => {
    state.account = e.target.value;
    loadConversations().catch(showError);
  });
  window.addEventListener("hashchange", route);
  setInterval(tickRelativeTimes, 30e3);
  loadConversations().catch(showError).finally(() => {
    route();
    startLive();
  });
}

document.addEventListener("DOMContentLoaded", init);

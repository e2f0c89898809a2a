// hookline inspector: the reply box under the open conversation. It posts the text to
// POST /api/v1/conversations/{id}/messages and reads the thread again; the reply's status (pending, sent,
// delivered, read, failed) then comes from the conversation's messages, as every outbound message's does,
// and follows the receipts the live stream brings. Loaded after app.js, whose helpers it uses (API, h, $,
// bubble, loadThread, refreshConversationsSoon, showError); app.js says which conversation is open with
// a "hookline:thread" event.
"use strict";

(() => {
  const drafts = new Map(); // conversation id -> text not sent yet, kept while other conversations are open
  let current = null; // the id of the conversation the box writes to
  let sending = false;

  function open(id) {
    current = id;
    $("reply-form").hidden = id === null;
    if (id === null) return;
    $("reply-text").value = drafts.get(id) || "";
    setError(null);
  }

  function setError(text) {
    const el = $("reply-error");
    el.hidden = !text;
    el.textContent = text || "";
  }

  function setSending(on) {
    sending = on;
    const button = $("reply-send");
    button.disabled = on;
    button.textContent = on ? "Sending…" : "Send";
    // Read-only rather than disabled, so the caret stays in the box for the next message.
    $("reply-text").readOnly = on;
    $("reply-form").setAttribute("aria-busy", on ? "true" : "false");
  }

  /** The reply as it goes out, with a clock, until the thread is read again with the send in it. */
  function showOutgoing(text) {
    const body = $("thread-body");
    const row = bubble({ direction: "out", text, status: "pending", timestamp_ms: Date.now(), echo_source: "this_app" }, null);
    row.classList.add("outgoing");
    body.append(row);
    body.scrollTop = body.scrollHeight;
    return row;
  }

  /** POSTs the reply; answers the send, or throws an error whose message is the API's reason. */
  async function post(id, text) {
    const response = await fetch(`${API}/conversations/${encodeURIComponent(id)}/messages`, {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ text }),
    });
    if (response.status === 401) {
      window.location.assign("/");
      throw new Error("signed out");
    }
    const answer = await response.json().catch(() => null);
    if (response.ok) return answer;
    const reason = answer && typeof answer.error === "string"
      ? answer.error
      : `hookline answered HTTP ${response.status} without saying why; the server's log has the reason`;
    throw new Error(reason);
  }

  async function send(event) {
    event.preventDefault();
    const box = $("reply-text");
    const id = current;
    const typed = box.value;
    const text = typed.trim();
    if (sending || id === null || !text) return box.focus();
    setSending(true);
    setError(null);
    const outgoing = showOutgoing(text);
    try {
      await post(id, text);
      if (drafts.get(id) === typed) drafts.delete(id);
      if (current === id && box.value === typed) box.value = "";
    } catch (err) {
      if (err.message === "signed out") return;
      // Nothing typed is lost: the text stays in the box (or in the draft of the conversation left).
      const reason = err instanceof TypeError
        ? `Could not reach hookline (${err.message}); your text is kept, send it again when the server answers.`
        : err.message;
      if (current === id) setError(reason);
      else showError(new Error(reason));
    } finally {
      setSending(false);
    }
    refreshConversationsSoon();
    await loadThread(false).catch(showError);
    outgoing.remove(); // gone already when the thread was drawn again
    if (current !== id) return;
    // The reply (or its failure) is at the end; the error line above the box may have pushed it out of view.
    const body = $("thread-body");
    body.scrollTop = body.scrollHeight;
    box.focus();
  }

  function onKey(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    $("reply-form").requestSubmit();
  }

  document.addEventListener("hookline:thread", (event) => open(event.detail.id));
  document.addEventListener("DOMContentLoaded", () => {
    $("reply-form").addEventListener("submit", send);
    const box = $("reply-text");
    box.addEventListener("keydown", onKey);
    box.addEventListener("input", () => {
      if (current !== null) drafts.set(current, box.value);
    });
  });
})();

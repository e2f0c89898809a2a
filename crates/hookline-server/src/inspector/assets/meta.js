// hookline inspector: the Meta subscription panel in the top bar. It reads GET /api/v1/meta/status (the
// subscription watchdog's last check per [[account]]) and stays hidden when the watchdog is off. Kept
// apart from app.js so the conversation views never depend on it. Data goes into the page as text only.
"use strict";

(() => {
  const REFRESH_MS = 30e3;

  const OUTCOMES = {
    pending: "not checked yet",
    ok: "subscribed",
    resubscribed: "re-subscribed",
    missing_permissions: "permissions missing",
    error: "check failed",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function row(label, value) {
    const line = el("div", "meta-line");
    line.append(el("span", "muted", label + " "), el("span", null, value));
    return line;
  }

  function account(report) {
    const item = el("li", "meta-account");
    item.dataset.outcome = report.outcome;
    const head = el("div", "meta-account-head");
    head.append(
      el("span", "meta-dot"),
      el("strong", null, `${report.kind === "instagram" ? "Instagram" : "Page"} ${report.account}`),
      el("span", "muted", OUTCOMES[report.outcome] || report.outcome),
    );
    item.append(head);
    if (report.checked_at) item.append(row("checked", new Date(report.checked_at_ms).toLocaleString()));
    if (report.missing_fields.length) item.append(row("missing fields", report.missing_fields.join(", ")));
    if (report.missing_permissions && report.missing_permissions.length) {
      item.append(row("missing permissions", report.missing_permissions.join(", ")));
    }
    if (report.resubscriptions) {
      const when = report.resubscribed_at ? `, last ${new Date(report.resubscribed_at).toLocaleString()}` : "";
      item.append(row("re-subscribed", `${report.resubscriptions}×${when}`));
    }
    if (report.error) item.append(el("p", "meta-error", report.error));
    return item;
  }

  function render(status) {
    const panel = document.getElementById("meta-status");
    if (!panel) return;
    if (!status.watchdog || !status.accounts.length) {
      panel.hidden = true;
      return;
    }
    const problems = status.accounts.filter((a) => a.outcome === "error" || a.outcome === "missing_permissions");
    const summary = panel.querySelector("summary");
    summary.textContent = problems.length
      ? `Meta: ${problems.length} of ${status.accounts.length} need attention`
      : `Meta: ${status.accounts.length} subscribed`;
    panel.dataset.state = problems.length ? "problem" : "ok";
    const list = panel.querySelector("ul");
    list.replaceChildren(...status.accounts.map(account));
    panel.hidden = false;
  }

  async function refresh() {
    try {
      const response = await fetch("/api/v1/meta/status", {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      // Signed out or an older server: app.js deals with the session; the panel just stays hidden.
      if (response.ok) render(await response.json());
    } catch (err) {
      console.error(err);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();

// mailops dashboard: polls the page's JSON twin and redraws its tables in place.
// Every string from the API goes in with textContent (never innerHTML): a sender or
// domain name is a stranger's text. The poll asks for ?visible=1 (the body's data-api), so
// the server has already shown each invisible character (U+202E...) as its marker, as on the
// page it rendered: the rule lives in one place, mailops/report/escape.py.
"use strict";

(function () {
  const body = document.body;
  const api = body.dataset.api;
  const refresh = Math.max(parseInt(body.dataset.refresh || "15", 10), 2) * 1000;
  const page = body.dataset.page;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function when(iso) { return iso ? String(iso).slice(0, 16).replace("T", " ") : ""; }
  function badge(status, prefix) { return el("span", status, "badge " + (prefix || "status-") + status); }
  function number(value) {
    if (value === null || value === undefined) return "";
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
  }
  function cell(row, content, cls) {
    const td = el("td", null, cls);
    if (content instanceof Node) td.appendChild(content); else td.textContent = content === null || content === undefined ? "" : String(content);
    row.appendChild(td);
    return td;
  }
  function emptyRow(tbody, columns, text) {
    const tr = el("tr", null, "empty");
    const td = cell(tr, text);
    td.colSpan = columns;
    tbody.appendChild(tr);
  }

  function renderHealth(data) {
    const summary = data.summary;
    for (const node of document.querySelectorAll("#summary [data-key]")) node.textContent = String(summary[node.dataset.key]);
    for (const node of document.querySelectorAll("#summary [data-status]")) node.textContent = String(summary.by_status[node.dataset.status] || 0);
    const section = document.getElementById("groups");
    const filtered = section.dataset.filtered === "yes";
    const open = new Map();
    for (const details of section.querySelectorAll("details.group")) open.set(details.dataset.group, details.open);
    const fresh = document.createDocumentFragment();
    for (const g of data.groups) {
      const details = el("details", null, "group");
      details.dataset.group = g.group;
      details.open = open.has(g.group) ? open.get(g.group) : (g.status !== "healthy" || filtered);
      const head = el("summary");
      head.append(el("span", g.group, "name"), badge(g.status), el("span", g.mailboxes),
        el("span", g.unhealthy), el("span", g.unhealthy_pct + " %"), el("span", g.avg_risk));
      details.appendChild(head);
      const table = el("table", null, "mailboxes");
      const headRow = el("tr");
      for (const title of ["mailbox", "status", "window bounces/sends", "total sends", "total bounces",
        "cooldown until", "risk", "why", "last transitions"]) headRow.appendChild(el("th", title));
      table.appendChild(el("thead")).appendChild(headRow);
      const tbody = table.appendChild(el("tbody"));
      for (const m of g.members) {
        const tr = el("tr");
        tr.dataset.mailbox = m.name;
        cell(tr, m.name, "name");
        const statusCell = cell(tr, badge(m.status));
        if (m.own_status !== m.status) statusCell.append(" ", el("span", "own: " + m.own_status, "muted own")); cell(tr, m.window, "num");
        cell(tr, m.total_sends, "num"); cell(tr, m.total_bounces, "num"); cell(tr, when(m.cooldown_until));
        cell(tr, m.risk, "num"); cell(tr, m.reason, "reason");
        const list = el("ul", null, "transitions");
        for (const t of m.transitions) list.appendChild(el("li", when(t.planned_at) + " " + t.action + " (" + t.status + ")"));
        cell(tr, list);
        tbody.appendChild(tr);
      }
      details.appendChild(table);
      fresh.appendChild(details);
    }
    if (!data.groups.length) fresh.appendChild(el("p", "No mailbox matches.", "empty"));
    section.replaceChildren(fresh);
  }

  function renderActivity(data) {
    const changes = document.querySelector("#changes tbody");
    const rows = document.createDocumentFragment();
    for (const c of data.changes) {
      const tr = el("tr");
      cell(tr, when(c.changed_at)); cell(tr, c.job); cell(tr, c.run_id, "mono"); cell(tr, c.label, "name");
      cell(tr, c.field); cell(tr, c.old_value || ""); cell(tr, c.new_value || ""); cell(tr, c.reason, "reason");
      cell(tr, c.undo ? el("code", c.undo) : "");
      rows.appendChild(tr);
    }
    changes.replaceChildren(rows);
    if (!data.changes.length) emptyRow(changes, 9, "No change recorded yet.");
    const runs = document.querySelector("#runs tbody");
    const runRows = document.createDocumentFragment();
    for (const r of data.runs) {
      const tr = el("tr");
      cell(tr, r.job); cell(tr, r.key); cell(tr, badge(r.status, "ledger-")); cell(tr, r.run_id || "", "mono");
      cell(tr, r.attempts, "num"); cell(tr, when(r.started_at)); cell(tr, when(r.finished_at)); cell(tr, r.detail || "", "reason");
      runRows.appendChild(tr);
    }
    runs.replaceChildren(runRows);
    if (!data.runs.length) emptyRow(runs, 8, "No reset or freeze recorded yet.");
  }

  function renderTrends(data) {
    for (const table of document.querySelectorAll("table.wow")) {
      const scope = table.dataset.scope;
      const block = data[scope];
      const tbody = table.querySelector("tbody");
      const rows = document.createDocumentFragment();
      for (const s of block.subjects) {
        const tr = el("tr");
        cell(tr, s.name, "name");
        for (const metric of block.metrics) {
          const w = s.week_over_week[metric];
          const td = cell(tr, "", "num");
          if (!w) continue;
          td.appendChild(document.createTextNode(number(w.this_week) + " "));
          const pct = w.change_pct;
          const cls = pct > 0 ? "up" : pct < 0 ? "down" : "flat";
          td.appendChild(el("span", pct === null ? "new" : (pct > 0 ? "+" : "") + pct.toFixed(1) + " %", cls));
        }
        rows.appendChild(tr);
      }
      tbody.replaceChildren(rows);
      if (!block.subjects.length) emptyRow(tbody, block.metrics.length + 1, "No " + scope + " rows in this range.");
    }
  }

  const renderers = { health: renderHealth, activity: renderActivity, trends: renderTrends };

  async function poll() {
    const state = document.getElementById("poll-state");
    try {
      const response = await fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      renderers[page](data);
      document.getElementById("updated").textContent = when(data.generated_at);
      body.dataset.polled = String(parseInt(body.dataset.polled || "0", 10) + 1);
      state.textContent = "· refreshes every " + refresh / 1000 + " s";
      state.classList.remove("failed");
    } catch (error) {
      state.textContent = "· refresh failed (" + error.message + "), retrying";
      state.classList.add("failed");
    }
  }

  if (api && renderers[page]) {
    poll();
    setInterval(poll, refresh);
  }
})();

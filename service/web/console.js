// The researcher's console: live numbers, the model registry, the latest training report.
// The admin key is typed once and kept in this tab's sessionStorage only.

import { ApiError, announce, client, el } from "./api.js";
import { groupedBars, stackedBars } from "./chart.js";

const KEY = "paperfeed.adminKey";
const REFRESH_MS = 10_000;
const $ = (id) => document.getElementById(id);
const api = client(async () => sessionStorage.getItem(KEY));
let timer = null;
let reportShown = null;

const pct = (v) => `${(v * 100).toFixed(1)}%`;
const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
const num = (text) => el("td", { class: "num", text: String(text) });

// --- live numbers -----------------------------------------------------------------------

async function refreshNumbers() {
  const summary = await api.get("/v1/admin/metrics/summary", { hours: $("hours").value });
  renderTotals(summary);
  renderCharts(summary);
  renderTables(summary);
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function renderTotals(s) {
  const clicked = s.by_model.reduce((n, r) => n + r.clicked, 0);
  const saved = s.by_model.reduce((n, r) => n + r.saved, 0);
  const shown = Math.max(s.impressions, 1);
  const items = [
    ["Feeds served", s.feeds],
    ["Papers shown", s.impressions],
    ["Events per minute", s.events_per_minute.toFixed(2)],
    ["Click-through", pct(clicked / shown)],
    ["Save rate", pct(saved / shown)],
  ];
  $("totals").replaceChildren(
    ...items.map(([name, value]) => el("div", { class: "number" }, el("dt", { text: name }), el("dd", { text: String(value) }))),
  );
}

// The window as evenly spaced slots (the API sends only buckets with something in them).
function slots(s, pick) {
  const since = Date.parse(s.since);
  const n = Math.ceil((s.hours * 3600) / s.bucket_seconds);
  const out = Array.from({ length: n }, (_, i) => ({
    label: clock(new Date(since + i * s.bucket_seconds * 1000).toISOString()),
    values: {},
  }));
  for (const bucket of s.timeline) {
    const i = Math.floor((Date.parse(bucket.start) - since) / (s.bucket_seconds * 1000));
    if (out[i]) out[i].values = pick(bucket);
  }
  return out;
}

function figure(caption, parts) {
  return el("figure", {}, el("figcaption", { text: caption }), ...parts);
}

function renderCharts(s) {
  const versions = [...new Set([...s.by_model.map((r) => r.model_version), ...s.timeline.flatMap((b) => Object.keys(b.feeds))])];
  const types = ["click", "save", "unsave", "dismiss"];
  const perMinute = s.bucket_seconds / 60;
  const minutes = (b) => Object.fromEntries(Object.entries(b.events).map(([k, v]) => [k, v / perMinute]));
  const rates = (rows, label) => ({
    groups: rows.map(label),
    series: [
      { name: "Click-through", values: rows.map((r) => r.click_rate) },
      { name: "Save rate", values: rows.map((r) => r.save_rate) },
    ],
    format: pct,
  });
  const byModel = rates(s.by_model, (r) => r.model_version);
  const byPosition = rates(s.by_position, (r) => String(r.position + 1));
  $("charts").replaceChildren(
    figure("Feeds served, by model version", stackedBars({
      slots: slots(s, (b) => b.feeds), series: versions,
      label: `Feeds served per ${perMinute} minutes over the window, by model version: ${s.feeds} in all`,
    })),
    figure("Events per minute, by type", stackedBars({
      slots: slots(s, minutes), series: types, format: (v) => v.toFixed(1),
      label: `Events received per minute over the window, by type: ${s.events_per_minute.toFixed(2)} on average`,
    })),
    figure("Click-through and save rate, by model version", groupedBars({
      ...byModel, label: "Click-through and save rate of the papers shown, by model version",
    })),
    figure("Click-through and save rate, by position (1 = top)", groupedBars({
      ...byPosition, label: "Click-through and save rate of the papers shown, by position in the feed",
    })),
  );
}

function renderTables(s) {
  $("by-model").tBodies[0].replaceChildren(...s.by_model.map((r) => el("tr", { "data-version": r.model_version },
    el("th", { scope: "row", text: r.model_version }), num(r.feeds), num(r.impressions), num(r.clicked),
    num(r.saved), num(pct(r.click_rate)), num(pct(r.save_rate)))));
  $("by-position").tBodies[0].replaceChildren(...s.by_position.map((r) => el("tr", {},
    el("th", { scope: "row", text: String(r.position + 1) }), num(r.impressions), num(r.clicked),
    num(r.saved), num(pct(r.click_rate)), num(pct(r.save_rate)))));
}

// --- models -----------------------------------------------------------------------------

function renderModels(list) {
  $("active-model").textContent = list.active;
  $("models").tBodies[0].replaceChildren(...list.models.map((m) => {
    const d = m.data_window ?? {};
    const span = d.first_served
      ? `${when(d.first_served)} – ${when(d.last_served)}: ${d.train_groups} train, ${d.selection_groups} selection, ${d.comparison_groups} comparison feeds`
      : "unknown";
    const scores = Object.entries(m.metrics ?? {})
      .filter(([, v]) => v && typeof v["ndcg@10"] === "number")
      .map(([name, v]) => `${name === m.version ? "this model" : name}: ${v["ndcg@10"].toFixed(4)}`);
    const activate = el("button", {
      type: "button", text: m.active ? "Active" : "Activate", disabled: m.active,
      "aria-label": m.active ? `${m.version} is active` : `Activate ${m.version}`,
      onclick: () => change(`/v1/admin/models/${encodeURIComponent(m.version)}/activate`, `Activated ${m.version}`),
    });
    const report = el("button", {
      type: "button", class: "link", text: "Report", "aria-label": `Training report of ${m.version}`,
      onclick: () => showReport(m.version),
    });
    return el("tr", { "data-version": m.version },
      el("th", { scope: "row" }, m.version, m.active ? el("span", { class: "badge", text: "active" }) : null,
        el("div", { class: "note", text: `registered ${when(m.created_at)}` })),
      el("td", { text: span }),
      el("td", { text: scores.join(" · ") || "—" }),
      el("td", {}, el("div", { class: "actions" }, activate, report)));
  }));
}

async function refreshModels() {
  const list = await api.get("/v1/admin/models");
  renderModels(list);
  if (!reportShown && list.models.length) await showReport(list.models[0].version);
}

async function change(path, done) {
  try {
    const list = await api.post(path);
    renderModels(list);
    announce(`${done}: feeds are now ranked by ${list.active}`);
    await refreshNumbers();
  } catch (err) {
    announce(err.message, true);
  }
}

// --- the training report ----------------------------------------------------------------

async function showReport(version) {
  const r = await api.get(`/v1/admin/models/${encodeURIComponent(version)}/report`);
  reportShown = version;
  const m = r.manifest ?? {};
  const d = m.data ?? {};
  const rows = Object.entries(m.metrics ?? {}).map(([name, v]) => el("tr", {},
    el("th", { scope: "row", text: name }), num(v["ndcg@5"]?.toFixed(4) ?? "—"), num(v["ndcg@10"]?.toFixed(4) ?? "—")));
  $("report").replaceChildren(
    el("h3", { text: `Model ${r.version}` }),
    el("p", { class: "note", text: `registered ${when(r.created_at)}` }),
    d.first_served ? el("p", { text: `Trained on feeds served ${when(d.first_served)} – ${when(d.last_served)}: ${d.train_groups} feeds to train, ${d.selection_groups} to choose the trees, ${d.comparison_groups} to compare.` }) : null,
    m.gate ? el("p", {}, el("strong", { text: "Promotion gate: " }), m.gate.verdict) : null,
    rows.length ? el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "sr-only", text: "NDCG on the comparison feeds, by ranker" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Ranker" }), el("th", { scope: "col", class: "num", text: "NDCG@5" }), el("th", { scope: "col", class: "num", text: "NDCG@10" }))),
      el("tbody", {}, rows))) : null,
    m.top_features ? el("p", { text: `Top features (gain): ${m.top_features.slice(0, 6).join(", ")}` }) : null,
    ...r.plots.map((p) => el("figure", {},
      el("img", { src: `data:image/png;base64,${p.png}`, alt: `${p.name.replace(".png", "")} plot of ${r.version}` }),
      el("figcaption", { text: p.name }))),
    r.report_markdown ? el("details", {}, el("summary", { text: "report.md" }), el("pre", { text: r.report_markdown })) : null,
  );
}

// --- the key and the refresh loop -------------------------------------------------------

async function refreshAll() {
  try {
    await Promise.all([refreshNumbers(), refreshModels()]);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      forget();
      announce(`The key was refused: ${err.message}`, true);
    } else {
      announce(`Could not refresh: ${err.message}`, true);
    }
  }
}

function showKeyState() {
  const held = Boolean(sessionStorage.getItem(KEY));
  $("key-panel").hidden = held;
  $("key-held").hidden = !held;
  $("main").hidden = !held;
  clearInterval(timer);
  if (held) {
    refreshAll();
    timer = setInterval(refreshAll, REFRESH_MS);
  }
}

function forget() {
  sessionStorage.removeItem(KEY);
  reportShown = null;
  showKeyState();
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("admin-key").value.trim());
  $("admin-key").value = "";
  showKeyState();
  $("main").focus();
});
$("forget-key").addEventListener("click", () => {
  forget();
  $("admin-key").focus();
});
$("hours").addEventListener("change", refreshAll);
$("refresh").addEventListener("click", refreshAll);
$("use-heuristic").addEventListener("click", () => change("/v1/admin/models/heuristic/activate", "Activated the heuristic"));
$("rollback").addEventListener("click", () => change("/v1/admin/models/rollback", "Rolled back"));
showKeyState();

// The reader's page: a reference frontend built on the public API only.
//
// Credentials: the page only ever holds a reader token. A site opens it as /#token=…
// (minted by its backend with POST /v1/tokens); in demo mode (`paperfeed serve
// --demo-key`) the server mints one for the reader id typed here (POST /v1/demo/tokens).
// Events carry a fresh event_id each (the API's idempotency key, so a retry is harmless)
// and, for papers shown in a feed, that feed's request_id.
//
// Views live in VIEWS: a new one (a day's papers, onboarding) is one entry and one button.

import { ApiError, announce, client, el } from "./api.js";

const SESSION_KEY = "paperfeed.reader";
const PAGE_SIZE = 20;
const SHORT_ABSTRACT = 220; // characters shown before "More"

const state = {
  demo: false,
  token: null,
  user: null,
  expires: 0, // ms since the epoch
  view: "feed",
  query: "",
  next: null, // the feed's cursor for its next page, where the API gives one
};
const papers = new Map(); // paper id -> Promise of GET /v1/papers/{id} (or null)
let uid = 0;

// --- credentials ------------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function adopt(token) {
  const c = claims(token);
  if (!c?.sub || !c?.exp) return false;
  Object.assign(state, { token, user: c.sub, expires: c.exp * 1000 });
  sessionStorage.setItem(SESSION_KEY, token);
  return true;
}

async function credential() {
  if (Date.now() > state.expires - 30_000) {
    if (state.demo && state.user) {
      const body = await api.post("/v1/demo/tokens", { user_id: state.user }, { auth: false });
      adopt(body.token);
    } else if (Date.now() > state.expires) {
      show("no-token");
      throw new ApiError(401, "the reader token has expired; open this page from your site again");
    }
  }
  return state.token;
}

const api = client(credential);

// --- events -----------------------------------------------------------------------------

const outbox = [];
let sending = Promise.resolve();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const retryable = (err) => err instanceof ApiError && (err.status === 0 || err.status === 429 || err.status >= 500);

// Queue one event and send the queue; resolves once it is stored (or given up on).
function record(type, paperId, requestId) {
  const event = {
    event_id: crypto.randomUUID(),
    user_id: state.user,
    paper_id: paperId,
    type,
    occurred_at: new Date().toISOString(),
  };
  if (requestId) event.request_id = requestId;
  outbox.push(event);
  sending = sending.then(() => send());
  return sending;
}

async function send(attempt = 0) {
  if (!outbox.length) return;
  const batch = outbox.slice();
  try {
    const result = await api.post("/v1/events", { events: batch });
    outbox.splice(0, batch.length);
    if (result.rejected.length) announce(`Not recorded: ${result.rejected[0].reason}`, true);
  } catch (err) {
    if (retryable(err) && attempt < 5) {
      await sleep(500 * 2 ** attempt); // same event ids: the server keeps each once
      return send(attempt + 1);
    }
    outbox.splice(0, batch.length);
    announce(`Could not record that: ${err.message}`, true);
  }
}

// --- papers and why they are shown ------------------------------------------------------

function paper(id) {
  if (!papers.has(id)) {
    papers.set(id, api.get(`/v1/papers/${encodeURIComponent(id)}`).catch(() => null));
  }
  return papers.get(id);
}

const REASONS = {
  collaborative: "Saved by readers who saved what you saved",
  popular: "Popular with readers this week",
  fresh: "New in the catalogue",
  explore: "Something different, so that your feed learns what else you like",
  search: "Matches your search",
};

// The API's own sentence where it gives one (`explanation`), else one made from `reasons`.
async function explanation(item) {
  if (item.explanation) return item.explanation;
  const parts = [];
  for (const reason of item.reasons ?? []) {
    if (reason === "similar") {
      const like = item.similar_to ? await paper(item.similar_to) : null;
      parts.push(like ? `Similar to “${like.title}”, which you read` : "Close to what you read");
    } else if (REASONS[reason]) {
      parts.push(REASONS[reason]);
    }
  }
  return parts.join(" · ");
}

// --- one paper on the page --------------------------------------------------------------

// `ctx`: where the paper is shown: {requestId (feeds only), nested (inside "Similar")}.
function card(item, details, why, ctx) {
  const n = ++uid;
  const id = item.paper_id;
  const title = details?.title ?? item.title;
  let clicked = false;
  const click = () => {
    if (!clicked) record("click", id, ctx.requestId);
    clicked = true;
  };

  const heading = el("h3", { id: `t${n}` },
    details?.url
      ? el("a", { href: details.url, target: "_blank", rel: "noopener noreferrer", onclick: click }, title)
      : title);
  const authors = details?.authors?.length
    ? el("p", { class: "authors", text: details.authors.join(", ") })
    : null;

  const full = details?.abstract ?? "";
  const long = full.length > SHORT_ABSTRACT;
  const abstract = el("p", { class: "abstract", id: `a${n}` },
    long ? `${full.slice(0, SHORT_ABSTRACT).trimEnd()}…` : full);
  const more = long
    ? el("button", {
        type: "button", class: "link", "aria-expanded": "false", "aria-controls": `a${n}`,
        "aria-label": `Show the whole abstract of ${title}`, text: "More",
        onclick: () => {
          const open = more.getAttribute("aria-expanded") !== "true";
          more.setAttribute("aria-expanded", String(open));
          more.textContent = open ? "Less" : "More";
          abstract.textContent = open ? full : `${full.slice(0, SHORT_ABSTRACT).trimEnd()}…`;
          if (open) click(); // reading the abstract is opening the paper
        },
      })
    : null;

  const save = el("button", {
    type: "button", class: "save", "aria-pressed": "false", "aria-describedby": `t${n}`, text: "Save",
    onclick: async () => {
      const saving = save.getAttribute("aria-pressed") !== "true";
      save.setAttribute("aria-pressed", String(saving));
      save.textContent = saving ? "Saved" : "Save";
      await record(saving ? "save" : "unsave", id, ctx.requestId);
      announce(saving ? `Saved “${title}”` : `Removed “${title}” from your library`);
    },
  });
  const dismiss = el("button", {
    type: "button", class: "dismiss", "aria-describedby": `t${n}`, text: "Not interested",
    onclick: async () => {
      const li = dismiss.closest("li");
      const next = li.nextElementSibling ?? li.previousElementSibling;
      li.remove();
      (next?.querySelector("button, a") ?? document.getElementById("main")).focus();
      await record("dismiss", id, ctx.requestId);
      announce(`Hidden “${title}”: you will not see it again`);
    },
  });

  const actions = el("div", { class: "actions" }, save, dismiss);
  let similar = null;
  if (!ctx.nested) {
    similar = el("div", { class: "similar", id: `s${n}`, hidden: true });
    const toggle = el("button", {
      type: "button", class: "show-similar", "aria-expanded": "false", "aria-controls": `s${n}`,
      "aria-describedby": `t${n}`, text: "Similar papers",
      onclick: async () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        similar.hidden = !open;
        if (open && !similar.childElementCount) await fillSimilar(similar, id, title);
      },
    });
    actions.append(toggle);
  }

  return el("li", { class: "card", "data-paper": id },
    el("article", { "aria-labelledby": `t${n}` },
      heading, authors, el("div", { class: "abstract-box" }, abstract, more),
      why ? el("p", { class: "why", text: why }) : null,
      actions, similar));
}

async function fillSimilar(box, id, title) {
  box.append(el("h4", { text: `Similar to “${title}”` }));
  const list = el("ol", { class: "papers nested", "aria-busy": "true" });
  box.append(list);
  try {
    const body = await api.get(`/v1/papers/${encodeURIComponent(id)}/similar`, { limit: 5 });
    await renderItems(list, body.items, { nested: true });
    if (!body.items.length) list.append(el("li", { class: "empty", text: "Nothing similar yet." }));
  } catch (err) {
    list.append(el("li", { class: "empty", text: `Could not load similar papers: ${err.message}` }));
  }
  list.removeAttribute("aria-busy");
}

async function renderItems(list, items, ctx, append = false) {
  const details = await Promise.all(items.map((i) => paper(i.paper_id)));
  const whys = await Promise.all(items.map((i) => (ctx.nested ? "" : explanation(i))));
  const cards = items.map((item, i) => card(item, details[i], whys[i], ctx));
  if (append) list.append(...cards);
  else list.replaceChildren(...cards);
}

// --- views ------------------------------------------------------------------------------

async function loadFeed({ cursor } = {}) {
  const path = `/v1/users/${encodeURIComponent(state.user)}/feed`;
  const body = await api.get(path, { limit: PAGE_SIZE, cursor });
  state.next = body.next ?? null; // endless scrolling where the API pages the feed
  await renderItems(list(), body.items, { requestId: body.request_id }, Boolean(cursor));
  return {
    note: `Ranked for ${state.user} by ${body.model_version}`,
    empty: "Nothing to show yet: the catalogue may still be loading.",
  };
}

async function loadList(path, params, note, empty) {
  const body = await api.get(path, params);
  state.next = null;
  await renderItems(list(), body.items, {});
  return { note, empty, count: body.items.length };
}

const VIEWS = {
  feed: { title: () => "For you", load: loadFeed },
  trending: {
    title: () => "Trending this week",
    load: () => loadList("/v1/trending", { days: 7, limit: PAGE_SIZE },
      "Most saved and clicked in the last 7 days", "Nothing trending yet."),
  },
  search: {
    title: () => `Search: ${state.query}`,
    load: () => loadList("/v1/search", { q: state.query, limit: PAGE_SIZE },
      "Closest in meaning to your words", "No matches."),
  },
};

const list = () => document.getElementById("papers");

async function showView(name) {
  state.view = name;
  const view = VIEWS[name];
  for (const b of document.querySelectorAll("[data-view]")) {
    b.setAttribute("aria-pressed", String(b.dataset.view === name));
  }
  document.getElementById("view-title").textContent = view.title();
  const note = document.getElementById("view-note");
  list().setAttribute("aria-busy", "true");
  try {
    const shown = await view.load();
    note.textContent = shown.note;
    if (!list().childElementCount) list().append(el("li", { class: "empty", text: shown.empty }));
    announce(`${view.title()}: ${list().querySelectorAll(":scope > li.card").length} papers`);
  } catch (err) {
    list().replaceChildren();
    note.textContent = "";
    announce(`Could not load ${view.title()}: ${err.message}`, true);
  } finally {
    list().removeAttribute("aria-busy");
    document.getElementById("more").hidden = !(state.view === "feed" && state.next);
  }
}

async function loadMore() {
  if (state.view !== "feed" || !state.next || list().getAttribute("aria-busy")) return;
  list().setAttribute("aria-busy", "true");
  try {
    await loadFeed({ cursor: state.next });
  } catch (err) {
    announce(`Could not load more: ${err.message}`, true);
  } finally {
    list().removeAttribute("aria-busy");
    document.getElementById("more").hidden = !state.next;
  }
}

// --- the page's panels ------------------------------------------------------------------

function show(panel) {
  for (const id of ["signin", "no-token", "reader"]) {
    document.getElementById(id).hidden = id !== panel;
  }
  const who = document.getElementById("who");
  who.hidden = panel !== "reader";
  document.getElementById("reader-name").textContent = state.user ?? "";
  document.getElementById("switch-reader").hidden = !state.demo;
}

async function openReader() {
  show("reader");
  await showView("feed");
}

async function showSignin() {
  show("signin");
  const known = document.getElementById("known-readers");
  try {
    const body = await api.get("/v1/demo/readers", {}, { auth: false });
    known.replaceChildren(...body.readers.map((r) => el("option", { value: r })));
  } catch {
    // Suggestions are a convenience; typing works without them.
  }
  document.getElementById("reader-id").focus();
}

async function isDemo() {
  try {
    await api.get("/v1/demo/readers", {}, { auth: false });
    return true;
  } catch {
    return false; // 404: no demo routes on this server
  }
}

async function start() {
  document.getElementById("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const user = document.getElementById("reader-id").value.trim();
    try {
      const body = await api.post("/v1/demo/tokens", { user_id: user }, { auth: false });
      adopt(body.token);
      await openReader();
    } catch (err) {
      announce(`Could not open that reader: ${err.message}`, true);
    }
  });
  document.getElementById("switch-reader").addEventListener("click", () => {
    sessionStorage.removeItem(SESSION_KEY);
    Object.assign(state, { token: null, user: null, expires: 0 });
    showSignin();
  });
  for (const b of document.querySelectorAll("[data-view]")) {
    b.addEventListener("click", () => showView(b.dataset.view));
  }
  document.getElementById("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.query = document.getElementById("search-q").value.trim();
    if (state.query) showView("search");
  });
  document.getElementById("more-button").addEventListener("click", loadMore);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }).observe(document.getElementById("more"));

  // A token in the fragment (from the reader's site) wins; it leaves the address bar at
  // once and lives in this tab's sessionStorage, so a reload keeps the reader signed in.
  const fromSite = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromSite) history.replaceState(null, "", location.pathname + location.search);
  const token = fromSite ?? sessionStorage.getItem(SESSION_KEY);
  if (token) adopt(token);
  state.demo = await isDemo();
  if (state.token && (state.demo || Date.now() < state.expires)) await openReader();
  else if (state.demo) await showSignin();
  else show("no-token");
}

start();

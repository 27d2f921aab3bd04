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
import { paperCards } from "./cards.js";
import { eventSender } from "./events.js";

const SESSION_KEY = "paperfeed.reader";
const PAGE_SIZE = 20;

const state = {
  demo: false,
  token: null,
  user: null,
  expires: 0, // ms since the epoch
  view: "feed",
  query: "",
  next: null, // the feed's cursor for its next page, where the API gives one
};

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

// How the page posts events (events.js) and shows papers (cards.js).
const record = eventSender(api, () => state.user);
const renderItems = paperCards(api, record);

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

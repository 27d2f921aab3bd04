// The reader's page: a reference frontend built on the public API only.
//
// Credentials: the page only ever holds a reader token. A site opens it as /#token=…
// (minted by its backend with POST /v1/tokens); in demo mode (`paperfeed serve
// --demo-key`) the server mints one for the reader id typed here (POST /v1/demo/tokens).
// Events carry a fresh event_id each (the API's idempotency key, so a retry is harmless)
// and, for papers shown in a feed, that feed's request_id.
//
// Views live in VIEWS: each is one entry, one button, and the parts of <main> it shows.
// The feed pages with the API's cursor ("More papers", or scrolling to the end).

import { ApiError, announce, client, el } from "./api.js";
import { paperCards } from "./cards.js";
import { digestForm } from "./digest.js";
import { eventSender } from "./events.js";
import { interestsForm } from "./onboarding.js";

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
  day: new Date().toISOString().slice(0, 10), // "Daily Papers": a UTC day
  isNew: false, // no interests and no saves yet: offer onboarding
  shown: 0, // counts views shown: a late answer for an earlier one is dropped
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
const loadInterests = interestsForm(api, () => state.user, async () => {
  state.isNew = false;
  await showView("feed");
});
const loadDigest = digestForm(api, () => state.user);

// --- views ------------------------------------------------------------------------------

async function loadFeed({ cursor } = {}) {
  const path = `/v1/users/${encodeURIComponent(state.user)}/feed`;
  // A cursor carries the page size; the API refuses another limit beside it.
  const shown = state.shown;
  const body = await api.get(path, cursor ? { cursor } : { limit: PAGE_SIZE });
  if (shown !== state.shown) return {}; // the reader moved on meanwhile
  state.next = body.next ?? null;
  // The API never repeats a paper across pages; the page makes sure of it all the same.
  const onPage = new Set([...list().children].map((li) => li.dataset.paper));
  const items = cursor ? body.items.filter((i) => !onPage.has(i.paper_id)) : body.items;
  await renderItems(list(), items, { requestId: body.request_id }, Boolean(cursor));
  return {
    note: `Ranked for ${state.user} by ${body.model_version}`,
    empty: "Nothing to show yet: the catalogue may still be loading.",
  };
}

async function loadList(path, params, note, empty) {
  const shown = state.shown;
  const body = await api.get(path, params);
  if (shown !== state.shown) return {};
  state.next = null;
  await renderItems(list(), body.items, {});
  return { note, empty, count: body.items.length };
}

function shiftDay(days) {
  const d = new Date(`${state.day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function loadDay() {
  const today = new Date().toISOString().slice(0, 10);
  const input = document.getElementById("day");
  Object.assign(input, { value: state.day, max: today });
  document.getElementById("day-next").disabled = state.day >= today;
  const by = document.getElementById("day-by").value;
  const note = by === "published"
    ? "Published that day, the most saved and clicked first"
    : "Most saved (×3) and clicked (×1) by readers that day";
  return loadList("/v1/trending", { date: state.day, by, limit: PAGE_SIZE }, note,
    "No papers for that day: try the previous day.");
}

// A view shows the paper list unless it names its own parts of <main> in `parts`.
const VIEWS = {
  feed: { title: () => "For you", load: loadFeed },
  daily: { title: () => `Daily Papers, ${state.day}`, load: loadDay, parts: ["day-form", "papers"] },
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
  interests: {
    title: () => "Your interests",
    parts: ["interests-form"],
    load: async () => {
      const now = await loadInterests();
      const n = now.topics.length + now.paper_ids.length;
      return {
        note: n
          ? `${n} interests, weighing ${Math.round(now.weight * 100)}% of a saved paper (less as you save papers)`
          : "Pick topics or papers: your next feed starts from them",
      };
    },
  },
  digest: {
    title: () => "E-mail digest",
    parts: ["digest"],
    load: async () => {
      await loadDigest();
      return { note: "Your top new papers in your inbox, daily or weekly" };
    },
  },
};
const PARTS = ["welcome", "day-form", "papers", "more", "interests-form", "digest"];

const list = () => document.getElementById("papers");

async function showView(name) {
  state.view = name;
  const seq = ++state.shown;
  const view = VIEWS[name];
  for (const b of document.querySelectorAll("[data-view]")) {
    b.setAttribute("aria-pressed", String(b.dataset.view === name));
  }
  document.getElementById("view-title").textContent = view.title();
  const parts = view.parts ?? ["papers"];
  const isList = parts.includes("papers");
  // A form appears once filled, so that nothing typed early is overwritten.
  const reveal = () => { for (const id of PARTS) document.getElementById(id).hidden = !parts.includes(id); };
  if (isList) reveal();
  else for (const id of PARTS) document.getElementById(id).hidden = true;
  document.getElementById("welcome").hidden = !(name === "feed" && state.isNew);
  const note = document.getElementById("view-note");
  list().replaceChildren();
  list().setAttribute("aria-busy", "true");
  try {
    const shown = await view.load();
    if (seq !== state.shown) return; // another view was asked for meanwhile
    note.textContent = shown.note;
    if (!isList) return reveal();
    if (!list().childElementCount) list().append(el("li", { class: "empty", text: shown.empty }));
    const n = list().querySelectorAll(":scope > li.card").length;
    announce(`${view.title()}: ${n} ${n === 1 ? "paper" : "papers"}`);
  } catch (err) {
    if (seq !== state.shown) return;
    list().replaceChildren();
    note.textContent = "";
    announce(`Could not load ${view.title()}: ${err.message}`, true);
  } finally {
    if (seq === state.shown) {
      list().removeAttribute("aria-busy");
      document.getElementById("more").hidden = !(state.view === "feed" && state.next);
    }
  }
}

async function loadMore() {
  if (state.view !== "feed" || !state.next || list().getAttribute("aria-busy")) return;
  list().setAttribute("aria-busy", "true");
  const seq = state.shown;
  const before = list().childElementCount;
  try {
    await loadFeed({ cursor: state.next });
    if (seq === state.shown) announce(`${list().childElementCount - before} more papers`);
  } catch (err) {
    if (seq === state.shown) announce(`Could not load more: ${err.message}`, true);
  } finally {
    if (seq === state.shown) {
      list().removeAttribute("aria-busy");
      document.getElementById("more").hidden = !state.next;
    }
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
  try {
    const mine = await api.get(`/v1/users/${encodeURIComponent(state.user)}/interests`);
    state.isNew = !mine.topics.length && !mine.paper_ids.length && mine.weight === 1;
  } catch {
    state.isNew = false; // onboarding is an offer; the feed works without it
  }
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
  document.getElementById("welcome-start").addEventListener("click", async () => {
    await showView("interests");
    document.querySelector("#suggested input")?.focus();
  });
  const goToDay = (day) => {
    if (!day) return;
    state.day = day;
    showView("daily");
  };
  document.getElementById("day").addEventListener("change", (e) => goToDay(e.target.value));
  document.getElementById("day-prev").addEventListener("click", () => goToDay(shiftDay(-1)));
  document.getElementById("day-next").addEventListener("click", () => goToDay(shiftDay(1)));
  document.getElementById("day-by").addEventListener("change", () => showView("daily"));
  document.getElementById("day-form").addEventListener("submit", (e) => e.preventDefault());
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

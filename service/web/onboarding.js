// Onboarding: the reader says what they care about (PUT /v1/users/{id}/interests), as
// free-text topics, suggested topics, or papers picked from what is popular or found by
// search. The very next feed is shaped by them.

import { announce, el } from "./api.js";

const MAX_TOPICS = 10; // as the API allows
const MAX_PAPERS = 20;
// A few broad starting points; any free text works as well.
const SUGGESTED = [
  "large language models",
  "computer vision",
  "reinforcement learning",
  "protein structure prediction",
  "graph neural networks",
  "diffusion models for image generation",
  "robotics",
  "causal inference",
];

// `reader()` names the reader; `done()` runs once their interests are saved.
export function interestsForm(api, reader, done) {
  const form = document.getElementById("interests-form");
  const suggested = document.getElementById("suggested");
  const pickable = document.getElementById("pickable");
  const path = () => `/v1/users/${encodeURIComponent(reader())}/interests`;
  let uid = 0;

  function checkbox(value, label, checked, name) {
    const id = `${name}${++uid}`;
    return el("label", { class: "choice", for: id },
      el("input", { type: "checkbox", id, name, value, checked }), ` ${label}`);
  }

  const picked = () => [...pickable.querySelectorAll("input:checked")].map((i) => i.value);

  // Papers offered for picking: the ones already picked stay, checked; `items` join them.
  function offer(items) {
    const keep = new Set(picked());
    const kept = [...pickable.children].filter((c) => keep.has(c.querySelector("input")?.value));
    const fresh = items.filter((i) => !keep.has(i.paper_id))
      .map((i) => checkbox(i.paper_id, i.title, false, "paper"));
    pickable.replaceChildren(...kept, ...fresh);
    if (!pickable.childElementCount) {
      pickable.append(el("p", { class: "note", text: "Nothing popular yet: find papers above." }));
    }
  }

  // Fills the form with the reader's interests now; returns them.
  async function load() {
    const now = await api.get(path());
    suggested.replaceChildren(...SUGGESTED.map((t) => checkbox(t, t, now.topics.includes(t), "topic")));
    document.getElementById("topics").value =
      now.topics.filter((t) => !SUGGESTED.includes(t)).join("\n");
    const mine = await Promise.all(now.paper_ids.map(async (id) => {
      const paper = await api.get(`/v1/papers/${encodeURIComponent(id)}`).catch(() => null);
      return checkbox(id, paper?.title ?? id, true, "paper");
    }));
    pickable.replaceChildren(...mine);
    const popular = await api.get("/v1/trending", { days: 7, limit: 8 }).catch(() => ({ items: [] }));
    offer(popular.items);
    return now;
  }

  async function find() {
    const q = document.getElementById("pick-q").value.trim();
    if (!q) return;
    const found = await api.get("/v1/search", { q, limit: 8 });
    offer(found.items);
    announce(`${found.items.length} papers found for “${q}”: tick the ones you like`);
  }

  async function save(topics, paperIds) {
    try {
      await api.put(path(), { topics, paper_ids: paperIds });
    } catch (err) {
      announce(`Could not save your interests: ${err.message}`, true);
      return;
    }
    announce(topics.length || paperIds.length ? "Saved your interests" : "Cleared your interests");
    await done();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const typed = document.getElementById("topics").value.split("\n").map((t) => t.trim());
    const ticked = [...suggested.querySelectorAll("input:checked")].map((i) => i.value);
    const topics = [...new Set([...ticked, ...typed])].filter(Boolean);
    const papers = picked();
    if (!topics.length && !papers.length) {
      announce("Pick or type a topic, or tick a paper, first", true);
      return;
    }
    if (topics.length > MAX_TOPICS || papers.length > MAX_PAPERS) {
      announce(`At most ${MAX_TOPICS} topics and ${MAX_PAPERS} papers, please`, true);
      return;
    }
    save(topics, papers);
  });
  document.getElementById("interests-clear").addEventListener("click", () => save([], []));
  document.getElementById("pick-search").addEventListener("click", () =>
    find().catch((err) => announce(`Could not search: ${err.message}`, true)));
  document.getElementById("pick-q").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault(); // Enter here searches rather than saving the form
      document.getElementById("pick-search").click();
    }
  });

  return load;
}

// Papers on the page: a card per paper (title, authors, an abstract that expands, why it is
// shown, Save, Not interested, Similar papers), filled from GET /v1/papers/{id}.

import { announce, el } from "./api.js";

const SHORT_ABSTRACT = 220; // characters shown before "More"
const REASONS = {
  collaborative: "Saved by readers who saved what you saved",
  popular: "Popular with readers this week",
  fresh: "New in the catalogue",
  explore: "Something different, so that your feed learns what else you like",
  search: "Matches your search",
};

// Returns `renderItems(list, items, ctx, append)`: `items` as the API lists them, `ctx`
// where they come from ({requestId} for a feed's, {nested} inside "Similar papers").
export function paperCards(api, record) {
  const papers = new Map(); // paper id -> Promise of GET /v1/papers/{id} (or null)
  let uid = 0;

  function paper(id) {
    if (!papers.has(id)) {
      papers.set(id, api.get(`/v1/papers/${encodeURIComponent(id)}`).catch(() => null));
    }
    return papers.get(id);
  }

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

  // The API marks a title in its sentence as *Title*: shown as a quoted citation.
  function sentence(text) {
    return text.split(/\*([^*]+)\*/).map((part, i) => (i % 2 ? el("cite", { text: `“${part}”` }) : part));
  }

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
        why ? el("p", { class: "why" }, sentence(why)) : null,
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

  return renderItems;
}

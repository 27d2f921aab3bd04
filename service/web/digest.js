// The e-mail digest: subscribe, change or unsubscribe with the reader's own token
// (PUT, GET and DELETE /v1/users/{id}/subscription).

import { ApiError, announce } from "./api.js";

const when = (iso) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

// `reader()` names the reader. Returns `load()`, which shows their subscription now.
export function digestForm(api, reader) {
  const form = document.getElementById("digest-form");
  const stateLine = document.getElementById("digest-state");
  const stop = document.getElementById("digest-stop");
  const submit = document.getElementById("digest-submit");
  const path = () => `/v1/users/${encodeURIComponent(reader())}/subscription`;

  function show(sub) {
    stop.hidden = !sub;
    submit.textContent = sub ? "Update subscription" : "Subscribe";
    if (!sub) {
      stateLine.textContent = "You are not subscribed: get your top papers by e-mail.";
      return;
    }
    form.elements["digest-email"].value = sub.email;
    form.elements.frequency.value = sub.frequency;
    form.elements["digest-max"].value = sub.max_items;
    const failed = sub.last_error ? ` The last delivery failed (${sub.last_error}); it is retried.` : "";
    stateLine.textContent =
      `Subscribed: ${sub.max_items} papers ${sub.frequency} to ${sub.email}; ` +
      `next digest from ${when(sub.next_due_at)}.${failed}`;
  }

  async function load() {
    try {
      show(await api.get(path()));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      show(null);
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      email: form.elements["digest-email"].value.trim(),
      frequency: form.elements.frequency.value,
      max_items: Number(form.elements["digest-max"].value),
    };
    try {
      show(await api.put(path(), body));
      announce(`Subscribed ${body.email} to a ${body.frequency} digest`);
    } catch (err) {
      announce(`Could not subscribe: ${err.message}`, true);
    }
  });
  stop.addEventListener("click", async () => {
    try {
      await api.delete(path());
      show(null);
      announce("Unsubscribed: no more digests, and your address is deleted");
      submit.focus();
    } catch (err) {
      announce(`Could not unsubscribe: ${err.message}`, true);
    }
  });

  return load;
}

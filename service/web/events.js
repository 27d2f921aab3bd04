// Feedback events as a frontend should send them: each with a fresh event_id (the API's
// idempotency key, so a retried batch is stored once) and, for a paper shown in a feed, that
// feed's request_id. Events queue and go out in order; a batch that fails for a reason
// worth retrying (no connection, 429, 5xx) is retried with the same ids.

import { ApiError, announce } from "./api.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const retryable = (err) => err instanceof ApiError && (err.status === 0 || err.status === 429 || err.status >= 500);

// `reader()` names the reader the events are about. Returns `record(type, paperId,
// requestId)`, which resolves once the event is stored (or given up on).
export function eventSender(api, reader) {
  const outbox = [];
  let sending = Promise.resolve();

  function record(type, paperId, requestId) {
    const event = {
      event_id: crypto.randomUUID(),
      user_id: reader(),
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

  return record;
}

// The chat beside a show's recording follows the playback: the messages up to the video's
// time are marked as said, the latest of them is kept in view, the rest wait dimmed.
// A show can hold 100,000 messages, so the page holds one page of them (500) and the next
// pages come from the JSON endpoint as the playback nears the last one loaded; a jump
// in the video further than that loads the chat from where it landed instead. Without a
// recording, "Later messages" appends the next page in place. Chat text is only ever set
// as text, never as HTML.
(function () {
  "use strict";
  const log = document.querySelector("[data-testid=replay-chat]");
  if (!log) return;
  const video = document.querySelector("video[data-testid=replay-player]");
  const more = document.querySelector("[data-testid=replay-more]");
  const chatUrl = log.dataset.chatUrl;
  // Seconds of chat kept loaded ahead of the playback; a jump back lands this far before.
  const AHEAD = 60;
  // Messages kept in the page at most while the recording plays on: the oldest go first.
  const KEEP = 3000;
  const RETRY_MS = 5000;

  let items = [];          // [{li, offset}] in order
  let next = more ? more.dataset.next : null;  // decimal text: ids outgrow a JavaScript Number
  let fromStart = log.hasAttribute("data-from-start");
  let said = -1;           // index of the latest message said at the playback time
  let loading = null;
  let retryAfter = 0;

  function collect() {
    items = Array.from(log.querySelectorAll("li[data-offset]"), (li) => ({ li, offset: Number(li.dataset.offset) }));
  }

  function line(message) {
    const li = document.createElement("li");
    li.dataset.id = message.id;
    li.dataset.offset = String(message.offset);
    const time = document.createElement("time");
    time.dateTime = "PT" + message.offset + "S";
    time.dir = "ltr";
    time.textContent = message.label;
    const name = document.createElement("strong");
    name.dir = "auto";
    name.textContent = message.name;
    const text = document.createElement("span");
    text.className = "text";
    text.dir = "auto";
    text.textContent = message.text;
    li.append(time, " ", name, " ", text);
    return li;
  }

  function showMore() {
    if (!more) return;
    more.hidden = !next;
    if (next) {
      more.dataset.next = next;
      more.href = "?after=" + encodeURIComponent(next);
    }
  }

  // Fetch a page: after the last message loaded, or (replacing the list) from ``at`` seconds.
  function load(params, replace) {
    if (loading || Date.now() < retryAfter) return loading || Promise.resolve();
    loading = fetch(chatUrl + "?" + new URLSearchParams(params), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
      .then((page) => {
        if (replace) {
          log.replaceChildren();
          said = -1;
          fromStart = Number(params.at) === 0;
        } else {
          log.querySelectorAll("li:not([data-offset])").forEach((li) => li.remove());
        }
        log.append(...page.messages.map(line));
        next = page.next;
        collect();
        if (items.length > KEEP && video) {
          const drop = items.length - KEEP;
          items.slice(0, drop).forEach((item) => item.li.remove());
          items = items.slice(drop);
          said = Math.max(said - drop, -1);
          fromStart = false;
        }
        showMore();
      })
      .catch(() => { retryAfter = Date.now() + RETRY_MS; }) // tried again at a later time update
      .finally(() => { loading = null; });
    return loading;
  }

  // The index of the last message at or before ``seconds`` (-1: none yet).
  function indexAt(seconds) {
    let low = 0;
    let high = items.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (items[middle].offset <= seconds) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  function follow(seconds) {
    const now = indexAt(seconds);
    if (now === said) return;
    // Only what changed since the last update is touched: a long list stays cheap.
    for (let i = said + 1; i <= now; i++) items[i].li.dataset.said = "";
    for (let i = now + 1; i <= said; i++) delete items[i].li.dataset.said;
    if (said >= 0 && items[said]) items[said].li.removeAttribute("aria-current");
    said = now;
    log.dataset.playbackSeconds = String(Math.floor(seconds));
    if (now < 0) {
      log.scrollTop = 0;
      return;
    }
    const current = items[now].li;
    current.setAttribute("aria-current", "true");
    // Scroll the list, not the page: the viewer is watching the video above it.
    const top = current.offsetTop - log.clientHeight + current.offsetHeight;
    if (top > log.scrollTop || current.offsetTop < log.scrollTop) log.scrollTop = Math.max(top, 0);
  }

  function lastOffset() {
    return items.length ? items[items.length - 1].offset : 0;
  }

  function onTime() {
    const seconds = video.currentTime || 0;
    follow(seconds);
    if (next && seconds > lastOffset() - AHEAD) load({ after: next }, false).then(() => follow(video.currentTime || 0));
  }

  function onSeeked() {
    const seconds = video.currentTime || 0;
    const before = !fromStart && (!items.length || seconds < items[0].offset);
    const beyond = next && seconds > lastOffset() + AHEAD;
    if (before || beyond) {
      load({ at: Math.max(Math.floor(seconds) - AHEAD, 0) }, true).then(() => follow(video.currentTime || 0));
    } else {
      onTime();
    }
  }

  collect();
  if (more) {
    more.addEventListener("click", (event) => {
      if (!next) return;
      event.preventDefault();
      load({ after: next }, false);
    });
  }
  if (video) {
    log.classList.add("following");
    video.addEventListener("timeupdate", onTime);
    video.addEventListener("seeked", onSeeked);
    follow(video.currentTime || 0);
  }
})();

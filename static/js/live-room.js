// The viewer side of a live room: one WebSocket, events in, danmaku and likes out.
// Chat text only ever goes into the page through textContent, never as HTML.
(function () {
  "use strict";
  const script = document.currentScript;
  const viewer = JSON.parse(document.getElementById("live-viewer").textContent);
  const $ = (selector) => document.querySelector(selector);
  const layer = $("[data-testid=danmaku-layer]");
  const log = $("[data-testid=chat-log]");
  const errorBox = $("[data-testid=socket-error]");
  let socket = null;
  let retry = 0;
  let pendingLikes = 0;
  let countdown = null;
  let pinnedWays = null; // the pinned product's locale -> way of writing its prices and options

  function pick(byKey, preferred, fallback) {
    if (!byKey) return "";
    return byKey[preferred] || byKey[fallback] || Object.values(byKey)[0] || "";
  }

  function showDanmaku(event) {
    const line = document.createElement("li");
    line.dataset.id = event.id;
    const name = document.createElement("strong");
    name.textContent = event.name + ": ";
    const text = document.createElement("span");
    // Each message finds its own direction, so mixed Arabic and Latin reads the right way round.
    text.dir = "auto";
    text.textContent = event.text;
    line.append(name, text);
    log.append(line);
    while (log.children.length > 200) log.firstElementChild.remove();
    const flying = document.createElement("span");
    flying.className = "flying";
    flying.dir = "auto";
    flying.dataset.id = event.id;
    flying.textContent = event.text;
    flying.style.insetBlockStart = 5 + Math.random() * 70 + "%";
    layer.append(flying);
    flying.addEventListener("animationend", () => flying.remove());
  }

  function removeDanmaku(id) {
    document.querySelectorAll(`[data-id="${CSS.escape(String(id))}"]`).forEach((node) => node.remove());
  }

  // The show starts and ends while viewers wait: the label (in the page's language, from
  // its data-label-* attributes) follows, the player appears with the stream and goes at the end.
  function showStatus(status, playbackUrl) {
    const label = $("[data-testid=room-status]");
    status = String(status || "");
    const key = "label" + status.charAt(0).toUpperCase() + status.slice(1);
    label.dataset.status = status;
    if (label.dataset[key]) label.textContent = label.dataset[key];
    $("[data-testid=show-time]").hidden = status !== "scheduled";
    const stage = $("[data-testid=stage]");
    const current = stage.querySelector("[data-testid=player]");
    if (status === "live" && playbackUrl && !(current instanceof HTMLVideoElement)) {
      const video = document.createElement("video");
      video.className = "player";
      video.dataset.testid = "player";
      video.dataset.playbackUrl = playbackUrl;
      video.controls = video.playsInline = video.muted = video.autoplay = true;
      current.replaceWith(video);
      if (window.livePlayer) window.livePlayer.play(video);
    } else if (status === "ended" && !current.querySelector("[data-testid=replay-link]")) {
      // Also over the "starts when live" placeholder: a show can end without ever having had a stream.
      if (current instanceof HTMLVideoElement && window.livePlayer) window.livePlayer.stop(current);
      const over = document.createElement("div");
      over.className = "player placeholder";
      over.dataset.testid = "player";
      // The link as the page has it for a show loaded after its end (URL and text from Django).
      const replay = document.createElement("a");
      replay.href = stage.dataset.replayUrl;
      replay.dataset.testid = "replay-link";
      replay.style.color = "inherit";
      replay.style.textDecoration = "underline";
      replay.textContent = stage.dataset.replayText;
      over.append(stage.dataset.endedText, " ", replay);
      current.replaceWith(over);
    }
    if (status === "ended") closeInteraction();
  }

  // Once the show is over nothing can be posted: the like button and the chat box go, with the reason.
  function closeInteraction() {
    const closed = $("[data-testid=interact-closed]");
    closed.parentElement.querySelectorAll(":scope > :not([data-testid=interact-closed])").forEach((node) => node.remove());
    closed.hidden = false;
    hideError();
  }

  function hideError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  function writtenFor(ways) {
    const way = (pinnedWays || {})[viewer.locale];
    return (ways || [])[way === undefined ? 0 : way];
  }

  function showPinned(product) {
    const box = $("[data-testid=pinned]");
    box.hidden = !product;
    if (!product) return;
    const link = box.querySelector(".pinned-name");
    link.textContent = pick(product.name, viewer.language, viewer.default_language);
    if (product.url) link.href = product.url;
    // Prices come written once per way of writing them, with the way each locale uses.
    const prices = product.prices || {};
    pinnedWays = prices.by_locale || {};
    const price = box.querySelector(".pinned-price");
    price.textContent = pick(writtenFor(prices.formats), viewer.currency, null);
    const notSold = (product.not_sold_in || []).includes(viewer.country);
    box.querySelector("[data-testid=not-sold]").hidden = !notSold;
    const buy = box.querySelector("[data-testid=pinned-buy]");
    buy.hidden = notSold;
    const single = buy.querySelector("input[name=variant]");
    const select = buy.querySelector("select[name=variant]");
    const variants = product.variants || [];
    // Several variants (navy, ivory…): the viewer chooses; "Buy now" never picks one for them.
    const choose = variants.length > 1;
    buy.querySelector("[data-testid=pinned-choice]").hidden = !choose;
    single.disabled = choose;
    select.disabled = !choose;
    single.value = product.variant;
    select.replaceChildren(select.options[0]);
    select.value = "";
    if (!choose) return;
    const priceOf = (variant) => pick(writtenFor(variant.prices), viewer.currency, null);
    variants.forEach((variant) => {
      const option = document.createElement("option");
      option.value = variant.id;
      option.textContent = `${writtenFor(variant.options) || select.dataset.standard} — ${priceOf(variant)}`;
      select.append(option);
    });
    // Before the choice a price shows only if every option costs the same.
    const each = new Set(variants.map(priceOf));
    const showChosen = () => {
      const chosen = variants.find((variant) => String(variant.id) === select.value);
      price.textContent = chosen ? priceOf(chosen) : each.size === 1 ? [...each][0] : "";
    };
    select.onchange = showChosen;
    showChosen();
  }

  // The coupon's numbers in the digits of the page's prices (Arabic-Indic on an ar_SA page): the
  // server names their CLDR numbering system, which Intl knows by the same name.
  let numeralFormats = null;
  function numerals() {
    if (numeralFormats) return numeralFormats;
    const numberingSystem = script.dataset.digits || "latn";
    // Babel's ar_SA is BCP 47's ar-SA; the browser's own language if the id is not a valid tag.
    let tag = (viewer.locale || "").replace(/_/g, "-");
    try { Intl.getCanonicalLocales(tag); } catch (e) { tag = undefined; }
    numeralFormats = {
      count: new Intl.NumberFormat(tag, { numberingSystem }),
      minutes: new Intl.NumberFormat(tag, { numberingSystem, useGrouping: false }),
      seconds: new Intl.NumberFormat(tag, { numberingSystem, useGrouping: false, minimumIntegerDigits: 2 }),
    };
    return numeralFormats;
  }

  function showCoupon(coupon) {
    const box = $("[data-testid=coupon]");
    clearInterval(countdown);
    box.hidden = !coupon;
    if (!coupon) return;
    box.querySelector(".coupon-label").textContent = typeof coupon.label === "object" ? pick(coupon.label, viewer.language, viewer.default_language) : coupon.label || "";
    box.querySelector(".coupon-code").textContent = coupon.code || "";
    box.querySelector(".coupon-remaining").textContent = coupon.remaining == null ? "" : numerals().count.format(coupon.remaining);
    const ends = Date.parse(coupon.ends_at);
    const clock = box.querySelector(".coupon-countdown");
    const tick = () => {
      const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      const { minutes, seconds } = numerals();
      clock.textContent = `${minutes.format(Math.floor(left / 60))}:${seconds.format(left % 60)}`;
      clock.dateTime = `PT${left}S`; // the same time left, for assistive technology
      if (!left) clearInterval(countdown);
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  // The seed hash from the opening, then the seed and the audit file: anyone can check the draw.
  function showGiveaway(giveaway) {
    const box = $("[data-testid=giveaway]");
    box.hidden = !giveaway;
    if (!giveaway) return;
    const text = box.querySelector(".giveaway-text");
    const drawn = giveaway.state === "drawn";
    const notOpen = (giveaway.not_open_in || []).includes(viewer.country);
    if (drawn) {
      text.textContent = `${script.dataset.winner}: ${giveaway.winner || ""}`;
    } else if (notOpen) {
      text.textContent = script.dataset.notOpen;
    } else {
      text.textContent = `${script.dataset.keyword}: ${giveaway.keyword || ""}`;
    }
    const freeEntry = (giveaway.no_purchase_necessary_in || []).includes(viewer.country);
    box.querySelector("[data-testid=giveaway-no-purchase]").hidden = drawn || notOpen || !freeEntry;
    box.querySelector("[data-testid=giveaway-seed-hash]").textContent = giveaway.seed_hash || "";
    box.querySelector("[data-testid=giveaway-drawn]").hidden = !drawn;
    box.querySelector("[data-testid=giveaway-seed]").textContent = drawn ? giveaway.seed || "" : "";
    const audit = box.querySelector("[data-testid=giveaway-audit]");
    // Only a path on this site: the link comes from the event, and never becomes a script URL.
    if (drawn && /^\/[^/\\]/.test(giveaway.audit_url || "")) audit.href = giveaway.audit_url;
    else audit.removeAttribute("href");
  }

  function handle(event) {
    switch (event.type) {
      case "batch": event.events.forEach(handle); break;
      case "snapshot":
        log.replaceChildren();
        layer.replaceChildren();
        handle({ type: "status", status: event.status, playback_url: event.playback_url });
        handle({ type: "likes", total: event.likes });
        handle({ type: "viewers", count: event.viewers });
        showPinned(event.pinned);
        showCoupon(event.coupon);
        showGiveaway(event.giveaway);
        (event.danmaku || []).forEach(showDanmaku);
        break;
      case "danmaku": showDanmaku(event); break;
      case "removed": removeDanmaku(event.id); break;
      case "likes": $("[data-testid=likes]").textContent = event.total; break;
      case "viewers": { const count = $("[data-testid=viewers]"); if (count) count.textContent = event.count; break; }
      case "pinned": showPinned(event.product); break;
      case "coupon": showCoupon(event.coupon); break;
      case "giveaway": showGiveaway(event.giveaway); break;
      case "status": showStatus(event.status, event.playback_url); break;
      case "posted": hideError(); break; // a later message got through: the last refusal is old news
      case "error":
        // The page already says the show has ended, over the video; no second, red copy.
        if (event.code === "room_ended") { showStatus("ended"); break; }
        // It stays until a later message is accepted: the poster may be reading it then.
        errorBox.textContent = event.message;
        errorBox.hidden = false;
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + script.dataset.socket);
    socket.addEventListener("open", () => { retry = 0; document.body.dataset.liveSocket = "open"; });
    socket.addEventListener("message", (message) => handle(JSON.parse(message.data)));
    socket.addEventListener("close", (closed) => {
      document.body.dataset.liveSocket = "closed";
      if (closed.code === 4404 || closed.code === 4410) return; // no such room / show over
      retry += 1;
      setTimeout(connect, Math.min(30000, 500 * 2 ** retry) * (0.5 + Math.random()));
    });
  }

  function send(data) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(data));
  }

  // Likes, like danmaku, are for signed-in shoppers: the page shows the button only to them.
  const like = $("[data-testid=like]");
  if (like) {
    like.addEventListener("click", () => {
      pendingLikes += 1;
      const heart = document.createElement("span");
      heart.className = "heart";
      heart.textContent = "♥";
      heart.addEventListener("animationend", () => heart.remove());
      like.append(heart);
    });
  }

  // Danmaku over the video can be switched off; the choice outlives the page.
  const toggle = $("[data-testid=danmaku-toggle]");
  const showFlying = (on) => {
    toggle.setAttribute("aria-pressed", String(on));
    layer.hidden = !on;
    try { localStorage.setItem("livemall.danmaku", on ? "on" : "off"); } catch (_error) { /* private mode */ }
  };
  let stored = null;
  try { stored = localStorage.getItem("livemall.danmaku"); } catch (_error) { /* private mode */ }
  showFlying(stored !== "off");
  toggle.addEventListener("click", () => showFlying(toggle.getAttribute("aria-pressed") !== "true"));
  setInterval(() => {
    while (pendingLikes > 0) {
      const count = Math.min(50, pendingLikes);
      pendingLikes -= count;
      send({ type: "like", count });
    }
  }, 500);

  const form = $("[data-testid=chat-form]");
  if (form) {
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const input = form.querySelector("input");
      const text = input.value.trim();
      if (text) send({ type: "danmaku", text });
      input.value = "";
    });
  }
  // An ended show has nothing more to say over the socket: the page holds its totals and replay.
  if ($("[data-testid=room-status]").dataset.status !== "ended") connect();
})();

// The checkout form, placed through the orders API when the browser can.
//
// In a live room's flash sale a thousand buyers press "Place order" at once; through the API
// (naming the lines this page shows) a buyer who is too late is told by the checkout's door,
// before the server's queue, and the page says so at once.
//
// A refusal the API explains (a total or cart that changed, a method not offered) is said on the
// page, with the totals as they are now, and nothing more happens: the shopper reviews them and
// presses again. Only fields to correct are left to the form, so the server shows each error under
// its field; and only when there is no answer to read (no connection, a server error) does the
// form try the same order. Either way the form carries the total the shopper pressed on, and the
// server places the order at no other total.
//
// One Idempotency-Key is one checkout attempt: a retry of the same attempt gets the same order.
// When paying fails the server cancels that order and opens the cart again ("try another
// method"), so the attempt is over and the next press is a new attempt, with a new key.
//
// The same form sent again once its order is paid (Back, then "Place order" again) is not an
// error: the form takes the shopper to that order, with a notice, as the server answers it.
(() => {
  "use strict";
  const form = document.querySelector("form[data-api-checkout]");
  if (!form || !window.fetch) return;
  const button = form.querySelector("[data-testid=place-order]");
  const notice = form.querySelector("[data-testid=checkout-notice]");
  const key = form.querySelector("[name=idempotency_key]");
  // The answers after which the attempt's order can no longer be paid.
  const ATTEMPT_ENDED = ["provider_unavailable", "payment_declined", "expired", "not_payable", "checkout_attempt_ended"];
  const coupon = form.querySelector("[name=coupon]");
  const couponError = form.querySelector("#error-coupon");
  let viaForm = false;

  function newAttempt() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    key.value = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function say(message) {
    notice.textContent = message;
    notice.hidden = false;
    button.disabled = false;
  }

  // Throws only when there is no answer; ``error`` is the API's error body, if the answer is one.
  async function post(url, headers, body) {
    const response = await fetch(url, { method: "POST", headers, body, credentials: "same-origin" });
    let answer = null;
    try {
      answer = await response.json();
    } catch (notJson) {
      // A proxy's or server's own error page: nothing the page can read.
    }
    return { ok: response.ok, status: response.status, answer, error: (answer && answer.error) || null };
  }

  // ``total``: the one the shopper pressed on, not one a re-quote put in the form since.
  function byForm(total) {
    const expected = form.querySelector("[name=expected_total_minor]");
    if (total !== undefined && expected) expected.value = total;
    viaForm = true;
    button.disabled = false;
    form.requestSubmit ? form.requestSubmit(button) : form.submit();
  }

  // The totals as they are now, quoted as a change of state, option or coupon quotes them (the form's hx-get).
  function requote() {
    if (window.htmx) window.htmx.ajax("GET", form.getAttribute("hx-get"), { source: form });
  }

  // Whether ``fields`` names what the shopper typed or chose on this form (the API's "address" holds the address's).
  function namesFormFields(fields) {
    return Object.keys(fields || {}).some((name) => name === "address" || form.elements.namedItem(name));
  }

  function refused(error, status, total) {
    if (error.code === "checkout_attempt_ended") newAttempt();
    if (status === 400 && namesFormFields(error.fields)) return byForm(total);
    say(error.message);
    // The door's "sold out" leaves the totals as they were; re-quoting a thousand losers would be the queue it saves.
    if (error.code !== "sold_out") requote();
  }

  // The coupon's error is re-quoted with the totals (htmx); the field says whether it is wrong.
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!coupon || !couponError) return;
    if (couponError.textContent.trim()) coupon.setAttribute("aria-invalid", "true");
    else coupon.removeAttribute("aria-invalid");
    hideSubmitBanner();
  });

  // A submit's errors stay only while they are true: a field the shopper edits loses its error (the
  // server checks it again at the next submit), and once none is left the submit's banner goes too.
  // The coupon's error is not cleared here: it is the re-quote's verdict on the code (htmx, above).
  const fieldErrors = () => Array.from(form.querySelectorAll(".field-error")).filter((error) => error.textContent.trim());
  const submitHadFieldErrors = fieldErrors().length > 0;

  function hideSubmitBanner() {
    if (!submitHadFieldErrors || fieldErrors().length) return;
    // The page's messages (base.html) other than errors, such as a currency notice, stay.
    document.querySelectorAll(".messages > li.error").forEach((item) => { item.hidden = true; });
    document.querySelectorAll("ul.messages").forEach((list) => {
      if (!list.querySelector(":scope > li:not([hidden])")) list.hidden = true;
    });
  }

  function clearFieldError(event) {
    const field = event.target;
    if (!field.name || field.name === "coupon") return;
    // A radio group's error belongs to its fieldset.
    const owner = field.type === "radio" ? field.closest("fieldset[aria-describedby]") : field;
    const ids = ((owner && owner.getAttribute("aria-describedby")) || "").split(/\s+/).filter(Boolean);
    const errors = ids.map((id) => document.getElementById(id)).filter((node) => node && node.classList.contains("field-error"));
    if (!errors.length) return;
    errors.forEach((error) => error.remove());
    const kept = ids.filter((id) => document.getElementById(id));
    if (kept.length) owner.setAttribute("aria-describedby", kept.join(" "));
    else owner.removeAttribute("aria-describedby");
    owner.removeAttribute("aria-invalid");
    hideSubmitBanner();
  }
  form.addEventListener("input", clearFieldError);
  form.addEventListener("change", clearFieldError);

  // The button says what pressing it does with the method chosen ("Place order" for one paid on
  // delivery): its words are the page's own, translated by the server, on each method's radio.
  function labelButton() {
    const chosen = form.querySelector("[name=payment]:checked");
    if (chosen && chosen.dataset.placeLabel) button.textContent = chosen.dataset.placeLabel;
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "payment") labelButton();
  });
  // A browser that restores the form's choices on reload restores them without a change event.
  labelButton();

  // Back to this page from the browser's cache: the button pressed before works again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    viaForm = false;
    button.disabled = false;
  });

  form.addEventListener("submit", async (event) => {
    if (viaForm) return;
    event.preventDefault();
    button.disabled = true;
    notice.hidden = true;
    const data = new FormData(form);
    const text = (name) => String(data.get(name) || "").trim();
    const [provider, method] = text("payment").split("/");
    const total = text("expected_total_minor");
    const headers = {
      "Content-Type": "application/json",
      "Idempotency-Key": text("idempotency_key"),
      "X-CSRFToken": text("csrfmiddlewaretoken"),
      "Accept-Language": document.documentElement.lang,
    };
    const order = {
      email: text("email"),
      address: {
        name: text("name"), line1: text("line1"), line2: text("line2"), city: text("city"),
        state: text("state").toUpperCase(), postal_code: text("postal_code"), phone: text("phone"),
        country: form.dataset.country,
      },
      shipping_option: text("shipping_option") || "standard",
      coupon: text("coupon"),
      payment_provider: provider || "",
      payment_method: method || "",
      expected_total_minor: Number(total),
      expected_lines: JSON.parse(text("expected_lines")),
      checkout_pass: text("checkout_pass"),
    };
    try {
      const placed = await post(form.dataset.apiCheckout, headers, JSON.stringify(order));
      if (placed.ok && placed.answer) {
        const reference = placed.answer.reference;
        // An earlier press of this attempt placed the order and it is paid for (or on its way):
        // nothing to pay; the form shows that order.
        if (placed.status === 200 && placed.answer.status !== "created") return byForm(total);
        const paid = await post(`${form.dataset.apiOrders}${encodeURIComponent(reference)}/pay`, headers, "{}");
        if (!paid.ok) {
          // No answer to read: the form, with this attempt's key, shows the order placed.
          if (!paid.error || paid.error.code === "already_paid") return byForm(total);
          if (ATTEMPT_ENDED.includes(paid.error.code)) newAttempt();
          return say(paid.error.message);
        }
        const orderPage = `${form.dataset.orders}${encodeURIComponent(reference)}/`;
        if (paid.answer.approval_url) window.location.assign(paid.answer.approval_url);
        else if (paid.answer.client_secret) window.location.assign(`${orderPage}pay`);
        else window.location.assign(orderPage);
        return;
      }
      if (!placed.ok && placed.error) return refused(placed.error, placed.status, total);
      // Refused with nothing to read (not a server that failed): said, never sent again by the form.
      if (!placed.ok && placed.status < 500) return say(notice.dataset.refused);
    } catch (noAnswer) {
      // No connection: the form tries the same order (same Idempotency-Key).
    }
    byForm(total);
  });
})();

// A stand-in for https://js.stripe.com/v3/ in browser tests (no traffic leaves the machine).
//
// It keeps the part of Stripe.js our pay page relies on: Stripe(publishableKey),
// elements({clientSecret}), create("payment").mount(selector) and confirmPayment({elements,
// confirmParams}). Like the real one it confirms the PaymentIntent from the browser with the
// publishable key and the client secret (here against the test's FakeStripe server), runs the
// 3-D Secure challenge in a modal, resolves {error} without leaving the page when the card is
// declined or the challenge fails, and otherwise redirects to return_url with payment_intent,
// payment_intent_client_secret and redirect_status. Stripe's test card numbers choose the outcome.
(function () {
  "use strict";
  const API = "__FAKE_STRIPE_API__";
  const TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000002760003184": "pm_card_authenticationRequired",
  };

  async function post(path, params) {
    const response = await fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params),
    });
    return response.json();
  }

  function challenge() {
    return new Promise((resolve) => {
      const modal = document.createElement("div");
      modal.setAttribute("data-testid", "fake-3ds");
      modal.setAttribute("role", "dialog");
      modal.style.cssText = "position:fixed;inset:20%;background:#fff;border:2px solid #333;padding:1em;z-index:9999";
      modal.innerHTML =
        '<p>3D Secure 2 test page</p><button type="button" data-testid="fake-3ds-complete">Complete</button>' +
        ' <button type="button" data-testid="fake-3ds-fail">Fail</button>';
      modal.addEventListener("click", (event) => {
        const id = event.target.getAttribute("data-testid");
        if (id !== "fake-3ds-complete" && id !== "fake-3ds-fail") return;
        modal.remove();
        resolve(id === "fake-3ds-complete");
      });
      document.body.appendChild(modal);
    });
  }

  window.Stripe = function (publishableKey, options) {
    window.fakeStripeOptions = options || {};
    if (!/^pk_test_/.test(publishableKey)) throw new Error("fake Stripe.js: a test publishable key is expected");
    return {
      elements({ clientSecret }) {
        let field = null;
        return {
          clientSecret,
          cardNumber: () => (field ? field.value.replace(/\s+/g, "") : ""),
          create(type) {
            if (type !== "payment") throw new Error("fake Stripe.js: only the Payment Element");
            return {
              mount(selector) {
                const root = document.querySelector(selector);
                root.innerHTML = '<label>Card number <input data-testid="card-number" inputmode="numeric" autocomplete="cc-number"></label>';
                field = root.querySelector("input");
              },
            };
          },
        };
      },

      async confirmPayment({ elements, confirmParams }) {
        const method = TEST_CARDS[elements.cardNumber()];
        if (!method) return { error: { type: "validation_error", message: "Your card number is invalid." } };
        const secret = elements.clientSecret;
        const id = secret.split("_secret_")[0];
        const auth = { key: publishableKey, client_secret: secret };
        let intent = await post(`/v1/payment_intents/${id}/confirm`, { ...auth, payment_method: method });
        if (intent.error) return { error: intent.error };
        if (intent.status === "requires_action") {
          const completed = await challenge();
          intent = await post(`/v1/payment_intents/${id}/authenticate`, { ...auth, outcome: completed ? "complete" : "fail" });
          if (intent.error) return { error: intent.error };
          if (intent.last_payment_error) return { error: intent.last_payment_error };
        }
        const url = new URL(confirmParams.return_url);
        url.searchParams.set("payment_intent", id);
        url.searchParams.set("payment_intent_client_secret", secret);
        url.searchParams.set("redirect_status", intent.status === "succeeded" ? "succeeded" : "failed");
        window.location.assign(url.toString());
        return new Promise(() => {}); // like Stripe.js: the page is leaving
      },
    };
  };
})();

"""Local stand-ins for Stripe and PayPal that the real SDKs talk to over HTTP.

Each fake is a threaded ``http.server`` on 127.0.0.1 with a random port. It records
every request (method, path, headers, body) and keeps just enough state to behave like
the real API where our code depends on it: objects created, status changes, and
idempotency (a repeated ``Idempotency-Key`` / ``PayPal-Request-Id`` replays the first
answer). Knobs let a test make it fail (``fail_next``: answer the next requests with an
HTTP error), lose its answers (``delay``: do the work, then sleep past the client's
timeout before answering) or be slow to do the work (``work``: a concurrent request with
the same idempotency key meanwhile gets Stripe's 409 "key in use").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from tests.local_server import LocalServer, QuietHandler

# What the fakes and the settings pointed at them agree on.
STRIPE_WEBHOOK_SECRET = "whsec_livemall_test_secret"
STRIPE_PUBLISHABLE_KEY = "pk_test_livemall_fake"
PAYPAL_WEBHOOK_ID = "WH-LIVEMALL-TEST"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def closed_port_url() -> str:
    """A URL on which nothing listens: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe builds it: ``t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<body>")``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def stripe_event(event_id: str, event_type: str, about: dict, created: int, **changes: Any) -> dict:
    """A Stripe event as Stripe sends it: ``about`` (an intent, a refund) with ``changes`` made to it."""
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {"object": {**about, **changes}},
    }


def stripe_delivered(client: Client, event: dict) -> HttpResponse:
    """Deliver ``event`` to our Stripe webhook, signed with the test secret as Stripe would; it must be taken."""
    body = json.dumps(event).encode()
    response = client.post(
        reverse("payments:webhook-stripe"),
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(body, STRIPE_WEBHOOK_SECRET)},
    )
    assert response.status_code == 200, response.content
    return response


def paypal_delivered(client: Client, paypal: FakePayPal, event: dict) -> HttpResponse:
    """Deliver ``event`` to our PayPal webhook with the headers ``paypal`` (the fake) verifies; it must be taken."""
    response = client.post(
        reverse("payments:webhook-paypal"),
        data=json.dumps(event).encode(),
        content_type="application/json",
        headers=paypal.sign(event),
    )
    assert response.status_code == 200, response.content
    return response


def post_stripe_event(event_type: str, intent: dict, *, event_id: str | None = None) -> None:
    """Deliver a Stripe event about ``intent`` to our webhook, signed with the test secret, as Stripe would."""
    event = stripe_event(event_id or f"evt_{event_type}_{intent['id']}", event_type, intent, int(time.time()))
    stripe_delivered(Client(), event)


def stripe_served_by(fake: FakeStripe, settings: Any) -> Iterator[FakeStripe]:
    """Point the Stripe keys, webhook secret and API base at ``fake`` (a ``FakeStripe`` or one of
    its kinds) for a fixture to yield from; stops the fake afterwards."""
    settings.STRIPE_SECRET_KEY = "sk_test_livemall_fake"
    settings.STRIPE_PUBLISHABLE_KEY = STRIPE_PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()


class FakeServer(LocalServer):
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.fail_next: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        # ``work``: seconds a request takes to execute, before its result exists. Meanwhile a
        # request with the same idempotency key gets ``conflict()`` (Stripe answers 409).
        self.work = 0.0
        self.in_flight: set[str] = set()
        self.in_flight_header: str | None = None
        fake = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                answer = fake._dispatch(recorded)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    # Stripe.js calls the API from the shop's pages (a browser test's fake Stripe.js too).
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_DELETE = _serve

        super().__init__(Handler, poll_interval=0.05)

    def _dispatch(self, recorded: Recorded) -> Answer:
        key = recorded.headers.get(self.in_flight_header or "") if self.in_flight_header else None
        with self.lock:
            self.requests.append(recorded)
            if self.fail_next:
                status = self.fail_next.pop(0)
                return Answer(status, self.error_body(status))
            if key and key in self.in_flight:
                return self.conflict()
            if not self.work:
                return self.handle(recorded)
            if key:
                self.in_flight.add(key)
        try:
            time.sleep(self.work)
            with self.lock:
                return self.handle(recorded)
        finally:
            with self.lock:
                self.in_flight.discard(key)

    def requests_to(self, path_start: str, method: str = "POST") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"message": f"fake failure {status}"}}

    def conflict(self) -> Answer:
        return Answer(409, self.error_body(409))

    def handle(self, recorded: Recorded) -> Answer:
        raise NotImplementedError


def _nested_form(form: dict[str, str]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[k]=v``, ``payment_method_types[0]=card``) back to objects."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        if "[" not in key:
            out[key] = value
            continue
        name, rest = key.split("[", 1)
        inner = rest.rstrip("]")
        if inner.isdigit():
            out.setdefault(name, []).append(value)
        else:
            out.setdefault(name, {})[inner] = value
    return out


class FakeStripe(FakeServer):
    """PaymentIntents (create, capture) and refunds, with Stripe's idempotency replay."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Answer] = {}
        # What a new refund answers with; "pending" for the banks that take days.
        self.refund_status = "succeeded"
        # Refuse refunds as Stripe does a charge disputed meanwhile (a 400 the SDK raises as declined).
        self.decline_refunds = False
        super().__init__()
        self.in_flight_header = "idempotency-key"

    def conflict(self) -> Answer:
        message = "There is currently another in-progress request using this Idempotency Key."
        return Answer(409, {"error": {"type": "idempotency_error", "message": message}})

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"type": "api_error", "message": f"fake failure {status}"}}

    def handle(self, recorded: Recorded) -> Answer:
        key = recorded.headers.get("idempotency-key")
        if recorded.method == "POST" and key in self.replies:
            return self.replies[key]
        answer = self._route(recorded)
        if recorded.method == "POST" and key:
            self.replies[key] = answer
        return answer

    def _route(self, recorded: Recorded) -> Answer:
        parts = recorded.path.split("?")[0].strip("/").split("/")
        params = _nested_form(recorded.form) if recorded.method == "POST" else {}
        if parts == ["v1", "payment_intents"]:
            return self._create_intent(params)
        if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] == "capture":
            return self._capture(parts[2], params)
        if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] == "cancel":
            return self._cancel(parts[2])
        if len(parts) == 3 and parts[:2] == ["v1", "payment_intents"] and recorded.method == "GET":
            intent = self.intents.get(parts[2])
            return Answer(200, intent) if intent else self._no_such_intent(parts[2])
        if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] in ("confirm", "authenticate"):
            return self._from_browser(parts[2], parts[3], params)
        if parts == ["v1", "refunds"]:
            return self._refund(params)
        return Answer(404, {"error": {"type": "invalid_request_error", "message": "no such route"}})

    def _create_intent(self, params: dict[str, Any]) -> Answer:
        number = len(self.intents) + 1
        intent_id = f"pi_fake{number}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "payment_method_types": params.get("payment_method_types", []),
            "metadata": params.get("metadata", {}),
            "client_secret": f"{intent_id}_secret_fake{number}",
            "status": "requires_payment_method",
            "capture_method": "automatic",
        }
        self.intents[intent_id] = intent
        return Answer(200, intent)

    def _capture(self, intent_id: str, params: dict[str, Any]) -> Answer:
        intent = self.intents.get(intent_id)
        if intent is None or intent["status"] != "requires_capture":
            return Answer(
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "payment_intent_unexpected_state",
                        "message": "This PaymentIntent could not be captured.",
                    }
                },
            )
        intent["status"] = "succeeded"
        intent["amount_received"] = int(params.get("amount_to_capture") or intent["amount"])
        return Answer(200, intent)

    def _cancel(self, intent_id: str) -> Answer:
        """Stripe cancels an intent in ``requires_payment_method``, ``requires_confirmation``,
        ``requires_action`` or ``requires_capture``, and refuses one that succeeded, was canceled
        or is processing: https://docs.stripe.com/api/payment_intents/cancel."""
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._no_such_intent(intent_id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            message = f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}."
            error = {"type": "invalid_request_error", "code": "payment_intent_unexpected_state", "message": message}
            return Answer(400, {"error": error})
        intent.update(status="canceled", cancellation_reason="abandoned", next_action=None)
        return Answer(200, dict(intent))

    def _refund(self, params: dict[str, Any]) -> Answer:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return Answer(400, {"error": {"type": "invalid_request_error", "message": "No such payment_intent."}})
        if self.decline_refunds:
            message = f"Charge for {intent['id']} has been charged back; cannot issue a refund."
            return Answer(
                400, {"error": {"type": "invalid_request_error", "code": "charge_disputed", "message": message}}
            )
        amount = int(params.get("amount") or intent["amount_received"])
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        if refunded + amount > intent["amount_received"]:
            return Answer(
                400,
                {"error": {"type": "invalid_request_error", "code": "charge_already_refunded", "message": "Too much."}},
            )
        refund_id = f"re_fake{len(self.refunds) + 1}"
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "metadata": params.get("metadata", {}),
            "status": self.refund_status,
        }
        self.refunds[refund_id] = refund
        return Answer(200, refund)

    @staticmethod
    def _no_such_intent(intent_id: str) -> Answer:
        return Answer(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such payment_intent: '{intent_id}'",
                }
            },
        )

    # Stripe's test payment methods, as the Payment Element turns test card numbers into them.
    TEST_PAYMENT_METHODS = frozenset({"pm_card_visa", "pm_card_chargeDeclined", "pm_card_authenticationRequired"})

    def _from_browser(self, intent_id: str, action: str, params: dict[str, Any]) -> Answer:
        """What Stripe.js asks with the publishable key and the client secret: confirm, then 3-D Secure.

        ``authenticate`` stands for the bank's challenge page, which the fake Stripe.js shows
        itself: ``outcome=complete`` or ``fail``.
        """
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._no_such_intent(intent_id)
        if (
            not str(params.get("key", "")).startswith("pk_test_")
            or params.get("client_secret") != intent["client_secret"]
        ):
            return Answer(
                401, {"error": {"type": "invalid_request_error", "message": "Invalid API key or client secret."}}
            )
        if action == "authenticate":
            if intent["status"] != "requires_action":
                return Answer(
                    400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}}
                )
            if params.get("outcome") == "complete":
                return Answer(200, self._paid(intent))
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "payment_intent_authentication_failure",
                "message": "We are unable to authenticate your payment method.",
            }
            return Answer(200, dict(intent))
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return Answer(400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}})
        method = params.get("payment_method")
        if method not in self.TEST_PAYMENT_METHODS:
            return Answer(400, {"error": {"type": "invalid_request_error", "message": "No such PaymentMethod."}})
        if method == "pm_card_chargeDeclined":
            error = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
            intent["last_payment_error"] = error
            return Answer(402, {"error": {**error, "payment_intent": dict(intent)}})
        if method == "pm_card_authenticationRequired":
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk"}
            return Answer(200, dict(intent))
        return Answer(200, self._paid(intent))

    @staticmethod
    def _paid(intent: dict[str, Any]) -> dict[str, Any]:
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None, next_action=None)
        return dict(intent)

    def succeed(self, intent_id: str) -> dict[str, Any]:
        """What happens when the shopper confirms in the Payment Element."""
        with self.lock:
            intent = self.intents[intent_id]
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            return dict(intent)


class FakePayPal(FakeServer):
    """OAuth, Orders v2 create/capture, capture refunds and verify-webhook-signature."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Answer] = {}
        # None: really check what was signed with :meth:`sign`; "SUCCESS"/"FAILURE": answer that.
        self.verification_status: str | None = None
        self.webhook_id = "WH-LIVEMALL-TEST"
        self.signed: dict[str, str] = {}
        self.decline_captures = False
        # What a capture answers when not declined; "PENDING" for one PayPal holds for review.
        self.capture_status = "COMPLETED"
        super().__init__()

    def error_body(self, status: int) -> dict[str, Any]:
        return {"name": "INTERNAL_SERVER_ERROR", "message": f"fake failure {status}", "debug_id": "fake"}

    def handle(self, recorded: Recorded) -> Answer:
        key = recorded.headers.get("paypal-request-id")
        if key and key in self.replies:
            return self.replies[key]
        answer = self._route(recorded)
        if key:
            self.replies[key] = answer
        return answer

    def _route(self, recorded: Recorded) -> Answer:
        parts = recorded.path.split("?")[0].strip("/").split("/")
        if parts == ["v1", "oauth2", "token"]:
            return Answer(200, {"access_token": "fake-token", "token_type": "Bearer", "expires_in": 32400})
        if not recorded.headers.get("authorization", "").startswith("Bearer fake-token"):
            return Answer(401, {"error": "invalid_token"})
        if parts == ["v1", "notifications", "verify-webhook-signature"]:
            return Answer(200, {"verification_status": self._verify(recorded.json)})
        if parts == ["v2", "checkout", "orders"]:
            return self._create_order(recorded.json)
        if len(parts) == 5 and parts[:3] == ["v2", "checkout", "orders"] and parts[4] == "capture":
            return self._capture(parts[3])
        if len(parts) == 4 and parts[:3] == ["v2", "checkout", "orders"] and recorded.method == "GET":
            order = self.orders.get(parts[3])
            return (
                Answer(200, order) if order else Answer(404, {"name": "RESOURCE_NOT_FOUND", "message": "no such order"})
            )
        if len(parts) == 5 and parts[:3] == ["v2", "payments", "captures"] and parts[4] == "refund":
            return self._refund(parts[3], recorded.json)
        return Answer(404, {"name": "RESOURCE_NOT_FOUND", "message": "no such route"})

    def _create_order(self, body: dict[str, Any]) -> Answer:
        order_id = f"ORDER-FAKE{len(self.orders) + 1}"
        unit = body["purchase_units"][0]
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [
                {"reference_id": unit.get("reference_id"), "custom_id": unit.get("custom_id"), "amount": unit["amount"]}
            ],
            "links": [
                {"href": f"https://paypal.example/checkoutnow?token={order_id}", "rel": "payer-action", "method": "GET"}
            ],
        }
        self.orders[order_id] = order
        return Answer(200, order)

    def _capture(self, order_id: str) -> Answer:
        order = self.orders.get(order_id)
        if order is None:
            return Answer(404, {"name": "RESOURCE_NOT_FOUND", "message": "no such order"})
        if order["status"] == "COMPLETED":
            return Answer(
                422,
                {
                    "name": "UNPROCESSABLE_ENTITY",
                    "message": "The requested action could not be performed.",
                    "details": [{"issue": "ORDER_ALREADY_CAPTURED"}],
                },
            )
        if order["status"] != "APPROVED":
            return Answer(
                422,
                {
                    "name": "UNPROCESSABLE_ENTITY",
                    "message": "The requested action could not be performed.",
                    "details": [{"issue": "ORDER_NOT_APPROVED"}],
                },
            )
        unit = order["purchase_units"][0]
        capture_id = f"CAP-FAKE{len(self.captures) + 1}"
        capture = {
            "id": capture_id,
            "status": "DECLINED" if self.decline_captures else self.capture_status,
            "amount": unit["amount"],
            "custom_id": unit["custom_id"],
        }
        self.captures[capture_id] = capture
        order["status"] = "COMPLETED"
        unit["payments"] = {"captures": [capture]}
        return Answer(201, order)

    def _refund(self, capture_id: str, body: dict[str, Any]) -> Answer:
        capture = self.captures.get(capture_id)
        if capture is None:
            return Answer(404, {"name": "RESOURCE_NOT_FOUND", "message": "no such capture"})
        amount = body.get("amount") or capture["amount"]
        refunded = sum(
            Decimal(r["amount"]["value"]) for r in self.refunds.values() if r["links"][0]["href"].endswith(capture_id)
        )
        if refunded + Decimal(amount["value"]) > Decimal(capture["amount"]["value"]):
            return Answer(
                422,
                {
                    "name": "UNPROCESSABLE_ENTITY",
                    "message": "The requested action could not be performed.",
                    "details": [{"issue": "REFUND_AMOUNT_EXCEEDED"}],
                },
            )
        refund_id = f"REF-FAKE{len(self.refunds) + 1}"
        refund = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": amount,
            "custom_id": body.get("custom_id"),
            "links": [{"href": f"https://api.paypal.example/v2/payments/captures/{capture_id}", "rel": "up"}],
        }
        self.refunds[refund_id] = refund
        return Answer(201, refund)

    # --- webhooks: what PayPal signs, and what its verify-webhook-signature call checks -----

    _SIGNING_KEY = b"fake-paypal-private-key"

    @staticmethod
    def _canonical(event: dict[str, Any]) -> bytes:
        return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()

    def _signature(self, transmission_id: str, transmission_time: str, webhook_id: str, event: dict[str, Any]) -> str:
        crc = zlib.crc32(self._canonical(event))
        message = f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()
        return hmac.new(self._SIGNING_KEY, message, hashlib.sha256).hexdigest()

    def sign(self, event: dict[str, Any], *, sent_at: dt.datetime | None = None) -> dict[str, str]:
        """The headers of one delivery of ``event`` to our webhook (a new transmission each time)."""
        sent_at = sent_at or dt.datetime.now(dt.UTC)
        transmission_id = str(uuid.uuid4())
        transmission_time = sent_at.isoformat().replace("+00:00", "Z")
        return {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": "https://api.paypal.example/v1/notifications/certs/CERT-fake",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": self._signature(transmission_id, transmission_time, self.webhook_id, event),
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }

    def _verify(self, body: dict[str, Any]) -> str:
        if self.verification_status is not None:
            return self.verification_status
        fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
        if any(not body.get(name) for name in fields) or not isinstance(body.get("webhook_event"), dict):
            return "FAILURE"
        if body["webhook_id"] != self.webhook_id:
            return "FAILURE"
        expected = self._signature(
            body["transmission_id"], body["transmission_time"], body["webhook_id"], body["webhook_event"]
        )
        return "SUCCESS" if hmac.compare_digest(expected, body["transmission_sig"]) else "FAILURE"

    def capture_elsewhere(self, order_id: str) -> str:
        """Someone captured the order outside our services (another process, PayPal's dashboard)."""
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"
            self._capture(order_id)
            return self.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]["id"]

    def approve(self, order_id: str) -> None:
        """What happens when the shopper approves on PayPal's page."""
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"


class SilentServer:
    """A provider in an outage that takes every connection and never answers.

    A real listening socket on 127.0.0.1: the kernel completes each connection into the
    backlog and the client sends its request, but not a byte comes back, so the client's
    read timeout gives up. Nothing runs in the background: ``connections`` accepts what is
    waiting and counts every attempt so far (the count is exact once the client returned).
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self._accepted: list[tuple[socket.socket, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _drain(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                data = b""
            self._accepted.append((conn, data))

    @property
    def connections(self) -> int:
        self._drain()
        return len(self._accepted)

    def headers(self) -> list[dict[str, str]]:
        """Each attempt's request headers (lower-case names)."""
        self._drain()
        result = []
        for _, data in self._accepted:
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
            result.append({k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)})
        return result

    def stop(self) -> None:
        for conn, _ in self._accepted:
            conn.close()
        self.sock.close()

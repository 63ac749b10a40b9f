"""Orders API (``/api/v1/``): cart, checkout (with ``Idempotency-Key``), orders, pay, and
the order steps staff take (pack, ship, deliver, cancel, refund).

Prices and totals are never taken from the request: the server prices the cart. A
checkout may send ``expected_total_minor`` (what the page showed); a different total is
refused with ``total_changed`` and nothing is written.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.errors import ApplicationError, ErrorResponse
from apps.orders import door, rules, selectors, services
from apps.orders.models import Order
from apps.orders.web import remember_order, request_cart, request_checkout_pass, request_shopper, session_orders
from apps.payments.method_labels import method_label
from apps.payments.selectors import payment_methods_offered


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a price or total sent by the client is an error, not ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                refused = _("Not accepted: prices and totals are computed by the server.")
                raise ApplicationError(
                    _("The request has fields the server does not accept."),
                    code="unexpected_fields",
                    fields={name: [refused] for name in unknown},
                )
        return super().to_internal_value(data)


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class LineIn(StrictSerializer):
    variant = serializers.IntegerField()
    quantity = serializers.IntegerField()


class QuantityIn(StrictSerializer):
    quantity = serializers.IntegerField()


class LineOut(serializers.Serializer):
    line_id = serializers.IntegerField()
    variant_id = serializers.IntegerField()
    product_name = serializers.CharField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price_minor = serializers.IntegerField()
    total_minor = serializers.IntegerField()
    available = serializers.BooleanField()
    reason = serializers.CharField()


class CartOut(serializers.Serializer):
    currency = serializers.CharField()
    lines = LineOut(many=True)
    subtotal_minor = serializers.IntegerField()
    checkout_pass = serializers.CharField(
        help_text=(
            "Send it with the checkout, beside expected_lines naming these lines, so a flash sale admits "
            "this cart at once; valid for an hour in this session. Empty for an empty cart."
        )
    )


class AddressIn(StrictSerializer):
    name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=200)
    # A state's code or its name ("Veracruz", "Phra Nakhon Si Ayutthaya"): the address rules resolve it.
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)


class CheckoutIn(StrictSerializer):
    email = serializers.EmailField()
    address = AddressIn()
    shipping_option = serializers.CharField(max_length=20)
    coupon = serializers.CharField(max_length=40, required=False, allow_blank=True)
    payment_provider = serializers.CharField(max_length=30)
    payment_method = serializers.CharField(max_length=30)
    expected_total_minor = serializers.IntegerField(required=False)
    expected_lines = LineIn(
        many=True,
        required=False,
        help_text=(
            "The lines the page showed. A checkout that names them is answered 'sold_out' at once when a "
            "flash sale has no units left for them, and is refused with 'cart_changed' if the cart differs."
        ),
    )
    checkout_pass = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=(
            "The cart's checkout_pass for the lines expected_lines names: with it, a flash sale's units are "
            "taken for this checkout before the cart is read. Without it (or expired) the checkout still runs."
        ),
    )

    def validate_expected_lines(self, value: list[dict[str, int]]) -> dict[int, int]:
        if not 0 < len(value) <= door.MAX_LINES:
            raise serializers.ValidationError(_("Between 1 and %(count)d lines.") % {"count": door.MAX_LINES})
        if any(line["variant"] < 1 or line["quantity"] < 1 for line in value):
            raise serializers.ValidationError(_("Variants and quantities are positive."))
        return selectors.quantities_by_variant((line["variant"], line["quantity"]) for line in value)


class OrderLineOut(serializers.Serializer):
    product_name = serializers.CharField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price_minor = serializers.IntegerField()
    total_minor = serializers.IntegerField()


class ShipmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    warehouse_name = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    eta = serializers.DateField(
        allow_null=True,
        help_text=(
            "The day this parcel is expected, on the destination's calendar (its warehouse's handling days "
            "plus the carrier's working days); null for parcels packed before parcels had their own date."
        ),
    )


class TaxPartOut(serializers.Serializer):
    name = serializers.CharField(help_text="The tax as the destination names it, e.g. GST, QST")
    rate = serializers.CharField(help_text="Percent, as a decimal string, e.g. 9.975")
    minor = serializers.IntegerField(help_text="Its share of tax_minor")


class OrderOut(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    subtotal_minor = serializers.IntegerField()
    discount_minor = serializers.IntegerField()
    shipping_minor = serializers.IntegerField()
    tax_minor = serializers.IntegerField()
    tax_rate = serializers.CharField()
    prices_include_tax = serializers.BooleanField()
    tax_parts = TaxPartOut(
        many=True,
        help_text="The named taxes tax_rate is made of, where the destination names them (Quebec: GST and QST); "
        "their minor amounts add up to tax_minor. Empty elsewhere.",
    )
    total_minor = serializers.IntegerField()
    refunded_minor = serializers.IntegerField()
    fx_snapshot_id = serializers.IntegerField(allow_null=True)
    eta = serializers.DateField()
    shipping_option = serializers.CharField()
    payment_provider = serializers.CharField()
    payment_method = serializers.CharField()
    reserved_until = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    lines = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField(help_text="One parcel per warehouse, once the order is packed.")

    @extend_schema_field(OrderLineOut(many=True))
    def get_lines(self, order: Order) -> list[dict[str, Any]]:
        # Just placed by this request: its lines are in hand, not read back.
        return OrderLineOut(getattr(order, "placed_lines", None) or order.lines.all(), many=True).data

    @extend_schema_field(ShipmentOut(many=True))
    def get_shipments(self, order: Order) -> list[dict[str, Any]]:
        if getattr(order, "placed_now", False):
            # Just placed by this request: nothing is packed, and the checkout is spared a query.
            return []
        return ShipmentOut(order.shipments.all(), many=True).data


def _cart_out(request: Request) -> dict[str, Any]:
    cart = request_cart(request._request, create=False)
    review = selectors.cart_review(cart=cart, shopper=request_shopper(request._request))
    # The lines a checkout names (expected_lines) are all of the cart's, as the checkout compares them.
    shown = selectors.cart_quantities(review.lines)
    return CartOut({**vars(review), "checkout_pass": request_checkout_pass(request._request, shown)}).data


# --- the errors each endpoint documents (one body for all: apps.errors.ErrorResponse) ------------


def _refused(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponse, description=description)


# The cart is priced in the shopper's currency on every answer, which needs the day's FX rates.
_CART_NOT_PRICED = _refused("`no_fx_rates`: prices in the shopper's currency cannot be worked out now; retry later.")
_CART_LINE_REFUSED = _refused(
    "Bad input (`fields` names each bad field): `invalid`, `unexpected_fields`, `invalid_variant`, "
    "`variant_unavailable` (not on sale in the shopper's country), `invalid_quantity`, `order_limit`."
)
_ORDER_NOT_FOUND = _refused("`not_found`: no such order among the shopper's (signed in, or this session's).")


class CartApi(APIView):
    @extend_schema(
        responses={200: CartOut, 503: _CART_NOT_PRICED}, summary="The shopper's cart, re-validated and priced now"
    )
    def get(self, request: Request) -> Response:
        return Response(_cart_out(request))


class CartLinesApi(APIView):
    @extend_schema(
        request=LineIn,
        responses={201: CartOut, 400: _CART_LINE_REFUSED, 503: _CART_NOT_PRICED},
        summary="Add units of a variant to the cart",
    )
    def post(self, request: Request) -> Response:
        data = _valid(LineIn, request.data)
        shopper = request_shopper(request._request)
        services.cart_line_add(
            cart=request_cart(request._request),
            variant_id=data["variant"],
            quantity=data["quantity"],
            country=shopper.country,
        )
        return Response(_cart_out(request), status=201)


class CartLineApi(APIView):
    @extend_schema(
        request=QuantityIn,
        responses={200: CartOut, 400: _CART_LINE_REFUSED, 503: _CART_NOT_PRICED},
        summary="Set a line's quantity (0 removes it)",
    )
    def put(self, request: Request, variant_id: int) -> Response:
        data = _valid(QuantityIn, request.data)
        shopper = request_shopper(request._request)
        # Setting 0 in no cart removes nothing: no cart is made for it (see ``delete``).
        cart = request_cart(request._request, create=data["quantity"] != 0)
        if cart is not None:
            services.cart_line_set(cart=cart, variant_id=variant_id, quantity=data["quantity"], country=shopper.country)
        return Response(_cart_out(request))

    # Answers the cart, like the other cart calls (not 204: the page redraws from it).
    @extend_schema(responses={200: CartOut, 503: _CART_NOT_PRICED}, summary="Remove a line")
    def delete(self, request: Request, variant_id: int) -> Response:
        # No open cart (a tab left open since the checkout): nothing to remove, and no empty cart
        # made that would hide the order's own cart should its payment fail.
        cart = request_cart(request._request, create=False)
        if cart is not None:
            services.cart_line_set(cart=cart, variant_id=variant_id, quantity=0, country="")
        return Response(_cart_out(request))


class CheckoutOptionsApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "CheckoutOptions",
            {
                "shipping_options": serializers.ListField(child=serializers.CharField()),
                "payment_methods": serializers.ListField(
                    child=inline_serializer(
                        "PaymentMethodOffered",
                        {
                            "provider": serializers.CharField(),
                            "method": serializers.CharField(),
                            "label": serializers.CharField(
                                help_text="What to show the shopper (Card, Cash on delivery, PayPal …) in the request's "
                                "language; checkout takes `provider` and `method`."
                            ),
                            "is_test": serializers.BooleanField(),
                        },
                    )
                ),
            },
        ),
        summary="Shipping options and payment methods offered for this shopper",
    )
    def get(self, request: Request) -> Response:
        shopper = request_shopper(request._request)
        return Response(
            {
                "shipping_options": [o.code for o in rules.shipping_options()],
                "payment_methods": [
                    {
                        "provider": m.provider,
                        "method": m.method,
                        "label": method_label(m.method),
                        "is_test": m.is_test,
                    }
                    for m in payment_methods_offered(currency=shopper.currency, country=shopper.country)
                ],
            }
        )


class CheckoutApi(APIView):
    @extend_schema(
        request=CheckoutIn,
        responses={
            201: OrderOut,
            200: OrderOut,
            400: _refused(
                "Bad input (`fields` names each bad field): `invalid`, `unexpected_fields`, "
                "`invalid_idempotency_key`, `invalid_address`, `invalid_shipping_option`, "
                "`payment_method_not_offered`, `cart_empty`, `order_limit`, and the coupon's `coupon_unknown`, "
                "`coupon_expired`, `coupon_not_started`, `coupon_not_valid_here`, `coupon_min_spend`."
            ),
            409: _refused(
                "The cart, its prices or the attempt changed since the page was shown; nothing was written: "
                "`sold_out`, `cart_changed`, `total_changed` (`fields` carries the current total), "
                "`checkout_attempt_ended` (send a new Idempotency-Key), `idempotency_key_reused`, "
                "`coupon_sold_out`, `cart_closed`."
            ),
            503: _refused(
                "`no_fx_rates`, `stale_rates`: the order cannot be priced in the shopper's currency now "
                "(checkout never charges on stale rates); retry later."
            ),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=True,
                description=(
                    "Unique per checkout attempt; a retry with the same key returns the same order. Once that "
                    "order is cancelled (paying failed) the key answers 409 'checkout_attempt_ended': send a new one."
                ),
            )
        ],
        summary="Place the order and reserve its stock",
    )
    def post(self, request: Request) -> Response:
        data = _valid(CheckoutIn, request.data)
        key = request.headers.get("Idempotency-Key", "")
        placed = selectors.order_placed_with_key(
            idempotency_key=key, user=request.user, session_orders=session_orders(request._request)
        )
        if placed is not None and placed.status != Order.Status.CANCELLED:
            # A retried submit: the cart it came from is ordered, the answer is the same order
            # (one whose attempt ended, cancelled, is the checkout's to refuse).
            return Response(OrderOut(placed).data, status=200)
        cart = request_cart(request._request, create=False)
        if cart is None:
            # Nothing chosen since the last order: the answer a checkout of an empty cart gets,
            # without opening one (the session keeps the ordered cart, which may open again).
            raise ApplicationError(_("Your cart is empty."), code="cart_empty")
        order = services.checkout_place(
            cart=cart,
            idempotency_key=key,
            shopper=request_shopper(request._request),
            email=data["email"],
            address=dict(data["address"]),
            shipping_option=data["shipping_option"],
            payment_provider=data["payment_provider"],
            payment_method=data["payment_method"],
            coupon_code=data.get("coupon", ""),
            expected_total_minor=data.get("expected_total_minor"),
            expected_lines=data.get("expected_lines"),
            admission=request._request.scope.get(door.ADMISSION) if hasattr(request._request, "scope") else None,
            user=request.user,
        )
        remember_order(request._request, order.reference)
        # 201 for the order this request placed; 200 for one an earlier submit with the key placed.
        return Response(OrderOut(order).data, status=201 if order.placed_now else 200)


def _order_or_404(request: Request, reference: str) -> Order:
    order = selectors.order_for_viewer(
        reference=reference, user=request.user, session_orders=session_orders(request._request)
    )
    if order is None:
        raise ApplicationError(_("No such order."), code="not_found", status=404)
    return order


class OrderListApi(APIView):
    @extend_schema(responses=OrderOut(many=True), summary="The signed-in shopper's orders")
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            orders = Order.objects.filter(reference__in=session_orders(request._request))
            return Response(OrderOut(orders.prefetch_related("lines", "shipments"), many=True).data)
        return Response(OrderOut(selectors.orders_for_user(user=request.user)[:100], many=True).data)


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOut, 404: _ORDER_NOT_FOUND}, summary="One order")
    def get(self, request: Request, reference: str) -> Response:
        return Response(OrderOut(_order_or_404(request, reference)).data)


class OrderPayApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "PaymentStarted",
                {
                    "status": serializers.CharField(),
                    "provider": serializers.CharField(),
                    "next_action": serializers.CharField(),
                    "client_secret": serializers.CharField(),
                    "approval_url": serializers.CharField(),
                    "order_status": serializers.CharField(),
                },
            ),
            400: _refused(
                "The payment could not be started: `payment_declined` (the provider refused; the order is "
                "cancelled and the cart open again), `payment_method_not_offered`, `currency_not_supported`, "
                "`invalid`."
            ),
            404: _ORDER_NOT_FOUND,
            409: _refused(
                "`already_paid`, `not_payable` (cancelled), `expired` (the reservation ran out: check out again), "
                "`payment_in_progress` (a payment is being processed), `cash_on_delivery_pending` (the courier "
                "collects this order's cash: it cannot be paid another way), `conflict` (retry)."
            ),
            503: _refused(
                "`provider_unavailable`: the payment provider is not answering; the order is cancelled and the "
                "cart open again, so the shopper can check out with another method."
            ),
        },
        summary="Pay the order with its chosen method",
    )
    def post(self, request: Request, reference: str) -> Response:
        order = _order_or_404(request, reference)
        payment = services.order_pay(order=order, return_url=request.build_absolute_uri(f"/orders/{order.reference}/"))
        order.refresh_from_db()
        return Response(
            {
                "status": payment.status,
                "provider": payment.provider,
                "next_action": payment.next_action or "",
                "client_secret": payment.client_secret or "",
                "approval_url": payment.approval_url or "",
                "order_status": order.status,
            }
        )


class OrderStepIn(StrictSerializer):
    tracking_numbers = serializers.DictField(
        child=serializers.CharField(max_length=60, allow_blank=True),
        required=False,
        help_text="ship: tracking number by shipment id",
    )
    amount_minor = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="refund: minor units; omitted = everything left"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, help_text="cancel: why")


class OrderStepOut(OrderOut):
    next_steps = serializers.ListField(child=serializers.CharField())
    refund_owed_minor = serializers.IntegerField(
        help_text=(
            "Refunds the payment provider has not taken yet (it was not answering): the order stays as it is "
            "(a cancel is done) and the refund is retried automatically until the provider takes it."
        )
    )
    refund_declined_minor = serializers.IntegerField(
        help_text=(
            "A cancelled order: money paid that no refund is returning (the provider declined it) and nothing "
            "will send again; staff return it another way."
        )
    )
    notice = serializers.CharField(
        allow_blank=True, help_text="For the staff member, in their language: what is still owed; empty when nothing."
    )


class MerchantOrderStepOut(serializers.Serializer):
    """A merchant's part of the order: their lines and parcels, no totals or payment."""

    reference = serializers.CharField()
    status = serializers.CharField()
    lines = OrderLineOut(many=True)
    shipments = ShipmentOut(many=True)
    next_steps = serializers.ListField(child=serializers.CharField())


# A shipment id as a tracking_numbers key: ASCII digits (a number past the id column names no
# shipment, and is answered as one that is not this staff member's or this order's).
_SHIPMENT_ID = re.compile(r"[0-9]{1,30}")


class StaffMayTakeOrderSteps(BasePermission):
    """Operators (the order change permission, as on the admin's order page) take every step;
    merchant staff pack, ship and deliver their own part of an order (``services.MERCHANT_STEPS``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = selectors.order_scope(request.user)
        return scope is None or bool(scope)


class OrderStepApi(APIView):
    permission_classes = [StaffMayTakeOrderSteps]

    @extend_schema(
        request=OrderStepIn,
        responses={
            200: PolymorphicProxySerializer(
                component_name="OrderStepResult",
                serializers=[OrderStepOut, MerchantOrderStepOut],
                resource_type_field_name=None,
            ),
            202: OpenApiResponse(
                OrderStepOut,
                description=(
                    "refund: the payment provider is not answering; the refund is recorded (`refund_owed_minor`) "
                    "and sent again every 15 minutes until the provider takes it."
                ),
            ),
            400: _refused(
                "Bad input (`fields` names each bad field): `invalid`, `unexpected_fields`, `invalid_tracking`, "
                "`invalid_amount`, `over_refund` (`fields.refundable_minor` carries the most that can be "
                "refunded, in minor units); `not_refundable` (the payment is not captured) and, for a refund, "
                "`refund_declined` (the provider refused it)."
            ),
            403: _refused(
                "Not operator or merchant staff; `permission_denied` (merchant staff: cancel or refund, the "
                "operators' steps), `not_your_shipment` (a parcel leaving another merchant's warehouse)."
            ),
            404: _refused("`not_found`: no such order (for merchant staff: none with their products); `unknown_step`."),
            409: _refused(
                "The order is not at that step: `illegal_transition`, `not_refundable` (nothing to refund), "
                "`refund_in_progress` (an earlier refund is still unconfirmed; `fields.unconfirmed_minor` "
                "carries its amount: retry with that amount or none)."
            ),
            503: _refused(
                "`provider_unavailable`: no refund could be recorded; look at the order's refunds before asking again."
            ),
        },
        parameters=[OpenApiParameter("step", str, OpenApiParameter.PATH, enum=list(services.ORDER_STEPS))],
        summary="Staff: take the order's next step (fulfil, ship, deliver, cancel, refund)",
        description=(
            "Operators take every step and get the whole order back. Merchant staff pack their part of "
            "the order (`fulfil`: the units leaving their own warehouses; the order is fulfilled once every "
            "merchant's part is packed), ship and deliver those parcels, and get their part of the order "
            "back; cancel and refund are the operators'. An order without their products answers 404."
        ),
    )
    def post(self, request: Request, reference: str, step: str) -> Response:
        scope = selectors.order_scope(request.user)
        order = selectors.orders_for_staff(scope=scope).filter(reference=reference).first()
        if order is None:
            raise ApplicationError(_("No such order."), code="not_found", status=404)
        data = _valid(OrderStepIn, request.data)
        tracking: dict[int, str] = {}
        for key, number in (data.get("tracking_numbers") or {}).items():
            # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500).
            if not _SHIPMENT_ID.fullmatch(str(key)):
                raise ApplicationError(
                    _("Tracking numbers are keyed by shipment id."),
                    code="invalid_tracking",
                    fields={"tracking_numbers": [_("Not a shipment id: %(key)s") % {"key": str(key)[:20]}]},
                )
            tracking[int(key)] = number
        accepted = False
        try:
            order = services.order_take_step(
                order=order,
                step=step,
                actor=request.user,
                tracking_numbers=tracking,
                amount_minor=data.get("amount_minor"),
                note=data.get("note", ""),
                merchant_ids=scope,
                locale=request.shopper.locale,
            )
        except ApplicationError as exc:
            # A refund the provider could not take is written, pending, and the retry sweep sends
            # it: 202 (accepted, not done), not a 503 inviting a retry by hand, which could only
            # ask for that same refund again. Any other refusal is an error as it stands.
            if step != "refund" or exc.code != "provider_unavailable" or scope is not None:
                raise
            order.refresh_from_db()
            if not selectors.order_refunds_owed(order=order).waiting_minor:
                raise
            accepted = True
        if scope is None:
            return Response(_operator_order_out(request, order), status=202 if accepted else 200)
        part = {
            "reference": order.reference,
            "status": order.status,
            "lines": selectors.order_lines_for_staff(scope=scope).filter(order=order),
            "shipments": selectors.shipments_for_staff(scope=scope).filter(order=order).order_by("pk"),
            "next_steps": services.order_next_steps(order=order, merchant_ids=scope),
        }
        return Response(MerchantOrderStepOut(part).data)


def _operator_order_out(request: Request, order: Order) -> dict[str, Any]:
    """The whole order as an operator gets it back after a step (:class:`OrderStepOut`), with what it still owes."""
    owed = selectors.order_refunds_owed(order=order)
    return {
        **OrderOut(order).data,
        "next_steps": services.order_next_steps(order=order),
        "refund_owed_minor": owed.waiting_minor,
        "refund_declined_minor": owed.held_minor,
        "notice": " ".join(owed.notices(currency=order.currency, locale=request.shopper.locale)),
    }


class RefundReturnedOutsideIn(StrictSerializer):
    amount_minor = serializers.IntegerField(
        min_value=1,
        help_text=(
            "The refund owed that staff returned, in minor units: the order's `refund_declined_minor` as they "
            "saw it. Another amount is refused (`owed_changed`), so a second click records nothing twice."
        ),
    )
    # Checked by the service, as for the admin's form: required, at most 500 characters.
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="How the money went back (for example: bank transfer and its reference). Required.",
    )


class OrderRefundReturnedOutsideApi(APIView):
    """A cancelled order's refund the provider declined, returned by staff another way, is recorded."""

    permission_classes = [StaffMayTakeOrderSteps]

    @extend_schema(
        request=RefundReturnedOutsideIn,
        responses={
            200: OrderStepOut,
            400: _refused(
                "Bad input (`fields` names each bad field): `invalid` (`amount_minor` missing or not a positive "
                "whole number), `unexpected_fields`, `invalid_note` (no note of how the money went back, or "
                "longer than 500 characters)."
            ),
            403: _refused(
                "Not an operator: merchant staff (`permission_denied`) and anyone else; money returned is "
                "the operators' to record."
            ),
            404: _refused("`not_found`: no such order."),
            409: _refused(
                "Nothing recorded: `not_owed` (the order is not cancelled, or owes no declined refund: a refund "
                "only waiting for its provider is sent by the retry sweep), `owed_changed` (the amount owed is "
                "another by now; `fields.amount_minor` says it in money, `fields.owed_minor` carries it in minor units: "
                "look at the order again)."
            ),
        },
        summary="Staff: record that a declined refund was returned to the customer another way",
        description=(
            "For a cancelled order whose refund the payment provider declined (`refund_declined_minor`): "
            "nothing sends it again, so staff return the money another way (a bank transfer) and record it "
            "here, with a note of how. The refund is recorded as returned outside the provider, with who and "
            "when, in the order's history; the order no longer shows it as owed. Operators only."
        ),
    )
    def post(self, request: Request, reference: str) -> Response:
        scope = selectors.order_scope(request.user)
        if scope is not None:
            # Money and how it went back are the operators' business, as on the admin's page.
            raise ApplicationError(
                _("Operators record refunds returned another way; merchant staff cannot."),
                code="permission_denied",
                status=403,
            )
        order = selectors.orders_for_staff(scope=scope).filter(reference=reference).first()
        if order is None:
            raise ApplicationError(_("No such order."), code="not_found", status=404)
        data = _valid(RefundReturnedOutsideIn, request.data)
        services.order_refund_settle_outside(
            order=order,
            amount_minor=data["amount_minor"],
            note=data.get("note", ""),
            actor=request.user,
            locale=request.shopper.locale,
        )
        order.refresh_from_db()
        return Response(_operator_order_out(request, order))

"""Provider webhooks: verify, store once, apply once. Thin: the service does the work.

CSRF does not apply (the provider's signature is the authentication), hence no
authentication classes. Any refusal is the standard error body with status 400.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.errors import ErrorResponse
from apps.payments import services

_Received = inline_serializer(
    "WebhookReceived",
    fields={
        "received": serializers.BooleanField(),
        "event_id": serializers.CharField(),
        "duplicate": serializers.BooleanField(),
    },
)


class _WebhookApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    provider = ""

    @extend_schema(
        request=None,
        responses={
            200: _Received,
            400: OpenApiResponse(
                ErrorResponse,
                description="`webhook_rejected`: unsigned, wrongly signed, too old or future-dated; nothing stored.",
            ),
            404: OpenApiResponse(
                ErrorResponse, description="`webhook_not_configured`: this region takes no webhooks from the provider."
            ),
            503: OpenApiResponse(
                ErrorResponse,
                description="`provider_unavailable`: the provider's verification call could not be made; retry later.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        receipt = services.webhook_receive(provider=self.provider, body=request.body, headers=request.headers)
        return Response({"received": True, "event_id": receipt.event.event_id, "duplicate": receipt.duplicate})


class StripeWebhookApi(_WebhookApi):
    provider = "stripe"


class PayPalWebhookApi(_WebhookApi):
    provider = "paypal"

from django.urls import path

from apps.payments import api

app_name = "payments"

urlpatterns = [
    path("webhooks/stripe/", api.StripeWebhookApi.as_view(), name="webhook-stripe"),
    path("webhooks/paypal/", api.PayPalWebhookApi.as_view(), name="webhook-paypal"),
]

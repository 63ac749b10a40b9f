"""Read-only views of payments for staff: changes go through the services, never the admin."""

from django.contrib import admin

from apps.payments.models import Payment, Refund, WebhookEvent


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["amount_minor", "currency", "status", "provider_refund_id", "reason", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(_ReadOnly):
    list_display = ["order_reference", "provider", "method", "amount_minor", "currency", "status", "created_at"]
    list_filter = ["provider", "status", "currency"]
    search_fields = ["order_reference", "provider_payment_id", "idempotency_key"]
    # The client secret stays out of the admin: it is for the shopper's browser only.
    exclude = ["client_secret"]
    inlines = [RefundInline]


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnly):
    list_display = ["provider", "event_type", "event_id", "received_at", "processed_at", "result"]
    list_filter = ["provider", "event_type"]
    search_fields = ["event_id"]

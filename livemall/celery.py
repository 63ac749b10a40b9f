"""The Celery app. The beat schedule lives here, in code, next to the tasks it names."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livemall.settings")

app = Celery("livemall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "heartbeat": {"task": "livemall.tasks.heartbeat", "schedule": 60.0},
    # The ECB publishes around 16:00 CET (14:00-15:00 UTC); 16:30 UTC catches it all year.
    "money-fx-rates-update": {"task": "money.fx_rates_update", "schedule": crontab(minute=30, hour=16)},
    # Unpaid reservations run out after ORDERS_RESERVATION_MINUTES; release them each minute.
    "orders-reservations-expire": {"task": "orders.reservations_expire", "schedule": 60.0},
    # Flash-sale gates (Redis) checked against the database; drift is repaired and logged.
    "orders-flash-sales-reconcile": {"task": "orders.flash_sales_reconcile", "schedule": 30.0},
    # Cash on delivery whose capture never ran after the delivery (process died, capture failed): recorded.
    "orders-cash-on-delivery-collect-missed": {"task": "orders.cash_on_delivery_collect_missed", "schedule": 600.0},
    # Order e-mails owed and not sent (broker down at the commit, retries run out, a worker died): queued again.
    "orders-emails-send-missed": {"task": "orders.emails_send_missed", "schedule": 300.0},
    # Orders' refunded totals behind their payments' refunds (the refund's notice lost with a dead process): set.
    "orders-refund-totals-reconcile": {"task": "orders.refund_totals_reconcile", "schedule": 300.0},
    # Flash-sale gates open for exactly the products live shows pin (a pin's gate change lost to Redis, repaired).
    "live-flash-sale-gates-follow-pins": {"task": "live.flash_sale_gates_follow_pins", "schedule": 60.0},
    # Concurrent viewers of each live show, one sample a minute, for the show's stats.
    "live-viewer-counts-sample": {"task": "live.viewer_counts_sample", "schedule": 60.0},
    # Recordings are kept for the region's retention; past it, deleted (and logged) hourly.
    "live-recordings-delete-expired": {"task": "live.recordings_delete_expired", "schedule": crontab(minute=15)},
    # Streams of ended shows that the provider (Mux) still keeps: a deletion failed or was never queued.
    "live-provider-streams-delete": {"task": "live.provider_streams_delete", "schedule": crontab(minute=35)},
    # Recordings still at Mux whose copy home may yet come: a copy task lost on the way is queued again.
    "live-recordings-copy-from-mux-again": {
        "task": "live.recordings_copy_from_mux_again",
        "schedule": crontab(minute=55),
    },
    # Recordings copied home whose assets Mux still keeps: the copy task's deletes ran out of retries.
    "live-mux-recordings-delete-leftover": {
        "task": "live.mux_recordings_delete_leftover",
        "schedule": crontab(minute=45),
    },
    # Provider events that came before the payment they are about: applied once it is known.
    "payments-webhook-events-retry": {"task": "payments.webhook_events_retry", "schedule": crontab(minute=45)},
    # Refunds the provider could not take (it was down) are retried with their own key until it does.
    "payments-refunds-retry-unsettled": {"task": "payments.refunds_retry_unsettled", "schedule": 900.0},
}

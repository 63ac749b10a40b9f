"""The admin names the live, orders and payments models in the shop's words, in the operator's language."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from apps.live.models import LiveRoom

OUR_APPS = ("accounts", "analytics", "catalog", "cms", "compliance", "live", "money", "orders", "payments")
NAMED_APPS = ("live", "orders", "payments")


@pytest.mark.parametrize(
    "model", [model for label in NAMED_APPS for model in apps.get_app_config(label).get_models()], ids=str
)
def test_every_model_is_named_through_gettext_singular_and_plural(model):
    # Django's default ("danmaku" → "danmakus", "webhook event") is English made up from the class name.
    for option in ("verbose_name", "verbose_name_plural"):
        assert option in model._meta.original_attrs, (model, option)
        assert isinstance(getattr(model._meta, option), Promise), (model, option)


@pytest.mark.parametrize("label", OUR_APPS)
def test_every_app_is_named_through_gettext(label):
    assert isinstance(apps.get_app_config(label).verbose_name, Promise)


def _sidebar(page) -> dict[str, list[str]]:
    return {app["app_label"]: [model["name"] for model in app["models"]] for app in page.context["app_list"]}


@pytest.mark.django_db
def test_the_admin_index_lists_readable_names_in_english(operator_client):
    page = operator_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    names = {app["app_label"]: app["name"] for app in page.context["app_list"]}
    assert (names["live"], names["orders"], names["payments"]) == ("Live shows", "Orders", "Payments")
    sidebar = _sidebar(page)
    assert {"Live rooms", "Chat messages", "Pinned products", "Flash coupons", "Giveaways"} <= set(sidebar["live"])
    assert {"Orders", "Coupons"} <= set(sidebar["orders"])
    assert {"Payments", "Webhook events"} <= set(sidebar["payments"])
    assert not [name for names in sidebar.values() for name in names if "anmaku" in name]


@pytest.mark.django_db
def test_a_model_name_follows_the_active_language(use_region):
    use_region("eu-west")
    # "live room" is in the German catalogue already (the console's title); the new plurals wait
    # for the translators, so the singular shows that the name is looked up when it is shown.
    with translation.override("de"):
        assert str(LiveRoom._meta.verbose_name) == "Live-Raum"
    with translation.override("en"):
        assert str(LiveRoom._meta.verbose_name) == "live room"


def test_every_field_merchant_staff_read_on_an_order_is_named_through_gettext():
    from apps.orders.admin import OrderAdmin, OrderEventInline, OrderLineInline, ShipmentInline
    from apps.orders.models import Order, OrderEvent

    # Without a verbose_name Django makes the label up from the field's name, in English ("Eta").
    read = [(Order, name) for name in OrderAdmin.merchant_fields if name != "ship_to"]
    read += [(inline.model, name) for inline in (OrderLineInline, ShipmentInline) for name in inline.readonly_fields]
    read += [(OrderEvent, name) for name in ("from_status", "to_status", "at")]
    assert OrderEventInline.model is OrderEvent
    unnamed = [
        f"{model.__name__}.{name}"
        for model, name in read
        if not isinstance(model._meta.get_field(name).verbose_name, Promise)
    ]
    assert unnamed == []


@pytest.mark.parametrize("label", ("orders", "payments"))
def test_every_field_of_the_orders_and_payments_models_is_named_through_gettext(label):
    # Operators read every one of them on the admin's pages ("Fx rate", "Confirmation claimed at"
    # in English whatever their language, had Django made them up from the names).
    unnamed = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config(label).get_models()
        for field in model._meta.get_fields()
        if not field.auto_created and not isinstance(field.verbose_name, Promise)
    ]
    assert unnamed == []


def test_an_order_field_is_labelled_in_the_operators_language(use_region):
    from apps.orders.models import Order
    from apps.payments.models import Payment

    use_region("eu-west")
    # Words already in the German catalogue: looked up when the label is shown, not when the model loads.
    with translation.override("de"):
        assert str(Order._meta.get_field("currency").verbose_name) == "Währung"
        assert str(Payment._meta.get_field("status").verbose_name) == "Status"
        assert str(Order._meta.get_field("email").verbose_name) == "E-Mail-Adresse"
    with translation.override("en"):
        assert str(Order._meta.get_field("fx_rate").verbose_name) == "exchange rate"

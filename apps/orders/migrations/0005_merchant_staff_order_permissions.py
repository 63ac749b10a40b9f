"""The "Merchant staff" group may view orders: which ones, and which part of them, is
scoped per merchant by ``apps.orders.admin`` (``selectors.order_scope``); this group only
grants the model permission. Shipping their parcels needs no more: the steps are services,
not edits of the order row. ``apps.accounts.services`` puts merchant owners and staff in
the group by the same name.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Merchant staff"

PERMISSIONS = {
    "order": ("view",),
}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now so the
    # group can point at them on a fresh database.
    orders = apps.get_app_config("orders")
    orders.models_module = True
    create_permissions(orders, apps=apps, verbosity=0)
    orders.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, actions in PERMISSIONS.items() for action in actions]
    group.permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(content_type__app_label="orders"))


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_coupon_redemption_limit"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

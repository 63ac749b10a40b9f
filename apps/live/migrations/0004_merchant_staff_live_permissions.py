"""The "Merchant staff" group: what merchant staff may do in the admin console.

Which rooms they see is scoped per merchant by ``apps.live.admin``; this group only
grants the model permissions. ``apps.accounts.services`` puts merchant owners and
staff in it by the same name.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Merchant staff"

PERMISSIONS = {
    "liveroom": ("add", "change", "view"),
    "danmaku": ("view",),
    "pinnedproduct": ("view",),
    "flashcoupon": ("view",),
    "giveaway": ("view",),
}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now so the
    # group can point at them on a fresh database.
    live = apps.get_app_config("live")
    live.models_module = True
    create_permissions(live, apps=apps, verbosity=0)
    live.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, actions in PERMISSIONS.items() for action in actions]
    group.permissions.add(*Permission.objects.filter(content_type__app_label="live", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(content_type__app_label="live"))


class Migration(migrations.Migration):
    dependencies = [
        ("live", "0003_console_pins_coupons_giveaways"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

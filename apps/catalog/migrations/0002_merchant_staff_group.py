"""The "Merchant staff" group: what merchant staff may do in the admin console.

Which rows they see is scoped per merchant by ``apps.catalog.admin``; this group only
grants the model permissions. ``apps.accounts.services`` puts merchant owners and
staff in it by the same name.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Merchant staff"

PERMISSIONS = {
    "product": ("add", "change", "delete", "view"),
    "variant": ("add", "change", "delete", "view"),
    "productingredient": ("add", "change", "delete", "view"),
    "productimage": ("add", "change", "delete", "view"),
    "certification": ("add", "change", "delete", "view"),
    "warehouse": ("add", "change", "delete", "view"),
    "stock": ("add", "change", "delete", "view"),
    "category": ("view",),
}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now so the
    # group can point at them on a fresh database.
    catalog = apps.get_app_config("catalog")
    catalog.models_module = True
    create_permissions(catalog, apps=apps, verbosity=0)
    catalog.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, actions in PERMISSIONS.items() for action in actions]
    group.permissions.add(*Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(content_type__app_label="catalog"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

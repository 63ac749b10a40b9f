"""The US food-colour rule of 0004 in French, now that us-east offers French: a French reader
in the United States is told why a product is not sold there in French, not in English.

Only where the operator has not written a French message of their own.
"""

from django.db import migrations
from django.db.models import Q

RULE = "Food colours not permitted in the US"
FRENCH = "Contient un colorant alimentaire non autorisé aux États-Unis."


def add_french(apps, schema_editor):
    ProductRule = apps.get_model("compliance", "ProductRule")
    unwritten = Q(message_fr="") | Q(message_fr__isnull=True)
    ProductRule.objects.filter(unwritten, name=RULE).update(message_fr=FRENCH)


def remove_french(apps, schema_editor):
    ProductRule = apps.get_model("compliance", "ProductRule")
    ProductRule.objects.filter(name=RULE, message_fr=FRENCH).update(message_fr=None)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0004_us_and_sea_rules")]

    operations = [migrations.RunPython(add_french, remove_french)]

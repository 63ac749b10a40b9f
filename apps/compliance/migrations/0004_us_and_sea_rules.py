"""Default rules for the Americas and South-East Asia, beside those of 0002.

- US: food colours that carry an E-number in Europe but are not permitted in US food.
- SG and TH: e-cigarettes and vaping products may not be sold (Singapore's Tobacco
  (Control of Advertisements and Sale) Act; Thailand's ban on import and sale).
"""

from django.db import migrations

RULES = [
    {
        "name": "Food colours not permitted in the US",
        "country": "US",
        "kind": "hide_additives",
        "food_only": True,
        "messages": {
            "en": "Contains a food colour that is not permitted in the United States.",
            "es": "Contiene un colorante alimentario no permitido en los Estados Unidos.",
            "pt": "Contém um corante alimentar não permitido nos Estados Unidos.",
        },
        "additives": [
            ("E104", "Quinoline yellow", "Listed for drugs and cosmetics only (D&C Yellow No. 10), not for food"),
            ("E122", "Azorubine (carmoisine)", "Not listed for food in 21 CFR Part 74"),
            ("E123", "Amaranth", "FD&C Red No. 2, delisted by the FDA in 1976"),
            ("E124", "Ponceau 4R", "Not listed for food in 21 CFR Part 74"),
        ],
    },
    {
        "name": "No vaping products in SG",
        "country": "SG",
        "kind": "hide",
        "attribute": "is_vaping_product",
        "messages": {
            "en": "E-cigarettes and vaping products cannot be sold in Singapore.",
            "zh-hans": "电子烟及电子烟产品不得在新加坡销售。",
            "ms": "Rokok elektronik dan produk vape tidak boleh dijual di Singapura.",
        },
    },
    {
        "name": "No vaping products in TH",
        "country": "TH",
        "kind": "hide",
        "attribute": "is_vaping_product",
        "messages": {
            "en": "E-cigarettes and vaping products cannot be sold in Thailand.",
            "th": "ห้ามจำหน่ายบุหรี่ไฟฟ้าและผลิตภัณฑ์ที่เกี่ยวข้องในประเทศไทย",
        },
    },
]


def _language_field(language: str) -> str:
    # django-modeltranslation names the Indonesian column "_ind" because "id" is taken.
    return "message_" + {"id": "ind"}.get(language, language).replace("-", "_")


def add_rules(apps, schema_editor):
    ProductRule = apps.get_model("compliance", "ProductRule")
    RuleAdditive = apps.get_model("compliance", "RuleAdditive")
    for spec in RULES:
        if ProductRule.objects.filter(name=spec["name"]).exists():
            continue
        rule = ProductRule(
            name=spec["name"],
            country=spec["country"],
            kind=spec["kind"],
            attribute=spec.get("attribute", ""),
            food_only=spec.get("food_only", False),
            message=spec["messages"]["en"],
        )
        for language, text in spec["messages"].items():
            setattr(rule, _language_field(language), text)
        rule.save()
        for e_number, name, note in spec.get("additives", []):
            RuleAdditive.objects.create(rule=rule, e_number=e_number, name=name, note=note)


def remove_rules(apps, schema_editor):
    ProductRule = apps.get_model("compliance", "ProductRule")
    ProductRule.objects.filter(name__in=[spec["name"] for spec in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_vaping_attribute")]

    operations = [migrations.RunPython(add_rules, remove_rules)]

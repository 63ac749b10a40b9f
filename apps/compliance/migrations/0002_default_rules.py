"""The rules LiveMall ships with for the countries it serves; operators edit them in the admin.

Each message is written in English (the fallback of every region) and in the languages
of the countries the rule applies to.
"""

from django.db import migrations

GROUPS = {
    "eu-eea": (
        "European Union and EEA",
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO",
    ),
    "gcc": ("Gulf Cooperation Council", "AE BH KW OM QA SA"),
}

_NO_ALCOHOL = {
    "SA": ("Saudi Arabia", "المملكة العربية السعودية"),
    "KW": ("Kuwait", "الكويت"),
    "QA": ("Qatar", "قطر"),
}

RULES = [
    *(
        {
            "name": f"No alcohol in {country}",
            "country": country,
            "kind": "hide",
            "attribute": "contains_alcohol",
            "messages": {
                "en": f"Products containing alcohol cannot be sold in {en}.",
                "ar": f"لا يمكن بيع المنتجات التي تحتوي على الكحول في {ar}.",
            },
        }
        for country, (en, ar) in _NO_ALCOHOL.items()
    ),
    {
        "name": "No pork in food in the GCC",
        "group": "gcc",
        "kind": "hide",
        "attribute": "contains_pork",
        "food_only": True,
        "messages": {
            "en": "Food containing pork cannot be sold in the Gulf states.",
            "ar": "لا يمكن بيع الأطعمة التي تحتوي على لحم الخنزير في دول الخليج.",
        },
    },
    {
        "name": "Halal certificate for food in the GCC",
        "group": "gcc",
        "kind": "require_certification",
        "attribute": "is_food",
        "certification_type": "halal",
        "messages": {
            "en": "Food sold in the Gulf states must carry a valid Halal certificate.",
            "ar": "يجب أن تحمل الأغذية المباعة في دول الخليج شهادة حلال سارية.",
        },
    },
    {
        "name": "Food additives not authorised in the EU/EEA",
        "group": "eu-eea",
        "kind": "hide_additives",
        "food_only": True,
        "messages": {
            "en": "Contains a food additive that is not authorised in the EU.",
            "fr": "Contient un additif alimentaire non autorisé dans l'UE.",
            "de": "Enthält einen in der EU nicht zugelassenen Lebensmittelzusatzstoff.",
            "es": "Contiene un aditivo alimentario no autorizado en la UE.",
            "it": "Contiene un additivo alimentare non autorizzato nell'UE.",
        },
        "additives": [
            ("E128", "Red 2G", "Use suspended by Commission Regulation (EC) No 884/2007"),
            ("E171", "Titanium dioxide", "No longer authorised since Commission Regulation (EU) 2022/63"),
            ("E216", "Propyl p-hydroxybenzoate", "Removed by Directive 2006/52/EC"),
            ("E217", "Sodium propyl p-hydroxybenzoate", "Removed by Directive 2006/52/EC"),
            ("E924", "Potassium bromate", "Not on the Union list, Regulation (EC) No 1333/2008 Annex II"),
            ("E926", "Chlorine dioxide", "Not on the Union list, Regulation (EC) No 1333/2008 Annex II"),
            ("E927a", "Azodicarbonamide", "Not on the Union list, Regulation (EC) No 1333/2008 Annex II"),
        ],
    },
    {
        "name": "EU Organic certificate for organic claims in the EU/EEA",
        "group": "eu-eea",
        "kind": "require_certification",
        "attribute": "claims_organic",
        "certification_type": "eu_organic",
        "messages": {
            "en": "Products sold as organic in the EU must carry a valid EU Organic certificate.",
            "fr": "Les produits vendus comme biologiques dans l'UE doivent avoir une certification biologique UE valide.",
            "de": "Als Bio verkaufte Produkte brauchen in der EU ein gültiges EU-Bio-Zertifikat.",
            "es": "Los productos vendidos como ecológicos en la UE deben tener una certificación ecológica UE válida.",
            "it": "I prodotti venduti come biologici nell'UE devono avere una certificazione biologica UE valida.",
        },
    },
]


def _language_field(language: str) -> str:
    # django-modeltranslation names the Indonesian column "_ind" because "id" is taken.
    return "message_" + {"id": "ind"}.get(language, language).replace("-", "_")


def add_defaults(apps, schema_editor):
    CountryGroup = apps.get_model("compliance", "CountryGroup")
    CountryGroupMember = apps.get_model("compliance", "CountryGroupMember")
    ProductRule = apps.get_model("compliance", "ProductRule")
    RuleAdditive = apps.get_model("compliance", "RuleAdditive")

    groups = {}
    for code, (name, countries) in GROUPS.items():
        group, _ = CountryGroup.objects.get_or_create(code=code, defaults={"name": name})
        for country in countries.split():
            CountryGroupMember.objects.get_or_create(group=group, country=country)
        groups[code] = group

    for spec in RULES:
        if ProductRule.objects.filter(name=spec["name"]).exists():
            continue
        rule = ProductRule(
            name=spec["name"],
            country=spec.get("country", ""),
            group=groups.get(spec.get("group", "")),
            kind=spec["kind"],
            attribute=spec.get("attribute", ""),
            food_only=spec.get("food_only", False),
            certification_type=spec.get("certification_type", ""),
            message=spec["messages"]["en"],
        )
        for language, text in spec["messages"].items():
            setattr(rule, _language_field(language), text)
        rule.save()
        for e_number, name, note in spec.get("additives", []):
            RuleAdditive.objects.create(rule=rule, e_number=e_number, name=name, note=note)


def remove_defaults(apps, schema_editor):
    ProductRule = apps.get_model("compliance", "ProductRule")
    CountryGroup = apps.get_model("compliance", "CountryGroup")
    ProductRule.objects.filter(name__in=[spec["name"] for spec in RULES]).delete()
    CountryGroup.objects.filter(code__in=list(GROUPS), rules__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]

"""Demo data for the current region: merchants with staff logins, categories, products
with variants, certificates and stock, upcoming shows.

Idempotent by natural keys (e-mail, merchant slug, category slug, product slug,
warehouse code, room slug): a second run finds everything in place and writes nothing.
The sparkling wine is there to show country rules at work: food without a Halal
certificate, and alcohol, so the Gulf countries do not see it and the admin says why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.accounts import services as accounts
from apps.accounts.models import Merchant, User
from apps.catalog import services as catalog
from apps.catalog.models import Category, Product, Warehouse
from apps.compliance.models import CertificationType, ProductAttribute
from apps.live import services as live
from apps.live.models import LiveRoom
from regions import Region

DEMO_PASSWORD = "livemall-demo"  # documented in the README; demo data only

# Texts in every language any region offers; each region keeps the ones it lists.
CATEGORIES = {
    "fashion": {
        "en": "Fashion",
        "es": "Moda",
        "pt": "Moda",
        "fr": "Mode",
        "de": "Mode",
        "it": "Moda",
        "th": "แฟชั่น",
        "id": "Fesyen",
        "ms": "Fesyen",
        "zh-hans": "时尚",
        "ar": "أزياء",
    },
    "home-kitchen": {
        "en": "Home & kitchen",
        "es": "Hogar y cocina",
        "pt": "Casa e cozinha",
        "fr": "Maison et cuisine",
        "de": "Haus & Küche",
        "it": "Casa e cucina",
        "th": "บ้านและครัว",
        "id": "Rumah & dapur",
        "ms": "Rumah & dapur",
        "zh-hans": "家居厨房",
        "ar": "المنزل والمطبخ",
    },
    "food-drink": {
        "en": "Food & drink",
        "es": "Alimentación y bebidas",
        "pt": "Alimentos e bebidas",
        "fr": "Épicerie et boissons",
        "de": "Lebensmittel & Getränke",
        "it": "Alimentari e bevande",
        "th": "อาหารและเครื่องดื่ม",
        "id": "Makanan & minuman",
        "ms": "Makanan & minuman",
        "zh-hans": "食品饮料",
        "ar": "الأطعمة والمشروبات",
    },
    "electronics": {
        "en": "Electronics",
        "es": "Electrónica",
        "pt": "Eletrônicos",
        "fr": "Électronique",
        "de": "Elektronik",
        "it": "Elettronica",
        "th": "อิเล็กทรอนิกส์",
        "id": "Elektronik",
        "ms": "Elektronik",
        "zh-hans": "电子产品",
        "ar": "الإلكترونيات",
    },
}

PRODUCT_NAMES = {
    "silk-scarf": {
        "en": "Silk scarf",
        "es": "Pañuelo de seda",
        "pt": "Lenço de seda",
        "fr": "Foulard en soie",
        "de": "Seidenschal",
        "it": "Foulard di seta",
        "th": "ผ้าพันคอไหม",
        "id": "Syal sutra",
        "ms": "Selendang sutera",
        "zh-hans": "真丝围巾",
        "ar": "وشاح حريري",
    },
    "ceramic-mug": {
        "en": "Hand-glazed ceramic mug",
        "es": "Taza de cerámica esmaltada a mano",
        "pt": "Caneca de cerâmica vidrada à mão",
        "fr": "Tasse en céramique émaillée main",
        "de": "Handglasierte Keramiktasse",
        "it": "Tazza in ceramica smaltata a mano",
        "th": "แก้วเซรามิกเคลือบมือ",
        "id": "Mug keramik glasir tangan",
        "ms": "Mug seramik sepuh tangan",
        "zh-hans": "手工釉陶瓷杯",
        "ar": "كوب خزفي مزجج يدويًا",
    },
    "dates-gift-box": {
        "en": "Premium dates gift box",
        "es": "Caja regalo de dátiles",
        "pt": "Caixa de presente de tâmaras",
        "fr": "Coffret de dattes",
        "de": "Dattel-Geschenkbox",
        "it": "Scatola regalo di datteri",
        "th": "กล่องของขวัญอินทผลัม",
        "id": "Kotak hadiah kurma",
        "ms": "Kotak hadiah kurma",
        "zh-hans": "椰枣礼盒",
        "ar": "علبة تمور فاخرة",
    },
    "wireless-earbuds": {
        "en": "Wireless earbuds",
        "es": "Auriculares inalámbricos",
        "pt": "Fones de ouvido sem fio",
        "fr": "Écouteurs sans fil",
        "de": "Kabellose Ohrhörer",
        "it": "Auricolari wireless",
        "th": "หูฟังไร้สาย",
        "id": "Earbud nirkabel",
        "ms": "Fon telinga tanpa wayar",
        "zh-hans": "无线耳机",
        "ar": "سماعات أذن لاسلكية",
    },
    "sparkling-wine": {
        "en": "Sparkling wine",
        "es": "Vino espumoso",
        "pt": "Vinho espumante",
        "fr": "Vin pétillant",
        "de": "Schaumwein",
        "it": "Vino spumante",
        "th": "ไวน์สปาร์กลิง",
        "id": "Anggur bersoda",
        "ms": "Wain berkilau",
        "zh-hans": "起泡酒",
        "ar": "نبيذ فوار",
    },
}

# Ingredient lists are printed in the region's default language at least (others fall back).
INGREDIENT_NAMES = {
    "dates": {"en": "Medjool dates", "ar": "تمر مجدول", "fr": "Dattes Medjool", "de": "Medjool-Datteln"},
    "citric-acid": {"en": "Citric acid", "ar": "حمض الستريك", "fr": "Acide citrique", "de": "Citronensäure"},
    "grapes": {"en": "Grapes", "ar": "عنب", "fr": "Raisins", "de": "Trauben"},
    "sulphites": {
        "en": "Sulphur dioxide",
        "ar": "ثاني أكسيد الكبريت",
        "fr": "Anhydride sulfureux",
        "de": "Schwefeldioxid",
    },
}


@dataclass(frozen=True)
class DemoProduct:
    category: str
    variants: tuple[tuple[str, int, dict[str, str]], ...]  # SKU, price in minor units, attributes
    attributes: tuple[str, ...] = ()
    certifications: tuple[tuple[str, str], ...] = ()  # type, issuer
    ingredients: tuple[tuple[str, str], ...] = ()  # key of INGREDIENT_NAMES, E-number


PRODUCTS = {
    "silk-scarf": DemoProduct(
        "fashion", (("SCARF-SILK-IVORY", 4900, {"colour": "ivory"}), ("SCARF-SILK-NAVY", 4900, {"colour": "navy"}))
    ),
    "ceramic-mug": DemoProduct(
        "home-kitchen", (("MUG-250", 1850, {"size": "250 ml"}), ("MUG-350", 2150, {"size": "350 ml"}))
    ),
    "dates-gift-box": DemoProduct(
        "food-drink",
        (("DATES-500G", 3200, {"size": "500 g"}), ("DATES-1KG", 5900, {"size": "1 kg"})),
        attributes=(ProductAttribute.IS_FOOD,),
        certifications=((CertificationType.HALAL, "Emirates Halal Center"),),
        ingredients=(("dates", ""), ("citric-acid", "E330")),
    ),
    "sparkling-wine": DemoProduct(
        "food-drink",
        (("WINE-SPARKLING-750", 2400, {"size": "750 ml"}),),
        attributes=(ProductAttribute.IS_FOOD, ProductAttribute.CONTAINS_ALCOHOL),
        ingredients=(("grapes", ""), ("sulphites", "E220")),
    ),
    "wireless-earbuds": DemoProduct(
        "electronics",
        (("EARBUDS-BLACK", 7999, {"colour": "black"}), ("EARBUDS-WHITE", 7999, {"colour": "white"})),
        certifications=((CertificationType.CE, "TÜV Rheinland"), (CertificationType.FCC, "FCC")),
    ),
}

ROOM_TITLES = {
    "en": "Evening show: new arrivals",
    "es": "Show de la tarde: novedades",
    "pt": "Show da noite: novidades",
    "fr": "Émission du soir : nouveautés",
    "de": "Abendshow: Neuheiten",
    "it": "Show serale: novità",
    "th": "ไลฟ์ยามค่ำ: สินค้าใหม่",
    "id": "Acara malam: produk baru",
    "ms": "Rancangan malam: barangan baharu",
    "zh-hans": "晚间直播：新品上市",
    "ar": "عرض المساء: وصل حديثًا",
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    merchant: str = ""


@dataclass(frozen=True)
class DemoMerchant:
    slug: str
    name: str
    products: tuple[str, ...]


MERCHANTS = (
    DemoMerchant("atelier-nova", "Atelier Nova", ("silk-scarf", "ceramic-mug")),
    DemoMerchant("oasis-pantry", "Oasis Pantry", ("dates-gift-box", "sparkling-wine")),
    DemoMerchant("pulse-electronics", "Pulse Electronics", ("wireless-earbuds",)),
)


def _user(email: str, *, region: Region, superuser: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    if superuser:
        return User.objects.create_superuser(email=email, password=DEMO_PASSWORD)
    return accounts.user_create(region=region, email=email, password=DEMO_PASSWORD)


def _category(region: Region, slug: str) -> Category:
    category = Category.objects.filter(slug=slug).first()
    if category is not None:
        return category
    names = CATEGORIES[slug]
    return catalog.category_create(
        region=region,
        slug=slug,
        names={lang: names[lang] for lang in region.languages},
        position=list(CATEGORIES).index(slug),
    )


def _product(*, region: Region, merchant: Merchant, warehouse: Warehouse, slug: str, today: dt.date) -> Product:
    spec = PRODUCTS[slug]
    names = PRODUCT_NAMES[slug]
    product = catalog.product_create(
        region=region,
        merchant=merchant,
        slug=slug,
        names={lang: names[lang] for lang in region.languages},
        category=_category(region, spec.category),
        attributes=spec.attributes,
        ingredients=[
            catalog.IngredientInput(
                names={lang: text for lang, text in INGREDIENT_NAMES[key].items() if lang in region.languages},
                e_number=e_number,
            )
            for key, e_number in spec.ingredients
        ],
    )
    for position, (sku, price_minor, attributes) in enumerate(spec.variants):
        variant = catalog.variant_create(
            region=region, product=product, sku=sku, price_minor=price_minor, attributes=attributes, position=position
        )
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=100)
    for type_, issuer in spec.certifications:
        catalog.certification_add(
            product=product,
            type=type_,
            issuer=issuer,
            number=f"{type_.upper()}-{merchant.slug.upper()}-{slug.upper()}",
            valid_from=today,
            valid_until=today + dt.timedelta(days=730),
        )
    return product


@transaction.atomic
def seed_demo(*, region: Region, now: dt.datetime | None = None) -> list[DemoLogin]:
    now = now or timezone.now()
    logins = [DemoLogin(email="operator@livemall.example", role="operator")]
    _user("operator@livemall.example", region=region, superuser=True)

    shopper_email = f"shopper@{region.code}.livemall.example"
    _user(shopper_email, region=region)
    logins.append(DemoLogin(email=shopper_email, role="shopper"))

    for index, spec in enumerate(MERCHANTS):
        owner_email = f"owner@{spec.slug}.example"
        staff_email = f"staff@{spec.slug}.example"
        owner = _user(owner_email, region=region)
        merchant = Merchant.objects.filter(slug=spec.slug).first() or accounts.merchant_create(
            name=spec.name, slug=spec.slug, country=region.default_country, owner=owner
        )
        staff = _user(staff_email, region=region)
        accounts.merchant_staff_add(merchant=merchant, user=staff)
        logins += [
            DemoLogin(email=owner_email, role="merchant owner", merchant=spec.name),
            DemoLogin(email=staff_email, role="merchant staff", merchant=spec.name),
        ]

        warehouse = Warehouse.objects.filter(merchant=merchant, code="main").first() or catalog.warehouse_create(
            merchant=merchant, code="main", name=f"{spec.name} warehouse", country=region.default_country
        )
        for product_slug in spec.products:
            if not Product.objects.filter(merchant=merchant, slug=product_slug).exists():
                _product(region=region, merchant=merchant, warehouse=warehouse, slug=product_slug, today=now.date())

        room_slug = f"{spec.slug}-evening-show"
        if not LiveRoom.objects.filter(slug=room_slug).exists():
            starts_at = (now + dt.timedelta(days=index + 1)).replace(minute=0, second=0, microsecond=0)
            live.live_room_schedule(
                region=region,
                merchant=merchant,
                slug=room_slug,
                titles={lang: ROOM_TITLES[lang] for lang in region.languages},
                language=region.default_language,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(hours=1),
            )
    return logins

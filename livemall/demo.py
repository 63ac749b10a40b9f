"""Demo data for the current region: merchants with staff logins, categories, products
with variants, certificates and stock, upcoming shows, and one show that ended last
night with its recorded stats (viewers, sources, chat, likes, Buy-now taps, paid orders).

Idempotent by natural keys (e-mail, merchant slug, category slug, product slug,
warehouse code, room slug, coupon code): a second run finds everything in place and writes nothing.
The sparkling wine is there to show country rules at work: food without a Halal
certificate, and alcohol, so the Gulf countries do not see it and the admin says why.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from modeltranslation.utils import build_localized_fieldname

from apps.accounts import services as accounts
from apps.accounts.models import Merchant, User
from apps.catalog import services as catalog
from apps.catalog.models import DEFAULT_HANDLING_DAYS, Category, Product, Warehouse
from apps.compliance.models import CertificationType, ProductAttribute
from apps.errors import ApplicationError
from apps.live import services as live
from apps.live.models import LiveRoom, RoomVisit, ViewerSample
from apps.live.realtime.ids import message_id
from apps.live.realtime.writer import insert_danmaku, insert_watch_sessions
from apps.money.formatting import format_money
from apps.money.selectors import currencies_priced_now
from apps.money.services import fx_rates_update
from apps.money.types import currency_digits
from apps.orders import services as orders
from apps.orders.models import Coupon
from apps.orders.selectors import Shopper, coupon_by_code
from apps.payments.selectors import payment_methods_offered
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

# What the product page says under the name, in the same languages as the names.
PRODUCT_DESCRIPTIONS = {
    "silk-scarf": {
        "en": "Pure mulberry silk with hand-rolled edges, 90 × 90 cm. Wear it at the neck, in the hair or on a bag.",
        "es": "Seda de morera pura con bordes enrollados a mano, 90 × 90 cm. Llévalo al cuello, en el pelo o en el bolso.",
        "pt": "Seda pura de amoreira com bainha enrolada à mão, 90 × 90 cm. Use no pescoço, no cabelo ou na bolsa.",
        "fr": "Pure soie de mûrier, bords roulottés à la main, 90 × 90 cm. À porter au cou, dans les cheveux ou sur un sac.",
        "de": "Reine Maulbeerseide mit handrollierten Kanten, 90 × 90 cm. Am Hals, im Haar oder an der Tasche zu tragen.",
        "it": "Pura seta di gelso con orli arrotolati a mano, 90 × 90 cm. Da portare al collo, tra i capelli o sulla borsa.",
        "th": "ผ้าไหมหม่อนแท้ เก็บริมด้วยมือ ขนาด 90 × 90 ซม. ผูกคอ คาดผม หรือผูกกระเป๋าก็สวย",
        "id": "Sutra murbei asli dengan tepi digulung tangan, 90 × 90 cm. Pakai di leher, di rambut, atau di tas.",
        "ms": "Sutera mulberi tulen dengan tepi digulung tangan, 90 × 90 cm. Pakai di leher, di rambut atau pada beg.",
        "zh-hans": "纯桑蚕丝，手工卷边，90 × 90 厘米。可系于颈间、发间或包上。",
        "ar": "حرير توت خالص بحواف ملفوفة يدويًا، مقاس 90 × 90 سم. يُلبس حول العنق أو في الشعر أو على الحقيبة.",
    },
    "ceramic-mug": {
        "en": "Thrown and glazed by hand, so no two are quite alike. Dishwasher and microwave safe.",
        "es": "Torneada y esmaltada a mano: no hay dos iguales. Apta para lavavajillas y microondas.",
        "pt": "Torneada e vidrada à mão: nenhuma é igual à outra. Pode ir à lava-louças e ao micro-ondas.",
        "fr": "Tournée et émaillée à la main : aucune n'est tout à fait identique. Passe au lave-vaisselle et au micro-ondes.",
        "de": "Von Hand gedreht und glasiert, darum gleicht keine ganz der anderen. Spülmaschinen- und mikrowellengeeignet.",
        "it": "Tornita e smaltata a mano: non ce n'è una uguale all'altra. Adatta a lavastoviglie e microonde.",
        "th": "ขึ้นรูปและเคลือบด้วยมือ แต่ละใบจึงไม่เหมือนกันเสียทีเดียว ใช้กับเครื่องล้างจานและไมโครเวฟได้",
        "id": "Dibentuk dan diglasir dengan tangan, jadi tidak ada dua yang persis sama. Aman untuk mesin cuci piring dan microwave.",
        "ms": "Dibentuk dan disepuh dengan tangan, jadi tiada dua yang betul-betul sama. Selamat untuk mesin basuh pinggan dan ketuhar gelombang mikro.",
        "zh-hans": "手工拉坯、手工上釉，每一只都略有不同。可用于洗碗机和微波炉。",
        "ar": "مشكّل ومزجج يدويًا، فلا يتطابق كوبان تمامًا. آمن للاستخدام في غسالة الصحون والميكروويف.",
    },
    "dates-gift-box": {
        "en": "Soft Medjool dates from the new harvest, packed by hand in a gift box.",
        "es": "Dátiles Medjool tiernos de la nueva cosecha, envasados a mano en una caja regalo.",
        "pt": "Tâmaras Medjool macias da nova colheita, embaladas à mão em caixa de presente.",
        "fr": "Dattes Medjool moelleuses de la nouvelle récolte, disposées à la main dans un coffret cadeau.",
        "de": "Weiche Medjool-Datteln aus der neuen Ernte, von Hand in eine Geschenkbox gepackt.",
        "it": "Datteri Medjool morbidi del nuovo raccolto, confezionati a mano in una scatola regalo.",
        "th": "อินทผลัมเมดจูลเนื้อนุ่มจากฤดูเก็บเกี่ยวใหม่ บรรจุด้วยมือในกล่องของขวัญ",
        "id": "Kurma Medjool lembut dari panen terbaru, dikemas dengan tangan dalam kotak hadiah.",
        "ms": "Kurma Medjool lembut daripada tuaian baharu, dibungkus dengan tangan dalam kotak hadiah.",
        "zh-hans": "新一季采收的软糯麦吉尔椰枣，手工装入礼盒。",
        "ar": "تمور مجدول طرية من الحصاد الجديد، معبأة يدويًا في علبة هدايا.",
    },
    "wireless-earbuds": {
        "en": "Active noise cancelling, up to 30 hours of listening with the charging case, and USB-C charging.",
        "es": "Cancelación activa de ruido, hasta 30 horas de escucha con el estuche de carga y carga por USB-C.",
        "pt": "Cancelamento ativo de ruído, até 30 horas de reprodução com o estojo de carregamento e carga via USB-C.",
        "fr": "Réduction de bruit active, jusqu'à 30 heures d'écoute avec le boîtier de charge, recharge en USB-C.",
        "de": "Aktive Geräuschunterdrückung, bis zu 30 Stunden Wiedergabe mit dem Ladecase und Laden über USB-C.",
        "it": "Cancellazione attiva del rumore, fino a 30 ore di ascolto con la custodia di ricarica e ricarica USB-C.",
        "th": "ตัดเสียงรบกวนแบบแอคทีฟ ฟังได้นานสูงสุด 30 ชั่วโมงเมื่อใช้กับเคสชาร์จ ชาร์จผ่าน USB-C",
        "id": "Peredam bising aktif, hingga 30 jam pemutaran dengan casing pengisi daya, dan pengisian USB-C.",
        "ms": "Pembatalan hingar aktif, sehingga 30 jam mendengar dengan bekas pengecas, dan pengecasan USB-C.",
        "zh-hans": "主动降噪，配合充电盒最长可听 30 小时，USB-C 充电。",
        "ar": "إلغاء نشط للضوضاء، وحتى 30 ساعة من الاستماع مع علبة الشحن، وشحن عبر USB-C.",
    },
    "sparkling-wine": {
        "en": "A dry sparkling white with fine bubbles and notes of green apple. Serve chilled. 11.5% vol.",
        "es": "Espumoso blanco seco de burbuja fina con notas de manzana verde. Servir frío. 11,5 % vol.",
        "pt": "Espumante branco seco de perlage fina, com notas de maçã verde. Sirva gelado. 11,5% vol.",
        "fr": "Un blanc pétillant sec aux fines bulles et aux notes de pomme verte. À servir frais. 11,5 % vol.",
        "de": "Trockener weißer Schaumwein mit feiner Perlage und Noten von grünem Apfel. Gekühlt servieren. 11,5 % vol.",
        "it": "Spumante bianco secco dal perlage fine, con note di mela verde. Servire fresco. 11,5% vol.",
        "th": "ไวน์ขาวสปาร์กลิงรสดราย ฟองละเอียด กลิ่นแอปเปิลเขียว เสิร์ฟเย็น แอลกอฮอล์ 11.5%",
        "id": "Anggur putih bersoda yang kering dengan gelembung halus dan aroma apel hijau. Sajikan dingin. 11,5% vol.",
        "ms": "Wain putih berkilau yang kering dengan buih halus dan aroma epal hijau. Hidangkan sejuk. 11.5% vol.",
        "zh-hans": "干型白起泡酒，气泡细腻，带青苹果香气。冰镇饮用。酒精度 11.5%。",
        "ar": "نبيذ أبيض فوار جاف بفقاعات ناعمة ونفحات من التفاح الأخضر. يُقدَّم باردًا. 11.5% حجمًا.",
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

# Shows go out at this hour on the region's own clock (its time zone), when shoppers are home for the evening.
SHOW_LOCAL_TIME = dt.time(19, 0)

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


PAST_ROOM_TITLES = {
    "en": "Last night: silk scarves and mugs",
    "es": "Anoche: pañuelos de seda y tazas",
    "pt": "Ontem à noite: lenços de seda e canecas",
    "fr": "Hier soir : foulards en soie et tasses",
    "de": "Gestern Abend: Seidenschals und Tassen",
    "it": "Ieri sera: foulard di seta e tazze",
    "th": "เมื่อคืน: ผ้าพันคอไหมและแก้วมัค",
    "id": "Semalam: syal sutra dan mug",
    "ms": "Malam tadi: selendang sutera dan mug",
    "zh-hans": "昨晚直播：真丝围巾与马克杯",
    "ar": "الليلة الماضية: أوشحة حريرية وأكواب",
}

# What viewers typed; English unless the region's default language has its own lines.
CHAT_LINES = {
    "en": (
        "Hello from Texas!",
        "Love the ivory one",
        "Is it real silk?",
        "Just ordered 🎉",
        "How long is it?",
        "So pretty",
        "Does the navy come back?",
        "Gift for my mom",
        "Shipping time?",
        "❤️❤️❤️",
    ),
    "es": (
        "¡Hola desde Madrid!",
        "Me encanta el marfil",
        "¿Es seda natural?",
        "¡Acabo de pedir! 🎉",
        "¿Cuánto mide?",
        "Precioso",
        "¿Vuelve el azul marino?",
        "Regalo para mi madre",
        "¿Tiempo de envío?",
        "❤️❤️❤️",
    ),
    "fr": (
        "Bonsoir de Lyon !",
        "J'adore l'ivoire",
        "C'est de la vraie soie ?",
        "Commandé ! 🎉",
        "Quelle longueur ?",
        "Trop joli",
        "Le marine revient ?",
        "Cadeau pour ma mère",
        "Délai de livraison ?",
        "❤️❤️❤️",
    ),
    "de": (
        "Hallo aus Berlin!",
        "Das Elfenbein ist toll",
        "Echte Seide?",
        "Gerade bestellt 🎉",
        "Wie lang ist er?",
        "Sehr schön",
        "Kommt Marine wieder?",
        "Geschenk für Mama",
        "Lieferzeit?",
        "❤️❤️❤️",
    ),
    "ar": (
        "مرحبا من دبي!",
        "أحب اللون العاجي",
        "هل هو حرير طبيعي؟",
        "طلبت الآن 🎉",
        "ما طوله؟",
        "جميل جدًا",
        "هل يعود الكحلي؟",
        "هدية لأمي",
        "مدة الشحن؟",
        "❤️❤️❤️",
    ),
}
CHAT_NAMES = ("Mia", "Omar", "Lena", "Sofia", "Kai", "Nora", "Ravi", "Ana", "Leo", "Yuki", "Sam", "Ines")

# Where last night's viewers came from: (utm_source, utm_medium, utm_campaign, referring host), weight.
VISIT_SOURCES = (
    (("instagram", "social", "evening-show", ""), 34),
    (("newsletter", "email", "weekly", ""), 18),
    (("facebook", "social", "", ""), 9),
    (("", "", "", "www.google.com"), 14),
    (("", "", "", "t.co"), 5),
    (("", "", "", ""), 20),
)

# Guest checkouts need a valid delivery address in the region's default country.
DEMO_ADDRESSES = {
    "US": {"name": "Ann Buyer", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"},
    "IE": {"name": "Aoife Buyer", "line1": "1 Grafton St", "city": "Dublin", "postal_code": "D02 X285"},
    "SG": {"name": "Tan Wei", "line1": "1 Orchard Rd", "city": "Singapore", "postal_code": "238823"},
    "AE": {"name": "Aisha", "line1": "Sheikh Zayed Rd 1", "city": "Dubai"},
}

PAST_SHOW_MERCHANT = "atelier-nova"
PAST_SHOW_PRODUCT = "silk-scarf"
PAST_SHOW_MINUTES = 45

# One coupon to try at checkout in every region (codes are per region: each has its own database).
DEMO_COUPON_CODE = "DEMO10"
DEMO_COUPON_PERCENT_OFF = 10
# Its minimum spend in whole units of each currency a region sells in. The demo prices are the same
# figures in every settlement currency (a scarf 49, a mug 18.50), so 40 lets the scarf through and not
# a mug alone; the other currencies hold about the same, so a shopper paying in CAD or SAR can try it
# too (a coupon without a minimum in the shopper's currency refuses them).
DEMO_COUPON_MIN_SPEND = {
    "USD": 40,
    "CAD": 55,
    "MXN": 700,
    "BRL": 200,
    "EUR": 40,
    "GBP": 35,
    "CHF": 40,
    "SGD": 40,
    "THB": 1000,
    "IDR": 500_000,
    "MYR": 130,
    "AED": 40,
    "SAR": 40,
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
    # Working days its warehouse takes to pack: the demo's delivery dates differ by merchant, and
    # a cart from two of them is split into parcels with dates of their own.
    handling_days: int = DEFAULT_HANDLING_DAYS


MERCHANTS = (
    # An atelier wraps each piece by hand: two days to pack.
    DemoMerchant("atelier-nova", "Atelier Nova", ("silk-scarf", "ceramic-mug"), handling_days=2),
    # A pantry ships what is ordered the same day.
    DemoMerchant("oasis-pantry", "Oasis Pantry", ("dates-gift-box", "sparkling-wine"), handling_days=0),
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


def _show_start(region: Region, day: dt.date) -> dt.datetime:
    """When a demo show on ``day`` (in the region's time zone) goes live."""
    return dt.datetime.combine(day, SHOW_LOCAL_TIME, tzinfo=zoneinfo.ZoneInfo(region.time_zone))


def _descriptions(region: Region, slug: str) -> dict[str, str]:
    return {lang: PRODUCT_DESCRIPTIONS[slug][lang] for lang in region.languages}


def _product(*, region: Region, merchant: Merchant, warehouse: Warehouse, slug: str, today: dt.date) -> Product:
    spec = PRODUCTS[slug]
    names = PRODUCT_NAMES[slug]
    product = catalog.product_create(
        region=region,
        merchant=merchant,
        slug=slug,
        names={lang: names[lang] for lang in region.languages},
        descriptions=_descriptions(region, slug),
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
    local_today = now.astimezone(zoneinfo.ZoneInfo(region.time_zone)).date()
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

        # Found, it keeps the handling days it has: its merchant may have changed them since.
        warehouse = Warehouse.objects.filter(merchant=merchant, code="main").first() or catalog.warehouse_create(
            merchant=merchant,
            code="main",
            name=f"{spec.name} warehouse",
            country=region.default_country,
            handling_days=spec.handling_days,
        )
        for product_slug in spec.products:
            product = Product.objects.filter(merchant=merchant, slug=product_slug).first()
            if product is None:
                _product(region=region, merchant=merchant, warehouse=warehouse, slug=product_slug, today=now.date())
            else:
                _describe_if_blank(region=region, product=product)

        room_slug = f"{spec.slug}-evening-show"
        if not LiveRoom.objects.filter(slug=room_slug).exists():
            starts_at = _show_start(region, local_today + dt.timedelta(days=index + 1))
            live.live_room_schedule(
                region=region,
                merchant=merchant,
                slug=room_slug,
                titles={lang: ROOM_TITLES[lang] for lang in region.languages},
                language=region.default_language,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(hours=1),
            )

    past_slug = f"{PAST_SHOW_MERCHANT}-last-night"
    if not LiveRoom.objects.filter(slug=past_slug).exists():
        _past_show(region=region, merchant=Merchant.objects.get(slug=PAST_SHOW_MERCHANT), slug=past_slug, now=now)

    if not Coupon.objects.filter(code__iexact=DEMO_COUPON_CODE).exists():
        _coupon(region=region, today=local_today)
    return logins


def _coupon(*, region: Region, today: dt.date) -> Coupon:
    """A percentage off from a minimum spend, in the region's countries, from today (region time) for a year."""
    zone = zoneinfo.ZoneInfo(region.time_zone)
    try:
        a_year_on = today.replace(year=today.year + 1)
    except ValueError:  # seeded on 29 February
        a_year_on = today + dt.timedelta(days=365)
    coupon = orders.coupon_create(
        code=DEMO_COUPON_CODE,
        percent_off=DEMO_COUPON_PERCENT_OFF,
        valid_from=dt.datetime.combine(today, dt.time(0, 0), tzinfo=zone),
        valid_until=dt.datetime.combine(a_year_on, dt.time(0, 0), tzinfo=zone),
        countries=sorted(region.country_codes),
        source="demo",
    )
    # coupon_create takes no minimum spend (a flash coupon has none): set it as the admin form does.
    coupon.min_spend = {
        currency: DEMO_COUPON_MIN_SPEND[currency] * 10 ** currency_digits(currency)
        for currency in region.currencies
        if currency in DEMO_COUPON_MIN_SPEND
    }
    coupon.full_clean()
    coupon.save(update_fields=["min_spend"])
    return coupon


def demo_coupon_describe(*, region: Region) -> str:
    """The demo coupon as the seed prints it: code, percentage, minimum and last day, as stored now."""
    coupon = coupon_by_code(DEMO_COUPON_CODE)
    minimum = (coupon.min_spend or {}).get(region.settlement_currency)
    spend = f" on {format_money(minimum, region.settlement_currency, 'en')} or more" if minimum else ""
    until = coupon.valid_until.astimezone(zoneinfo.ZoneInfo(region.time_zone)).date()
    return f"{coupon.percent_off}% off{spend}, until {until.isoformat()}"


def _describe_if_blank(*, region: Region, product: Product) -> None:
    """Give a product seeded before the demo had descriptions the ones it lacks; a text someone wrote stays."""
    blank = {
        lang: text
        for lang, text in _descriptions(region, product.slug).items()
        if not getattr(product, build_localized_fieldname("description", lang))
    }
    if blank:
        catalog.product_update(region=region, product=product, descriptions=blank)


def demo_rates_load(*, region: Region) -> str:
    """Store the configured providers' FX rates (``FX_PROVIDERS``) as they are; say what they allow.

    The embedded default reads the shipped ``apps/money/data/eurofxref-daily.xml``, whose
    illustrative figures carry the date written in it. They are loaded with that date, not
    re-dated to today: a snapshot says which day's rates it holds and orders record it, so
    re-dated figures would claim the source published them today, and would be kept over the
    real ones if those were loaded later the same day (snapshots are never rewritten). So the
    region's other currencies are offered while that date is within ``FX_STALE_AFTER_DAYS``;
    afterwards the shop prices in the settlement currency only, as production does when the
    day's rates are missing, and this says how to load current ones.
    """
    try:
        result = fx_rates_update()
    except ApplicationError as exc:  # an unreadable file, the ECB unreachable: the shop still runs
        return f"FX rates not loaded ({exc.message}); prices are shown in {region.settlement_currency} only."
    offered = currencies_priced_now(region)
    loaded = f"FX rates: {result.source} of {result.latest_rate_date or 'no day'}"
    if len(offered) == len(region.currencies):
        return f"{loaded}; prices can be shown in {', '.join(offered)}."
    why = f"older than FX_STALE_AFTER_DAYS={settings.FX_STALE_AFTER_DAYS} days" if result.stale else "incomplete"
    return (
        f"{loaded} ({why}): prices are shown in {', '.join(offered)} only. For "
        f"{', '.join(c for c in region.currencies if c not in offered)}, load current rates: "
        "FX_PROVIDERS=ecb_http,pegged, or FX_RATES_FILE=<a downloaded eurofxref-daily.xml>, then "
        "`manage.py fx_rates_update`."
    )


def _past_show(*, region: Region, merchant: Merchant, slug: str, now: dt.datetime) -> LiveRoom:
    """A show that ended yesterday evening (region time), replayed through the services a real one uses.

    Start, pin, Buy-now taps, checkout, payment and end go through the same services as
    a live show (with their clock set to last night where they take one), so the stats
    page reads what it would after a real show. Per-minute viewer samples and first
    visits come from the socket processes and the room page in real life; they are
    bulk-written here, with the services' own key and source rules, to keep seeding fast.
    Everything random is seeded by the slug, so every region gets the same shape.
    """
    rng = random.Random(slug)  # noqa: S311 - a repeatable demo, not a secret
    local = now.astimezone(zoneinfo.ZoneInfo(region.time_zone))
    evening = _show_start(region, local.date() - dt.timedelta(days=1))
    started = evening + dt.timedelta(minutes=2)  # merchants rarely go live on the dot
    ended = started + dt.timedelta(minutes=PAST_SHOW_MINUTES)

    room = live.live_room_schedule(
        region=region,
        merchant=merchant,
        slug=slug,
        titles={lang: PAST_ROOM_TITLES[lang] for lang in region.languages},
        language=region.default_language,
        starts_at=evening,
        ends_at=evening + dt.timedelta(hours=1),
        playback_url=f"https://demo.livemall.example/hls/{slug}.m3u8",
    )
    # "manual" whatever LIVE_STREAM_PROVIDER says: demo data must never create a stream at Mux or IVS.
    room = live.live_room_start(room=room, provider="manual", now=started)
    product = Product.objects.get(merchant=merchant, slug=PAST_SHOW_PRODUCT)
    live.product_pin(room=room, product=product, region=region, now=started + dt.timedelta(minutes=6))

    _past_show_audience(room=room, started=started, rng=rng)
    _past_show_chat(room=room, region=region, started=started, rng=rng)
    live.live_room_likes_save(room_id=room.pk, total=rng.randint(2400, 3200))
    _past_show_sales(room=room, region=region, product=product, rng=rng)

    return live.live_room_end(room=room, region=region, now=ended)


def _past_show_audience(*, room: LiveRoom, started: dt.datetime, rng: random.Random) -> None:
    """Concurrent viewers per minute (a rise, a peak around the middle, a tail) and a few hundred first visits."""
    first_minute = started.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    samples = []
    for minute in range(PAST_SHOW_MINUTES):
        shape = math.sin(math.pi * (minute + 1) / (PAST_SHOW_MINUTES + 1)) ** 1.5
        viewers = max(3, int(180 * shape + rng.randint(-8, 8)))
        samples.append(ViewerSample(room=room, at=first_minute + dt.timedelta(minutes=minute), viewers=viewers))
    ViewerSample.objects.bulk_create(samples)

    sources, weights = zip(*VISIT_SOURCES, strict=True)
    visits, stays = [], []
    watch_rng = random.Random(f"{room.slug}:watch")  # noqa: S311 - its own, so the visits stay as they were
    for n in range(rng.randint(280, 340)):
        utm_source, utm_medium, utm_campaign, referrer = rng.choices(sources, weights)[0]
        source = live.traffic_source(
            utm_source=utm_source,
            utm_medium=utm_medium,
            utm_campaign=utm_campaign,
            referrer_host=referrer,
            own_host="demo.livemall.example",
        )
        visitor = live.visitor_key(user_id=None, session_key=f"demo:{room.slug}:{n}")
        visits.append(RoomVisit(room=room, visitor_key=visitor, source=source[0], medium=source[1], campaign=source[2]))
        # Each visitor's stay with the socket open, as the socket processes record it.
        joined = started + dt.timedelta(seconds=watch_rng.randint(-60, PAST_SHOW_MINUTES * 60 - 120))
        left = joined + dt.timedelta(seconds=watch_rng.randint(90, 1800))
        at_ms = int(joined.timestamp() * 1000)
        stays.append(
            {
                "id": message_id(at_ms=at_ms, node=0, sequence=n),
                "room_id": room.pk,
                "visitor_key": visitor,
                "connected_at": joined,
                "last_seen_at": left,
            }
        )
    RoomVisit.objects.bulk_create(visits)
    insert_watch_sessions(stays)


def _past_show_chat(*, room: LiveRoom, region: Region, started: dt.datetime, rng: random.Random) -> None:
    """About a hundred and fifty chat messages, stored through the socket's batch writer."""
    lines = CHAT_LINES.get(region.default_language, CHAT_LINES["en"])
    start_ms = int(started.timestamp() * 1000)
    offsets = sorted(rng.sample(range(30_000, PAST_SHOW_MINUTES * 60_000), rng.randint(140, 170)))
    insert_danmaku(
        [
            {
                # Node 0, and distinct milliseconds: ids stay unique and ordered by time.
                "id": message_id(at_ms=start_ms + offset, node=0),
                "room_id": room.pk,
                "user_id": None,
                "display_name": rng.choice(CHAT_NAMES),
                "text": rng.choice(lines),
                "original_text": "",
                "verdict": "shown",
                "matched_words": [],
                "posted_at": started + dt.timedelta(milliseconds=offset),
            }
            for offset in offsets
        ]
    )


def _past_show_sales(*, room: LiveRoom, region: Region, product: Product, rng: random.Random) -> None:
    """Buy-now taps on the pinned scarf; a handful become guest orders paid with the test provider.

    Paid only where the clearly labelled test provider is offered (the demo, CI): demo
    data never starts a real payment. Elsewhere the show has its taps but no orders.
    """
    defaults = region.country(region.default_country)
    shopper = Shopper(
        country=defaults.code, currency=defaults.currency, language=defaults.language, time_zone=region.time_zone
    )
    test_payments = any(
        offered.provider == "test" for offered in payment_methods_offered(region=region, currency=shopper.currency)
    )
    variants = list(product.variants.filter(is_active=True).order_by("position", "id"))
    taps = rng.randint(30, 40)
    buyers = rng.randint(6, 9)
    for n in range(taps):
        cart = orders.cart_for(user=None)
        live.pinned_product_to_cart(
            room=room,
            cart=cart,
            variant_id=rng.choice(variants).pk,
            quantity=1 if rng.random() < 0.75 else 2,
            country=shopper.country,
        )
        if n >= buyers or not test_payments:
            continue  # tapped, then left the cart: most taps end like this
        order = orders.checkout_place(
            cart=cart,
            idempotency_key=f"demo-{room.slug}-{n}",
            shopper=shopper,
            email=f"buyer{n + 1}@{region.code}.livemall.example",
            address={**DEMO_ADDRESSES[shopper.country], "country": shopper.country},
            shipping_option="standard",
            payment_provider="test",
            payment_method="test",
            region=region,
        )
        # The payment's "succeeded" signal marks the order paid once the seed commits.
        orders.order_pay(order=order)

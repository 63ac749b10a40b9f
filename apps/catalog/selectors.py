"""Reads from the catalog.

:func:`products_visible_in` is the one answer to "which products may a shopper in
country X see"; every page, list, search, cart and API starts from it. It turns the
country's rules (``apps.compliance``) into one SQL filter, so its query count does not
depend on how many products there are. :func:`product_visibility` explains the same
decision for one product, and :func:`required_certifications` says which certificates
a product page must show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache, reduce
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.paginator import Page
from django.db import connection, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.lookups import Regex
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, override, pgettext, pgettext_lazy
from modeltranslation.utils import build_localized_fieldname

from apps.accounts.models import User
from apps.accounts.selectors import country_choices, merchants_for_user
from apps.cache_generations import Generation, current_generations
from apps.catalog.models import (
    Category,
    Certification,
    Product,
    ProductIngredient,
    Stock,
    Variant,
    Warehouse,
    region_today,
)
from apps.compliance.models import ProductAttribute, ProductRule
from apps.compliance.moderation import FOLDED_LETTERS, IGNORED_CHARACTERS, fold_for_matching, written_with_spaces
from apps.compliance.selectors import (
    RULES_GENERATION,
    ProductFacts,
    RuleSpec,
    Violation,
    certifications_required,
    product_violations,
    rules_for_country,
)
from apps.money.formatting import ListStyle, format_list_of, format_measure
from apps.money.selectors import RATES_GENERATION, currencies_priced_now
from regions import Region


@dataclass(frozen=True)
class RequiredCertification:
    """A certificate the shopper's country requires for this product, to be shown prominently.

    ``certification`` is the product's valid certificate of that type, or ``None`` when it
    has none, in which case the product is hidden in that country.
    """

    type: str
    label: str
    message: str
    certification: Certification | None


def _today(today: dt.date | None) -> dt.date:
    return today or region_today()


def valid_certifications_q(today: dt.date, prefix: str = "") -> Q:
    """Certificates that count on ``today``: started (or no start date) and not yet expired."""
    return Q(**{f"{prefix}valid_until__gte": today}) & (
        Q(**{f"{prefix}valid_from__isnull": True}) | Q(**{f"{prefix}valid_from__lte": today})
    )


def _subject_q(rule: RuleSpec) -> Q:
    subject = Q(pk__isnull=False)
    if rule.food_only:
        subject &= Q(is_food=True)
    if rule.attribute:
        subject &= Q(**{rule.attribute: True})
    return subject


def _breaks_rule_q(rule: RuleSpec, today: dt.date) -> Q | None:
    subject = _subject_q(rule)
    if rule.kind == ProductRule.Kind.HIDE:
        return subject
    if rule.kind == ProductRule.Kind.HIDE_ADDITIVES:
        e_numbers = [additive.e_number for additive in rule.additives]
        if not e_numbers:
            return None
        listed = ProductIngredient.objects.filter(product=OuterRef("pk"), e_number__in=e_numbers)
        return subject & Q(Exists(listed))
    if rule.kind == ProductRule.Kind.REQUIRE_CERTIFICATION:
        certified = Certification.objects.filter(
            valid_certifications_q(today), product=OuterRef("pk"), type=rule.certification_type
        )
        return subject & ~Q(Exists(certified))
    return None


def hidden_by_rules_q(rules: tuple[RuleSpec, ...], *, today: dt.date) -> Q | None:
    """A filter matching the products that break at least one of ``rules``; ``None`` if none can."""
    clauses = [clause for rule in rules if (clause := _breaks_rule_q(rule, today)) is not None]
    return reduce(operator.or_, clauses) if clauses else None


def products_visible_in(*, country: str, today: dt.date | None = None) -> QuerySet[Product]:
    """Products on sale that a shopper in ``country`` may see: active and breaking none of its rules.

    One SQL query when evaluated (plus at most two to load the country's rules when they
    are not cached), whatever the number of products. Chain filters, ordering,
    ``select_related`` and prefetches on the result as a page needs.
    """
    return _visible_under(rules_for_country(country), _today(today)).all()


@lru_cache(maxsize=256)
def _visible_under(rules: tuple[RuleSpec, ...], today: dt.date) -> QuerySet[Product]:
    """The products on sale that break none of ``rules`` on ``today``, built once per rules and day.

    Putting the rules' filters through the ORM took ~0.5 ms of CPU on every call, and every
    checkout, cart and listing asks for the same few countries. The queryset is kept to be
    cloned (``.all()``), never evaluated, as Django's generic views keep theirs; new rules
    (``rules_for_country`` reads them by generation) or a new day make a new one.
    """
    products = Product.objects.filter(is_active=True)
    hidden = hidden_by_rules_q(rules, today=today)
    return products.exclude(hidden) if hidden is not None else products


def product_facts(product: Product, *, today: dt.date | None = None) -> ProductFacts:
    """What the rules test, read from one product (uses prefetched ingredients/certifications if there)."""
    day = _today(today)
    return ProductFacts(
        attributes=frozenset(attr for attr in ProductAttribute.values if getattr(product, attr)),
        e_numbers=frozenset(i.e_number for i in product.ingredients.all() if i.e_number),
        valid_certifications=frozenset(c.type for c in product.certifications.all() if c.is_valid_on(day)),
    )


def product_visibility(
    product: Product, country: str, *, today: dt.date | None = None, language: str | None = None
) -> list[Violation]:
    """Why ``product`` is hidden in ``country``: the rules it breaks, with messages; empty if it may be shown.

    Being switched off by its merchant (``is_active``) is not a rule violation and is not listed.
    """
    return product_violations(product_facts(product, today=today), rules_for_country(country), language=language)


def product_is_visible_in(product: Product, country: str, *, today: dt.date | None = None) -> bool:
    return product.is_active and not product_visibility(product, country, today=today)


def product_hidden_in(
    product: Product, *, countries: list[str] | None = None, today: dt.date | None = None, language: str | None = None
) -> dict[str, list[Violation]]:
    """For each country (default: those the region serves) where ``product`` is hidden, why."""
    facts = product_facts(product, today=today)
    hidden = {}
    for country in sorted(countries if countries is not None else settings.REGION.country_codes):
        violations = product_violations(facts, rules_for_country(country), language=language)
        if violations:
            hidden[country] = violations
    return hidden


@dataclass(frozen=True)
class CountryRefusal:
    """Why a shopper's country forbids a product, in the product page's words: one sentence
    naming the country, then each rule's own message."""

    sentence: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join([self.sentence, *self.reasons])


def country_refusal(
    product: Product, country: str, *, language: str, region: Region | None = None, today: dt.date | None = None
) -> CountryRefusal | None:
    """Why ``country`` forbids ``product``, all in ``language`` (the country by its name in it);
    ``None`` if it does not.

    The product page says the same (``catalog/product_unavailable.html``); the cart and the API
    say it with this, whatever language the request happens to be rendered in.
    """
    violations = product_visibility(product, country, today=today, language=language)
    if not violations:
        return None
    name = dict(country_choices(region or settings.REGION, language)).get(country, country)
    with override(language):
        sentence = gettext("This product cannot be sold to shoppers in %(country)s.") % {"country": name}
    return CountryRefusal(sentence=sentence, reasons=tuple(violation.message for violation in violations))


def certifications_to_show(product: Product, *, today: dt.date | None = None) -> list[Certification]:
    """The certificates a shopper is shown: those that count today. An expired (or not yet
    started) certificate proves nothing, so it is not shown as if it did."""
    day = _today(today)
    return [certification for certification in product.certifications.all() if certification.is_valid_on(day)]


def required_certifications(
    product: Product, country: str, *, today: dt.date | None = None, language: str | None = None
) -> list[RequiredCertification]:
    """Certificates ``country`` requires of ``product`` (Halal for food in the GCC, EU Organic
    for organic claims in the EU, and whatever else the rule data says), each with the
    product's valid certificate to show."""
    day = _today(today)
    facts = product_facts(product, today=day)
    valid = {}
    for certification in product.certifications.all():
        if certification.is_valid_on(day):
            current = valid.get(certification.type)
            if current is None or certification.valid_until > current.valid_until:
                valid[certification.type] = certification
    required = []
    seen = set()
    for rule in certifications_required(facts, rules_for_country(country)):
        if rule.certification_type in seen:
            continue
        seen.add(rule.certification_type)
        required.append(
            RequiredCertification(
                type=rule.certification_type,
                label=rule.certification_label,
                message=rule.message(language),
                certification=valid.get(rule.certification_type),
            )
        )
    return required


def _cheapest_variant(field: str) -> Subquery:
    cheapest = Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price_minor", "id")
    return Subquery(cheapest.values(field)[:1])


def with_listing_data(products: QuerySet[Product], *, today: dt.date | None = None) -> QuerySet[Product]:
    """What a product card needs, in a fixed number of queries: merchant, category,
    cheapest active price (``price_minor``/``currency``), active variants, images and
    the certificates valid ``today`` (as ``valid_certifications``)."""
    day = _today(today)
    return (
        products.select_related("merchant", "category")
        .annotate(price_minor=_cheapest_variant("price_minor"), currency=_cheapest_variant("currency"))
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(is_active=True), to_attr="active_variants"),
            "images",
            Prefetch(
                "certifications",
                queryset=Certification.objects.filter(valid_certifications_q(day)),
                to_attr="valid_certifications",
            ),
        )
    )


def featured_products(*, country: str | None = None, limit: int = 8, today: dt.date | None = None) -> QuerySet[Product]:
    """Newest products visible in ``country`` (default: the region's default country) that can be bought."""
    visible = products_visible_in(country=country or settings.REGION.default_country, today=today)
    buyable = visible.filter(Exists(Variant.objects.filter(product=OuterRef("pk"), is_active=True)))
    return with_listing_data(buyable, today=today)[:limit]


def categories_tree() -> list[Category]:
    """Shown categories as a tree: the roots, each category with ``children_list``; one query."""
    categories = list(Category.objects.filter(is_active=True).order_by("position", "slug"))
    by_parent: dict[int | None, list[Category]] = {}
    for category in categories:
        by_parent.setdefault(category.parent_id, []).append(category)
    for category in categories:
        category.children_list = by_parent.get(category.pk, [])
    return by_parent.get(None, [])


def category_with_descendants(category: Category) -> list[int]:
    """Ids of ``category`` and every category below it (one query), for listing a branch."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.filter(is_active=True).values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    ids, todo = [], [category.pk]
    while todo:
        pk = todo.pop()
        ids.append(pk)
        todo.extend(children.get(pk, []))
    return ids


# --- storefront listings ---------------------------------------------------------------

LISTING_SORTS = ("newest", "price_asc", "price_desc", "name")


@dataclass(frozen=True)
class ListingFilters:
    """What a shopper may narrow a listing by; validated by the caller (view or API)."""

    category: Category | None = None
    query: str = ""
    merchant_slug: str = ""
    certification: str = ""
    max_price_minor: int | None = None  # in the region's settlement currency
    sort: str = "newest"


# ``translate()`` maps each Arabic form to the letter it is folded to and drops the marks,
# tatweel and invisible characters (the "from" characters without a "to" one): the same table
# as fold_for_matching, applied to the products' text in the query.
_FOLD_FROM = "".join(FOLDED_LETTERS) + "".join(sorted(IGNORED_CHARACTERS))
_FOLD_TO = "".join(FOLDED_LETTERS.values())
# translate() compares every character with every one of _FOLD_FROM: on 50,000 products that
# was most of a search's time. Text with none of them (most of it) is left as it is.
_FOLDS_SOMETHING = "[" + _FOLD_FROM + "]"


def _folded(*fields: str) -> Case:
    """The fields' text (joined by line breaks, which no search term spans) with the Arabic forms
    folded as fold_for_matching folds them, in SQL. Case is left to the comparison (full-text
    search and ``icontains`` ignore it). Not NFKC-normalised: ``normalize()`` on every row
    tripled a search's time on 50,000 products, and product text is typed precomposed; the
    shopper's query is."""
    joined = Func(Value("\n"), *(F(field) for field in fields), function="concat_ws", output_field=TextField())
    return Case(
        When(
            Regex(joined, Value(_FOLDS_SOMETHING)),
            then=Func(joined, Value(_FOLD_FROM), Value(_FOLD_TO), function="translate"),
        ),
        default=joined,
        output_field=TextField(),
    )


def _written_without_spaces(text: str) -> bool:
    return any(char.isalpha() and not written_with_spaces(char) for char in text)


def _search(products: QuerySet[Product], query: str) -> QuerySet[Product]:
    """Products whose shown name or description (the shopper's language and the region's
    default one, which is what shows where a translation is missing) has the words of ``query``.

    On PostgreSQL both sides are folded alike (:func:`fold_for_matching`): Arabic spellings
    with or without hamza, madda, diacritics or tatweel, ta marbuta or ha, alef maksura or ya
    find each other. A product matches on ``query`` anywhere in a name or on the whole words of
    its text (full-text search, with the websearch syntax: quotes, ``or``, ``-``). A query with
    words of a script written without spaces (Thai, Chinese) matches each of its words anywhere
    in the names and descriptions (``-`` before a word leaves out what has it): there a whole
    sentence is one full-text token, so a word in it is found only as a part of the text.
    Other databases: ``icontains`` on the names.
    """
    languages = {get_language() or settings.REGION.default_language, settings.REGION.default_language}
    names = [build_localized_fieldname("name", lang.replace("-", "_")) for lang in sorted(languages)]
    descriptions = [build_localized_fieldname("description", lang.replace("-", "_")) for lang in sorted(languages)]
    if connection.vendor != "postgresql":
        return products.filter(reduce(operator.or_, (Q(**{f"{field}__icontains": query}) for field in names)))
    folded = " ".join(fold_for_matching(query).split())
    if _written_without_spaces(folded):
        # Every row pays for each expression it is tested against, and these words are found
        # in the whole text anyway: full-text search would only add its cost.
        found = Q()
        for word in folded.split():
            left_out = word.startswith("-") and len(word) > 1
            word = (word[1:] if left_out else word).strip('"')
            if word:
                found &= ~Q(search_text__icontains=word) if left_out else Q(search_text__icontains=word)
        if not found:
            return products.none()
        return products.alias(search_text=_folded(*names, *descriptions)).filter(found)
    if not folded:  # only marks or invisible characters: no word to look for
        return products.none()
    # The "simple" configuration: no one stemming dictionary is right for eleven languages.
    # The name first: a product found by it is not searched again.
    return products.alias(
        search_names=_folded(*names), search=SearchVector(_folded(*names, *descriptions), config="simple")
    ).filter(
        Q(search_names__icontains=folded) | Q(search=SearchQuery(folded, config="simple", search_type="websearch"))
    )


def storefront_products(
    *, country: str, filters: ListingFilters | None = None, today: dt.date | None = None
) -> QuerySet[Product]:
    """The products a listing shows a shopper in ``country``, filtered and sorted, with card data.

    Built on :func:`products_visible_in`, so a product a rule hides never appears; only
    products with at least one variant on sale are listed. The query count per page is fixed.
    """
    filters = filters or ListingFilters()
    products = products_visible_in(country=country, today=today).filter(
        Exists(Variant.objects.filter(product=OuterRef("pk"), is_active=True))
    )
    if filters.category is not None:
        products = products.filter(category_id__in=category_with_descendants(filters.category))
    if filters.merchant_slug:
        products = products.filter(merchant__slug=filters.merchant_slug)
    if filters.certification:
        certified = Certification.objects.filter(
            valid_certifications_q(_today(today)), product=OuterRef("pk"), type=filters.certification
        )
        products = products.filter(Exists(certified))
    if filters.query:
        products = _search(products, filters.query)
    products = with_listing_data(products, today=today)
    if filters.max_price_minor is not None:
        products = products.filter(price_minor__lte=filters.max_price_minor)
    order = {
        "newest": ("-created_at", "-id"),
        "price_asc": ("price_minor", "id"),
        "price_desc": ("-price_minor", "-id"),
        "name": ("name", "id"),
    }[filters.sort if filters.sort in LISTING_SORTS else "newest"]
    return products.order_by(*order)


def product_for_page(*, pk: int) -> Product | None:
    """One product with everything its page shows (variants, images, ingredients, certificates), or ``None``."""
    return (
        Product.objects.select_related("merchant", "category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(is_active=True), to_attr="active_variants"),
            "images",
            "ingredients",
            "certifications",
        )
        .filter(pk=pk, is_active=True)
        .first()
    )


def category_by_slug(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug, is_active=True).first()


# --- what listings cache -----------------------------------------------------------------

# Changes whenever a product, variant, image, ingredient, certificate or category changes.
CATALOG_GENERATION = Generation("catalog:generation")
LISTING_CACHE_SECONDS = 300


def catalog_changed() -> None:
    """Called on commit of any catalog write (signals); old listing keys are never read again."""
    transaction.on_commit(CATALOG_GENERATION.bump)


def search_text(query: str) -> str:
    """A search as the listing runs, caches and shows it: one spelling for what finds the same products.

    Both ways :func:`_search` matches ignore case and runs of spaces. ``lower()``, not
    ``casefold()``: case-folding turns "Straße" into "strasse", which PostgreSQL's
    case-insensitive match does not equate with the "Straße" in a product's name.

    The Arabic forms :func:`_search` folds (``fold_for_matching``) are kept as typed: this text
    is shown in the search box, where "ساعة" must not turn into "ساعه" or lose its diacritics.
    "ساعة" and "ساعه" are two listings (two cache entries) that find the same products.
    """
    return " ".join(query.split()).lower()


def listing_address(cleaned: Mapping[str, Any]) -> dict[str, str]:
    """A listing's validated parameters in one spelling, sorted, without those that say the default.

    The listing's cache keys and every address its shared page shows (page links, the
    preferences form's way back, the search box) are built from this alone, so two addresses
    that ask for the same listing share one entry, and nothing a visitor typed that the form
    does not know reaches another visitor's page.
    """
    defaults = {"sort": ListingFilters().sort, "page": 1}
    address = {}
    for name, value in cleaned.items():
        if name == "q":
            value = search_text(value or "")
        if value not in (None, "") and value != defaults.get(name):
            address[name] = str(value)
    return dict(sorted(address.items()))


# What a visitor may type freely: every made-up value is one more address, unlike a category
# (an unknown one answers 404), a sort or a certification (one of a few).
TYPED_PARAMETERS = ("q", "merchant")


def listing_worth_keeping(page: Page, address: Mapping[str, str]) -> bool:
    """Whether a listing page is one the crowd shares, or one only made-up addresses reach.

    ``address`` is the page's :func:`listing_address`. A page number past the last shows the
    last page (the paginator's way): keyed by its own number, every number up to the limit
    would be one more copy of it. A typed search or shop name that finds nothing is what a
    crawler's made-up ones find; caching those would fill the cache with pages nobody else
    asks for, and rendering one again costs no more than the miss the crawler causes anyway.
    (A search text is at most 100 characters already, on the pages and the API alike: a
    longer one is answered 400 and never cached.)
    """
    if page.number != int(address.get("page", 1)):
        return False
    return bool(page.object_list) or not any(name in address for name in TYPED_PARAMETERS)


def listing_cache_key(kind: str, *, country: str, language: str, currency: str, params: dict[str, Any]) -> str:
    """A key for what every shopper of one (region, country, language, currency) sees for ``params``.

    The catalog, the country rules and the exchange rates each have a generation in the key,
    so a change to any of them is visible on the next request, not after a timeout. So are the
    currencies that can be priced now (the currency menu): rates go stale at midnight with no
    new generation. Known per day and generation in the process, they cost no round trip more.
    """
    generations = current_generations(CATALOG_GENERATION, RULES_GENERATION, RATES_GENERATION)
    priced = currencies_priced_now(settings.REGION, generation=generations[-1])
    parts = [
        kind,
        settings.REGION.code,
        *(str(value) for value in generations),
        ",".join(priced),
        country,
        language,
        currency,
        urlencode(sorted((str(k), str(v)) for k, v in params.items())),
    ]
    return "catalog:listing:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


# --- the merchant console's reads (merchant API) -------------------------------------------
# Staff see only the rows of the merchants they work for, operators every row; another
# merchant's row is simply not in these querysets, so looking it up answers "not found".


def _owned_by(user: User, merchant_path: str) -> Q:
    if user.is_superuser:
        return Q()
    return Q(**{f"{merchant_path}__in": merchants_for_user(user)})


def merchant_products(*, user: User) -> QuerySet[Product]:
    """Every product of the user's merchants, on sale or not, newest first, with variants, stock and certificates."""
    return (
        Product.objects.filter(_owned_by(user, "merchant"))
        .select_related("merchant", "category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.prefetch_related(_stock_rows())),
            "certifications",
        )
        .order_by("-created_at", "-id")
    )


def _stock_rows() -> Prefetch:
    return Prefetch("stocks", queryset=Stock.objects.select_related("warehouse").order_by("warehouse__code"))


def merchant_variants(*, user: User) -> QuerySet[Variant]:
    return (
        Variant.objects.filter(_owned_by(user, "merchant")).prefetch_related(_stock_rows()).order_by("position", "id")
    )


def merchant_certifications(*, user: User) -> QuerySet[Certification]:
    return Certification.objects.filter(_owned_by(user, "product__merchant"))


def merchant_warehouses(*, user: User) -> QuerySet[Warehouse]:
    return Warehouse.objects.filter(_owned_by(user, "merchant")).select_related("merchant")


def merchant_stock(*, user: User) -> QuerySet[Stock]:
    return Stock.objects.filter(_owned_by(user, "variant__merchant")).select_related("warehouse", "variant")


# --- a variant's options, in the shopper's words --------------------------------------------------

# The option names merchants use as ``Variant.attributes`` keys, in the shopper's language. Any
# other key is the merchant's own word, shown as written.
OPTION_NAMES: Mapping[str, str | Promise] = {
    "size": pgettext_lazy("product option", "Size"),
    "colour": pgettext_lazy("product option", "Color"),
    "color": pgettext_lazy("product option", "Color"),
    "flavour": pgettext_lazy("product option", "Flavour"),
    "flavor": pgettext_lazy("product option", "Flavour"),
    "material": pgettext_lazy("product option", "Material"),
    "weight": pgettext_lazy("product option", "Weight"),
    "volume": pgettext_lazy("product option", "Volume"),
    "length": pgettext_lazy("product option", "Length"),
    "width": pgettext_lazy("product option", "Width"),
    "pattern": pgettext_lazy("product option", "Pattern"),
    "style": pgettext_lazy("product option", "Style"),
    "scent": pgettext_lazy("product option", "Scent"),
    "capacity": pgettext_lazy("product option", "Capacity"),
}
COLOUR_KEYS = frozenset({"colour", "color"})
# Common colour words a merchant writes as a colour option's value (in English, the catalog's
# working language), in the shopper's language; any other value is shown as written.
COLOUR_NAMES: Mapping[str, str | Promise] = {
    "black": pgettext_lazy("colour", "black"),
    "white": pgettext_lazy("colour", "white"),
    "grey": pgettext_lazy("colour", "grey"),
    "gray": pgettext_lazy("colour", "grey"),
    "silver": pgettext_lazy("colour", "silver"),
    "gold": pgettext_lazy("colour", "gold"),
    "red": pgettext_lazy("colour", "red"),
    "pink": pgettext_lazy("colour", "pink"),
    "orange": pgettext_lazy("colour", "orange"),
    "yellow": pgettext_lazy("colour", "yellow"),
    "green": pgettext_lazy("colour", "green"),
    "blue": pgettext_lazy("colour", "blue"),
    "navy": pgettext_lazy("colour", "navy"),
    "purple": pgettext_lazy("colour", "purple"),
    "brown": pgettext_lazy("colour", "brown"),
    "beige": pgettext_lazy("colour", "beige"),
    "ivory": pgettext_lazy("colour", "ivory"),
    "cream": pgettext_lazy("colour", "cream"),
}
# Measures written "500 g", "750 ml", "1.5 l": the CLDR unit of each symbol, so that Babel writes
# the amount in the shopper's script and words ("500 غرام", "1,5 l").
MEASURE_UNITS: Mapping[str, str] = {
    "mg": "mass-milligram",
    "g": "mass-gram",
    "kg": "mass-kilogram",
    "oz": "mass-ounce",
    "lb": "mass-pound",
    "ml": "volume-milliliter",
    "cl": "volume-centiliter",
    "l": "volume-liter",
    "mm": "length-millimeter",
    "cm": "length-centimeter",
    "m": "length-meter",
    "in": "length-inch",
}
_MEASURE = re.compile(r"^\s*(\d{1,7}(?:\.\d{1,3})?)\s?([a-z]{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class VariantOption:
    name: str
    value: str


def _option_value(key: str, value: str, locale: str) -> str:
    measure = _MEASURE.match(value)
    if measure and measure.group(2).lower() in MEASURE_UNITS:
        return format_measure(Decimal(measure.group(1)), MEASURE_UNITS[measure.group(2).lower()], locale)
    if key in COLOUR_KEYS and value.strip().lower() in COLOUR_NAMES:
        return str(COLOUR_NAMES[value.strip().lower()])
    return value


def _merchant_option_name(key: str) -> str:
    # Keys are lower-case ASCII words (Variant.clean); written as a label, like the known ones.
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def variant_options(attributes: Mapping[str, Any] | None, *, locale: str) -> list[VariantOption]:
    """A variant's options (``{"size": "500 g"}``) as the shopper reads them: names and known
    values in the active language, measures written by Babel in ``locale`` (``ar_AE``)."""
    if not isinstance(attributes, Mapping):
        return []
    return [
        VariantOption(
            name=str(OPTION_NAMES.get(key) or _merchant_option_name(str(key))),
            value=_option_value(str(key), str(value), locale),
        )
        for key, value in attributes.items()
    ]


# Each item of an option list is a "label: value" pair, not a measure, so CLDR's unit lists are
# the wrong style: zh joins units with nothing, running one pair into the next. The narrow "and"
# list separates pairs in every language we serve: commas in en, fr, pt, id, ms, "、" in zh,
# "y"/"und"/"e" before the last pair in es, de, it, "و" in ar, "และ" in th.
OPTION_LIST_STYLE: ListStyle = "standard-narrow"


def variant_options_text(attributes: Mapping[str, Any] | None, *, locale: str) -> str:
    """``Size: 500 g``; several options joined as ``locale`` writes a short list ("Color: navy,
    Size: M"); empty for a variant without options."""
    parts = [
        # Translators: one option of a product variant, e.g. "Size: 500 g" or "Colour: ivory".
        pgettext("product option", "%(name)s: %(value)s") % {"name": option.name, "value": option.value}
        for option in variant_options(attributes, locale=locale)
    ]
    return format_list_of(parts, OPTION_LIST_STYLE, locale)

"""Reads about country product rules.

Rules are few and read on every catalog page, so a country's rules are cached as
plain frozen data (``RuleSpec``) under a generation number that any change to the rule
tables bumps (see ``receivers.py``); a short timeout bounds staleness should a bump be
lost, e.g. when a migration edits rules while the cache keeps running.

Two consumers use the same ``RuleSpec``: the catalog turns them into one queryset
filter (lists), and :func:`product_violations` evaluates them on one product's facts
(the explanation shown to merchants and on the product page). Both must agree; the
tests check that they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils.translation import get_language
from modeltranslation.utils import build_localized_fieldname

from apps.cache_generations import Generation
from apps.compliance.models import CertificationType, CountryGroupMember, ProductAttribute, ProductRule

RULES_CACHE_TIMEOUT = 300
RULES_GENERATION = Generation("compliance:rules:generation")


@dataclass(frozen=True)
class ListedAdditive:
    e_number: str
    name: str


@dataclass(frozen=True)
class RuleSpec:
    """One rule in force in one country, detached from the database."""

    id: int
    name: str
    kind: str
    attribute: str
    food_only: bool
    certification_type: str
    additives: tuple[ListedAdditive, ...]
    messages: dict[str, str] = field(hash=False, compare=False)

    def message(self, language: str | None = None) -> str:
        """The rule's message in ``language`` (else the active one), falling back like the catalog does."""
        wanted = language or get_language() or settings.REGION.default_language
        for lang in (wanted, settings.REGION.default_language, "en"):
            text = self.messages.get(lang)
            if text:
                return text
        return self.name

    @property
    def certification_label(self) -> str:
        return str(CertificationType(self.certification_type).label) if self.certification_type else ""

    def concerns(self, attributes: frozenset[str]) -> bool:
        """Whether a product with these true attributes is a subject of this rule."""
        if self.food_only and ProductAttribute.IS_FOOD not in attributes:
            return False
        return not self.attribute or self.attribute in attributes


@dataclass(frozen=True)
class ProductFacts:
    """What rules need to know about one product, gathered by the catalog."""

    attributes: frozenset[str]
    e_numbers: frozenset[str]
    valid_certifications: frozenset[str]


@dataclass(frozen=True)
class Violation:
    """Why a product may not be shown in a country."""

    rule_id: int
    rule_name: str
    kind: str
    message: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.message} ({', '.join(self.details)})" if self.details else self.message


def rules_generation() -> int:
    """Changes whenever a rule, a listed additive or a country group changes; part of cache keys."""
    return RULES_GENERATION.current()


def rules_changed() -> None:
    RULES_GENERATION.bump()


def _load_rules(country: str) -> tuple[RuleSpec, ...]:
    groups = CountryGroupMember.objects.filter(country=country).values("group_id")
    rules = (
        ProductRule.objects.filter(is_active=True)
        .filter(Q(country=country) | Q(group_id__in=groups))
        .prefetch_related("additives")
        .order_by("id")
    )
    languages = settings.MODELTRANSLATION_LANGUAGES
    return tuple(
        RuleSpec(
            id=rule.pk,
            name=rule.name,
            kind=rule.kind,
            attribute=rule.attribute,
            food_only=rule.food_only,
            certification_type=rule.certification_type,
            additives=tuple(ListedAdditive(a.e_number, a.name) for a in rule.additives.all()),
            messages={
                lang: text
                for lang in languages
                if (text := getattr(rule, build_localized_fieldname("message", lang), None))
            },
        )
        for rule in rules
    )


def rules_for_country(country: str) -> tuple[RuleSpec, ...]:
    """Every rule in force in ``country`` (ISO code, any case); two queries when not cached."""
    country = country.upper()
    key = f"compliance:rules:{rules_generation()}:{country}"
    rules = cache.get(key)
    if rules is None:
        rules = _load_rules(country)
        cache.set(key, rules, timeout=RULES_CACHE_TIMEOUT)
    return rules


def product_violations(
    facts: ProductFacts, rules: tuple[RuleSpec, ...], *, language: str | None = None
) -> list[Violation]:
    """The rules a product with these facts breaks, in rule order; empty when it may be shown."""
    found: list[Violation] = []
    for rule in rules:
        if not rule.concerns(facts.attributes):
            continue
        details: tuple[str, ...] = ()
        if rule.kind == ProductRule.Kind.HIDE:
            broken = True
        elif rule.kind == ProductRule.Kind.HIDE_ADDITIVES:
            details = tuple(f"{a.e_number} {a.name}" for a in rule.additives if a.e_number in facts.e_numbers)
            broken = bool(details)
        elif rule.kind == ProductRule.Kind.REQUIRE_CERTIFICATION:
            broken = rule.certification_type not in facts.valid_certifications
            details = (rule.certification_label,) if broken else ()
        else:
            broken = False
        if broken:
            found.append(
                Violation(
                    rule_id=rule.id,
                    rule_name=rule.name,
                    kind=rule.kind,
                    message=rule.message(language),
                    details=details,
                )
            )
    return found


def certifications_required(facts: ProductFacts, rules: tuple[RuleSpec, ...]) -> list[RuleSpec]:
    """The certification rules that concern this product: what the page must show."""
    return [
        rule
        for rule in rules
        if rule.kind == ProductRule.Kind.REQUIRE_CERTIFICATION and rule.concerns(facts.attributes)
    ]

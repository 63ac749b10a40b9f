"""Country product rules as data.

A rule says which products it concerns (a *subject*: one product attribute, food only
or not) and what happens to them in its countries: hidden outright, hidden when they
contain one of the rule's additives, or hidden unless they carry a valid certification
of one type. Operators edit rules in the admin; the catalog turns them into a queryset
filter. This app sits below the catalog, so the vocabulary the catalog must provide
(attribute names, certification types) is declared here and imported from there.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import build_localized_fieldname

from regions.languages import language_name


class ProductAttribute(models.TextChoices):
    """Yes/no facts about a product that rules may test; each is a boolean field of the catalog's Product."""

    IS_FOOD = "is_food", _("Food or drink")
    CONTAINS_ALCOHOL = "contains_alcohol", _("Contains alcohol")
    CONTAINS_PORK = "contains_pork", _("Contains pork")
    CLAIMS_ORGANIC = "claims_organic", _("Claims to be organic")
    IS_VAPING_PRODUCT = "is_vaping_product", _("E-cigarette or vaping product")


class CertificationType(models.TextChoices):
    FDA = "fda", _("FDA registration")
    EU_ORGANIC = "eu_organic", _("EU Organic")
    USDA_ORGANIC = "usda_organic", _("USDA Organic")
    HALAL = "halal", _("Halal")
    CE = "ce", _("CE marking")
    FCC = "fcc", _("FCC")
    UKCA = "ukca", _("UKCA")
    SASO = "saso", _("SASO (Saudi conformity)")
    GMARK = "gmark", _("G-Mark (GCC conformity)")
    SIRIM = "sirim", _("SIRIM (Malaysia)")
    TIS = "tis", _("TIS (Thai Industrial Standard)")


# E-numbers as printed on EU labels: "E" and three or four digits, then an optional
# letter and an optional Roman-numeral subclass, e.g. E171, E927a, E150d, E160a(ii).
# Checked case-insensitively so "e171" gets a chance to be normalised by ``clean``.
E_NUMBER_RE = re.compile(r"^E\d{3,4}[a-z]?(\((i|ii|iii|iv|v|vi)\))?$", re.IGNORECASE)
e_number_validator = RegexValidator(E_NUMBER_RE, _("Write an E-number such as E171, E927a or E160a(ii)."))


def normalise_e_number(value: str) -> str:
    """``e 171`` -> ``E171``; the letter suffix stays lower case as labels print it."""
    value = "".join(value.split())
    if not value:
        return value
    head, digits_and_rest = value[0].upper(), value[1:]
    return head + digits_and_rest.lower()


class CountryGroup(models.Model):
    """A named set of countries that rules can target at once (EU/EEA, GCC …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("country group")
        verbose_name_plural = _("country groups")

    def __str__(self) -> str:
        return self.name


country_code_validator = RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO country code in capitals, e.g. DE."))


class CountryGroupMember(models.Model):
    group = models.ForeignKey(CountryGroup, on_delete=models.CASCADE, related_name="members")
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])

    class Meta:
        ordering = ["country"]
        verbose_name = _("member country")
        verbose_name_plural = _("member countries")
        constraints = [
            models.UniqueConstraint(fields=["group", "country"], name="country_once_per_group"),
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="group_member_iso_country"),
        ]

    def __str__(self) -> str:
        return self.country


class ProductRule(models.Model):
    """One rule for one country or one country group."""

    class Kind(models.TextChoices):
        HIDE = "hide", _("Hide products of this kind")
        HIDE_ADDITIVES = "hide_additives", _("Hide products containing one of the listed additives")
        REQUIRE_CERTIFICATION = "require_certification", _("Hide products without a valid certification")

    name = models.CharField(_("name"), max_length=120, help_text=_("For operators, e.g. 'No alcohol in SA'."))
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[country_code_validator],
        help_text=_("Either one country or a country group."),
    )
    group = models.ForeignKey(
        CountryGroup,
        verbose_name=_("country group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    attribute = models.CharField(
        _("applies to products that are"),
        max_length=30,
        choices=ProductAttribute.choices,
        blank=True,
        help_text=_("Leave empty for every product."),
    )
    food_only = models.BooleanField(_("food only"), default=False, help_text=_("Applies only to food and drink."))
    certification_type = models.CharField(
        _("required certification"), max_length=30, choices=CertificationType.choices, blank=True
    )
    message = models.CharField(
        _("message"),
        max_length=300,
        blank=True,
        help_text=_(
            "Shown to shoppers and merchants when the rule hides a product, e.g. 'Alcohol cannot be sold in Saudi Arabia.'"
        ),
    )
    is_active = models.BooleanField(_("in force"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product rule")
        verbose_name_plural = _("product rules")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(country="") & models.Q(group__isnull=False))
                | (~models.Q(country="") & models.Q(group__isnull=True)),
                name="rule_targets_one_country_or_one_group",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="require_certification", certification_type__gt="")
                | (~models.Q(kind="require_certification") & models.Q(certification_type="")),
                name="rule_certification_only_when_required",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if bool(self.country) == bool(self.group_id):
            errors["country"] = [_("Choose either one country or one country group.")]
        if self.kind == self.Kind.REQUIRE_CERTIFICATION and not self.certification_type:
            errors["certification_type"] = [_("Say which certification products must carry.")]
        if self.kind != self.Kind.REQUIRE_CERTIFICATION and self.certification_type:
            errors["certification_type"] = [_("Only rules that require a certification name one.")]
        if self.kind == self.Kind.HIDE and not self.attribute and not self.food_only:
            errors["attribute"] = [_("A rule that hides products must say which ones; it would hide everything.")]
        default_message = build_localized_fieldname("message", settings.REGION.default_language)
        if not (getattr(self, default_message, "") or "").strip():
            errors[default_message] = [
                _("Write the message in %(language)s, the region's default language; other languages fall back to it.")
                # Named as the operator reading the admin calls it ("arabe" in French), not by its code.
                % {"language": language_name(settings.REGION.default_language, to_locale(get_language() or "en"))}
            ]
        if errors:
            raise ValidationError(errors)


class RuleAdditive(models.Model):
    """An additive listed by a ``hide_additives`` rule, by E-number."""

    rule = models.ForeignKey(ProductRule, on_delete=models.CASCADE, related_name="additives")
    e_number = models.CharField(_("E-number"), max_length=12, validators=[e_number_validator])
    name = models.CharField(_("name"), max_length=120, help_text=_("e.g. titanium dioxide"))
    note = models.CharField(_("legal basis"), max_length=200, blank=True)

    class Meta:
        ordering = ["e_number"]
        verbose_name = _("listed additive")
        verbose_name_plural = _("listed additives")
        constraints = [models.UniqueConstraint(fields=["rule", "e_number"], name="additive_once_per_rule")]

    def __str__(self) -> str:
        return f"{self.e_number} {self.name}"

    def clean(self) -> None:
        self.e_number = normalise_e_number(self.e_number)
        e_number_validator(self.e_number)

"""Writes about users, merchants and staff: one function per use case."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext

from apps.accounts.models import Merchant, MerchantMembership, User
from apps.accounts.selectors import is_time_zone
from apps.errors import ApplicationError
from apps.money.formatting import language_names
from regions import Region

# Model permissions of merchant owners and staff; apps add theirs in data migrations.
MERCHANT_STAFF_GROUP = "Merchant staff"


def _check_preferences(
    *, region: Region, country: str | None, language: str | None, currency: str | None, time_zone: str | None
) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    # Whoever reads the refusal: the request's language, else the region's.
    locale = translation.to_locale(translation.get_language() or region.default_language)
    if country is not None and not region.serves(country):
        fields["country"] = [
            # Translators: %(values)s lists country codes: "AE, BH, KW".
            gettext("Not served here; valid values: %(values)s") % {"values": ", ".join(sorted(region.country_codes))}
        ]
    if language is not None and language not in region.languages:
        fields["language"] = [
            # Translators: %(values)s lists language codes with their names: "en (English), ar (Arabic)".
            gettext("Not offered here; valid values: %(values)s") % {"values": language_names(region.languages, locale)}
        ]
    if currency is not None and currency not in region.currencies:
        fields["currency"] = [
            gettext("Not offered here; valid values: %(values)s") % {"values": ", ".join(region.currencies)}
        ]
    # The zones the preferences page offers: one that only loads (a file name such as
    # "posixrules") would be kept but never shown as the shopper's choice.
    if time_zone is not None and not is_time_zone(time_zone):
        fields["time_zone"] = [gettext("Not an IANA time zone such as Europe/Paris.")]
    return fields


def user_create(
    *,
    region: Region,
    email: str,
    password: str | None,
    display_name: str = "",
    country: str = "",
    language: str = "",
    currency: str = "",
    time_zone: str = "",
) -> User:
    email = User.objects.normalize_email(email).lower()
    fields = _check_preferences(
        region=region,
        country=country or None,
        language=language or None,
        currency=currency or None,
        time_zone=time_zone or None,
    )
    if len(email) > User._meta.get_field("email").max_length:
        # Longer than the column takes (and than RFC 5321 allows; Django's form check lets 320
        # characters through, and lower() may lengthen it): the insert failed with a 500.
        fields["email"] = [gettext("Enter a valid e-mail address.")]
    elif User.objects.filter(email=email).exists():
        fields["email"] = [gettext("An account with this e-mail address exists.")]
    if fields:
        raise ApplicationError(gettext("The account could not be created."), fields=fields)
    return User.objects.create_user(
        email=email,
        password=password,
        display_name=display_name,
        country=country.upper(),
        language=language,
        currency=currency,
        time_zone=time_zone,
    )


def shopper_preferences_check(
    *,
    region: Region,
    country: str | None = None,
    language: str | None = None,
    currency: str | None = None,
    time_zone: str | None = None,
) -> None:
    """Refuse choices this region cannot keep (an anonymous shopper's, kept in the session, too)."""
    fields = _check_preferences(
        region=region, country=country, language=language, currency=currency, time_zone=time_zone
    )
    if fields:
        raise ApplicationError(gettext("These preferences are not available in this region."), fields=fields)


def shopper_preferences_update(
    *,
    user: User,
    region: Region,
    country: str | None = None,
    language: str | None = None,
    currency: str | None = None,
    time_zone: str | None = None,
) -> User:
    """Store the shopper's own choices; ``None`` leaves a field as it is."""
    country = country.upper() if country else country
    shopper_preferences_check(region=region, country=country, language=language, currency=currency, time_zone=time_zone)
    changed = []
    for name, value in (("country", country), ("language", language), ("currency", currency), ("time_zone", time_zone)):
        if value is not None and getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def merchant_create(*, name: str, country: str, owner: User, slug: str = "") -> Merchant:
    name = " ".join(name.split())
    if not name:
        raise ApplicationError(
            gettext("A merchant needs a name."), fields={"name": [gettext("This field is required.")]}
        )
    # URLs take ASCII slugs; a name in Arabic, Thai or Chinese script gets a stable one of its own.
    slug = slug or slugify(name) or f"shop-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
    if Merchant.objects.filter(slug=slug).exists():
        raise ApplicationError(
            gettext("This merchant exists."), code="duplicate", fields={"slug": [gettext("Already taken.")]}
        )
    merchant = Merchant.objects.create(name=name, slug=slug, country=country.upper())
    MerchantMembership.objects.create(merchant=merchant, user=owner, role=MerchantMembership.Role.OWNER)
    _grant_console_access(owner)
    return merchant


@transaction.atomic
def merchant_staff_add(
    *, merchant: Merchant, user: User, role: str = MerchantMembership.Role.STAFF
) -> MerchantMembership:
    if role not in MerchantMembership.Role.values:
        # The field lists the role codes a caller may send.
        raise ApplicationError(gettext("Unknown staff role."), fields={"role": list(MerchantMembership.Role.values)})
    membership, _ = MerchantMembership.objects.get_or_create(merchant=merchant, user=user, defaults={"role": role})
    _grant_console_access(user)
    return membership


def _grant_console_access(user: User) -> None:
    # Merchant staff work in the admin console; what they may see there is scoped
    # per merchant by each app's admin, not by this flag.
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    # The group carries the model permissions (granted by the apps' migrations).
    group, _ = Group.objects.get_or_create(name=MERCHANT_STAFF_GROUP)
    user.groups.add(group)

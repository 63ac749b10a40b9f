"""No untranslated words reach a person through an ApplicationError or a ValidationError.

``ApplicationError.message`` (and its subclasses') and every message in its ``fields`` are
shown to the person (the API's ``{"error": {...}}``, a page's notice, a console's field), as
are Django's and DRF's ``ValidationError`` messages, so each must come from gettext in the
reader's language. This test reads the source (``ast``) and fails on
a message written as a bare literal or an f-string: the kind that slips past review
because it reads fine in English.
"""

from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from apps.errors import ApplicationError

ROOT = Path(__file__).resolve().parent.parent

# Every module under apps/ but migrations (their texts are frozen history, never shown). A message
# that only operators, logs or a developer's traceback read, or data a client parses rather than a
# person reads, is allowed below with its reason; everything else is translated.
CHECKED = ("apps/**/*.py",)
SKIPPED = ("migrations",)

# Whole modules whose errors no shopper or merchant reads. Keep each reason short.
OPERATOR_MODULES: dict[str, str] = {
    # Rates files and feeds: read by the daily beat task and `manage.py`, answered to the operator.
    "apps/money/providers/__init__.py": "FX rate feeds: the operator's beat task and command",
    "apps/money/providers/ecb.py": "FX rate feeds: the operator's beat task and command",
    "apps/money/providers/pegged.py": "FX rate feeds: the operator's beat task and command",
}

# A developer's mistake (the wrong type passed in code), read in a traceback, not by a person.
_PROGRAMMING = "a programming error, read in a traceback"
# An ended show's stream deleted at its provider: only the background task and the hourly beat
# ask, and log the provider's reason. Starting and ending a show are told in the merchant's words.
_STREAM_DELETE = "an ended show's stream deletion, read in the task's log"

# (module, raw text as the check reports it) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    # The cart's lines as variant:quantity pairs, for the client to compare with what it showed.
    ("apps/orders/services.py", "f'{variant}:{quantity}'"): "data for the API client, not words",
    ("apps/money/types.py", "f'Cannot {operation} {self} and {other!r}: both sides must be Money.'"): _PROGRAMMING,
    (
        "apps/money/types.py",
        "f'Cannot {operation} {self.currency} and {other.currency}; convert one of them first.'",
    ): _PROGRAMMING,
    (
        "apps/money/types.py",
        "f'Money is multiplied by a whole quantity only, not {quantity!r}; use scale() for rates.'",
    ): _PROGRAMMING,
    ("apps/money/types.py", "f'A scale factor is a finite Decimal, not {factor!r}.'"): _PROGRAMMING,
    ("apps/money/selectors.py", "f'convert() takes Money, not {type(money).__name__}.'"): _PROGRAMMING,
    # Only the money admin asks, for a snapshot row it is showing.
    ("apps/money/selectors.py", "f'There is no FX rate snapshot {snapshot_id}.'"): "only the admin's own rows",
    ("apps/live/providers/mux.py", "f'Mux did not delete live stream {stream_id}: {_reason(exc)}'"): _STREAM_DELETE,
    ("apps/live/providers/ivs.py", "f'AWS IVS did not delete the channel: {_reason(exc)}'"): _STREAM_DELETE,
    (
        "apps/live/providers/ivs.py",
        "AWS IVS did not delete the channel: still live; stopped, to delete on the next try",
    ): _STREAM_DELETE,
}


@dataclass(frozen=True)
class Offence:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.text!r} is not translated"


def _raw(node: ast.AST | None) -> str | None:
    """The text of a message written without gettext (a literal or an f-string), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ast.unparse(node)
    # "literal" % {...} and "literal".format(...) are untranslated too.
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _raw(node.left)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and _raw(node.func.value) is not None
    ):
        return _raw(node.func.value)
    return None


def _list_messages(node: ast.AST) -> list[tuple[ast.AST, str]]:
    """Raw messages inside a fields value: a list/tuple of messages, or a dict of them."""
    found: list[tuple[ast.AST, str]] = []
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        for elt in node.elts:
            text = _raw(elt)
            if text is not None:
                found.append((elt, text))
    elif isinstance(node, ast.ListComp) and (text := _raw(node.elt)) is not None:
        found.append((node.elt, text))
    return found


def _fields_messages(node: ast.AST) -> list[tuple[ast.AST, str]]:
    """Raw messages in a ``fields=`` value: ``{"name": ["..."]}`` or a dict(...) of such lists."""
    found: list[tuple[ast.AST, str]] = []
    if isinstance(node, ast.Dict):
        for value in node.values:
            found += _list_messages(value)
    elif isinstance(node, ast.DictComp):
        found += _list_messages(node.value)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        for kw in node.keywords:
            found += _list_messages(kw.value)
    return found


def _is_fields_target(target: ast.AST) -> bool:
    """``fields[...]`` or ``<something>.fields[...]``: a person-facing field message."""
    if not isinstance(target, ast.Subscript):
        return False
    holder = target.value
    return (isinstance(holder, ast.Name) and holder.id == "fields") or (
        isinstance(holder, ast.Attribute) and holder.attr == "fields"
    )


# A function annotated to return this hands field messages to a caller that raises them.
FIELDS_TYPE = "dict[str, list[str]]"


def _error_types(sources: list[str]) -> frozenset[str]:
    """ApplicationError and every class under apps/ derived from it (MoneyError, StreamProviderError ...)."""
    names = {"ApplicationError"}
    classes = [
        (node.name, {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases})
        for source in sources
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
    ]
    grew = True
    while grew:
        grew = False
        for name, bases in classes:
            if name not in names and bases & names:
                names.add(name)
                grew = True
    return frozenset(names)


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _message_arg(node: ast.Call) -> ast.AST | None:
    message = node.args[0] if node.args else None
    for kw in node.keywords:
        if kw.arg == "message":
            message = kw.value
    return message


def offences(
    source: str,
    rel: str,
    *,
    error_types: frozenset[str] = frozenset({"ApplicationError"}),
    allowed: dict[tuple[str, str], str] | None = None,
) -> list[Offence]:
    """Raw person-facing messages in ``source``, the text of module ``rel`` (relative to the repo).

    Looked at: the message and ``fields`` of ``error_types``; Django's and DRF's ``ValidationError``
    (a message, or a dict or list of them); ``fields[...] = / .append / .extend``; and the dict a
    function annotated ``-> dict[str, list[str]]`` returns, or a ``fields`` variable is given; and
    the ``message`` handed to one of the module's own functions that takes one.
    """
    allowed = ALLOWED if allowed is None else allowed
    tree = ast.parse(source, filename=rel)
    out: list[Offence] = []
    # The module's own helpers that raise the ``message`` they are given (catalog's _validated_save),
    # not those that log it: name -> the parameter's position.
    passes_message = {
        node.name: [arg.arg for arg in node.args.posonlyargs + node.args.args].index("message")
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and "message" in [arg.arg for arg in node.args.posonlyargs + node.args.args]
        and any(
            isinstance(call, ast.Call)
            and _call_name(call) in error_types
            and isinstance(_message_arg(call), ast.Name)
            and _message_arg(call).id == "message"
            for call in ast.walk(node)
        )
    }

    def flag(node: ast.AST, text: str, kind: str) -> None:
        if (rel, text) not in allowed:
            out.append(Offence(rel, node.lineno, kind, text))

    def flag_fields(value: ast.AST) -> None:
        for elt, text in _fields_messages(value):
            flag(elt, text, "fields message")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            message = _message_arg(node)
            if name in error_types and (text := _raw(message)) is not None:
                flag(message, text, "ApplicationError message")
            if isinstance(node.func, ast.Name) and name in passes_message:
                position = passes_message[name]
                passed = node.args[position] if len(node.args) > position else None
                passed = next((kw.value for kw in node.keywords if kw.arg == "message"), passed)
                if (text := _raw(passed)) is not None:
                    flag(passed, text, "message")
            if name == "ValidationError" and message is not None:
                if (text := _raw(message)) is not None:
                    flag(message, text, "ValidationError message")
                flag_fields(message)
                for elt, text in _list_messages(message):
                    flag(elt, text, "ValidationError message")
            for kw in node.keywords:
                if kw.arg == "fields":
                    flag_fields(kw.value)
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in {"append", "extend"}
                and _is_fields_target(node.func.value)
            ):
                for arg in node.args:
                    if (text := _raw(arg)) is not None:
                        flag(arg, text, "fields message")
                    for elt, text in _list_messages(arg):
                        flag(elt, text, "fields message")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_fields_target(t) for t in targets):
                for elt, text in _list_messages(node.value):
                    flag(elt, text, "fields message")
            if any(isinstance(t, ast.Name) and t.id == "fields" for t in targets) or (
                isinstance(node, ast.AnnAssign) and ast.unparse(node.annotation) == FIELDS_TYPE
            ):
                flag_fields(node.value)
        elif (
            isinstance(node, ast.FunctionDef)
            and node.returns is not None
            and ast.unparse(node.returns).strip("'\"") == FIELDS_TYPE
        ):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    flag_fields(inner.value)
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _checked_modules() -> list[Path]:
    return sorted(
        {
            p
            for pattern in CHECKED
            for p in ROOT.glob(pattern)
            if not set(p.relative_to(ROOT).parts) & set(SKIPPED) and _rel(p) not in OPERATOR_MODULES
        }
    )


ERROR_TYPES = _error_types([p.read_text(encoding="utf-8") for p in ROOT.glob("apps/**/*.py")])


def test_the_checked_modules_exist() -> None:
    # A moved tree must not slip out of the check unnoticed.
    checked = {_rel(p) for p in _checked_modules()}
    assert {"apps/errors.py", "apps/orders/services.py", "apps/money/types.py"} <= checked
    assert not any("/migrations/" in rel for rel in checked)
    assert {"MoneyError", "StreamProviderError", "ProviderError"} <= ERROR_TYPES
    for rel in OPERATOR_MODULES:
        assert (ROOT / rel).is_file(), rel


@pytest.mark.parametrize("path", _checked_modules(), ids=_rel)
def test_messages_for_people_are_translated(path: Path) -> None:
    found = offences(path.read_text(encoding="utf-8"), _rel(path), error_types=ERROR_TYPES)
    assert not found, "Wrap these in gettext (_ / pgettext / ngettext):\n" + "\n".join(map(str, found))


def test_every_allowed_message_is_still_there() -> None:
    # An allow-list entry whose message is gone (or now translated) would silently allow its next use.
    for rel, text in ALLOWED:
        raw = offences((ROOT / rel).read_text(encoding="utf-8"), rel, error_types=ERROR_TYPES, allowed={})
        assert text in {o.text for o in raw}, (rel, text)


SAMPLE = """
from django.utils.translation import gettext as _
def f(x):
    raise ApplicationError("Plain.", code="a")
def g(x):
    raise ApplicationError(f"Valid values: {x}", fields={"k": [f"Got {x}", _("fine")]})
def h(x):
    fields = {}
    fields["k"] = ["Unknown keys"]
    fields["ok"] = [_("At most %(n)d bytes.") % {"n": x}]
    raise ApplicationError(_("Fine."), fields=fields)
def i(x):
    raise ApplicationError("A %s thing" % x)
class SampleError(ApplicationError):
    pass
def j(x) -> dict[str, list[str]]:
    if x:
        return {"k": [f"Unknown: {x}"]}
    return {"ok": [_("Unknown: %(x)s") % {"x": x}]}
def k(x):
    raise SampleError(f"Bad {x}.", fields={"k": ["Required."]})
def m(x):
    raise serializers.ValidationError(f"Unknown {x!r}.")
def n(x):
    fields = {"k": ["Too long."]}
    fields["k"].append("Too short.")
    raise ValidationError({"k": ["Unknown."], "ok": [_("Fine.")]})
def _save(instance, message, *, extra=None):
    raise ApplicationError(message, fields=extra)
def _log(key, message, *args):
    logger.warning(message, *args)
def p(x):
    _save(x, "Could not save.")
    _save(x, message=_("Fine."))
    _log(x, "Logged %s, for the operator.", x)
"""


def test_the_check_finds_raw_messages() -> None:
    # The guard itself: every raw message in SAMPLE is found, none of the translated ones.
    found = [(o.line, o.kind) for o in offences(SAMPLE, "apps/sample.py", error_types=_error_types([SAMPLE]))]
    assert sorted(found) == [
        (4, "ApplicationError message"),
        (6, "ApplicationError message"),
        (6, "fields message"),
        (9, "fields message"),
        (13, "ApplicationError message"),
        (18, "fields message"),
        (21, "ApplicationError message"),
        (21, "fields message"),
        (23, "ValidationError message"),
        (25, "fields message"),
        (26, "fields message"),
        (27, "fields message"),
        (33, "message"),
    ]


# --- what the cleaned modules now say --------------------------------------------------------
# Languages are named as the reader names them (Babel's CLDR names), counts written in the
# reader's digits: codes stay only where the caller has to send them.


@pytest.mark.django_db
def test_a_room_refused_names_the_regions_languages_in_the_readers_language(use_region, merchant):
    from apps.live import services

    use_region("me-south")
    start = dt.datetime(2030, 1, 1, 18, tzinfo=dt.UTC)

    def refused() -> ApplicationError:
        with pytest.raises(ApplicationError) as err:
            services.live_room_schedule(
                region=settings.REGION,
                merchant=merchant,
                slug="words",
                titles={"en": "Evening show"},
                language="fr",
                starts_at=start,
                ends_at=start - dt.timedelta(hours=1),
            )
        return err.value

    with translation.override("en"):
        english = refused()
    with translation.override("fr"):
        french = refused()

    assert english.message == "The live room could not be scheduled."
    assert english.fields == {
        "title": ["A title in Arabic (the region's default language) is required."],
        "language": ["Not offered here; valid values: ar (Arabic), en (English)"],
        "ends_at": ["The show must end after it starts."],
    }
    assert "arabe" in french.fields["title"][0]
    assert "ar (arabe), en (anglais)" in french.fields["language"][0]


@pytest.mark.django_db
def test_a_refused_live_event_and_mute_say_their_limits_in_words():
    from apps.accounts.models import User
    from apps.live import services
    from apps.live.models import LiveRoom
    from apps.money.formatting import format_count

    room = LiveRoom()
    with translation.override("en"), pytest.raises(ApplicationError) as event:
        services.room_publish_event(room=room, event={"type": "status", "status": "paused", "colour": "red"})
    with translation.override("en"), pytest.raises(ApplicationError) as big:
        services.room_publish_event(room=room, event={"type": "pinned", "product": {"name": "x" * 20_000}})
    with translation.override("fr"), pytest.raises(ApplicationError) as mute:
        services.chat_user_mute(room=room, user=User(), minutes=0)

    assert event.value.fields == {
        "status": ["Valid values: scheduled, live, ended"],
        "event": ["Unknown key: colour"],
    }
    assert big.value.fields == {"event": ["At most 16,384 bytes of JSON."]}
    assert format_count(10080, "fr") in mute.value.fields["minutes"][0]


def test_the_merchant_api_names_the_languages_it_takes(use_region):
    from rest_framework import serializers

    from apps.catalog.merchant_api import TranslationsField

    use_region("us-east")
    with translation.override("fr"), pytest.raises(serializers.ValidationError) as err:
        TranslationsField(child=serializers.CharField()).to_internal_value({"de": "Hallo"})

    assert "en (anglais), es (espagnol), pt (portugais)" in str(err.value.detail["de"][0])


def test_a_rule_without_its_default_message_names_the_language(use_region):
    from django.core.exceptions import ValidationError

    from apps.compliance.models import ProductAttribute, ProductRule

    use_region("me-south")
    rule = ProductRule(
        name="No alcohol", country="SA", kind=ProductRule.Kind.HIDE, attribute=ProductAttribute.CONTAINS_ALCOHOL
    )
    with translation.override("en"), pytest.raises(ValidationError) as english:
        rule.clean()
    with translation.override("fr"), pytest.raises(ValidationError) as french:
        rule.clean()

    assert english.value.message_dict["message_ar"] == [
        "Write the message in Arabic, the region's default language; other languages fall back to it."
    ]
    assert "arabe" in french.value.message_dict["message_ar"][0]


def test_refused_preferences_name_the_languages_in_the_readers_language(use_region):
    from apps.accounts.services import shopper_preferences_check

    region = use_region("me-south")

    def refused() -> ApplicationError:
        with pytest.raises(ApplicationError) as err:
            shopper_preferences_check(region=region, country="US", language="fr", time_zone="Mars/Olympus")
        return err.value

    with translation.override("en"):
        english = refused()
    with translation.override("fr"):
        french = refused()

    assert english.message == "These preferences are not available in this region."
    assert english.fields == {
        "country": ["Not served here; valid values: AE, BH, KW, OM, QA, SA"],
        "language": ["Not offered here; valid values: ar (Arabic), en (English)"],
        "time_zone": ["Not an IANA time zone such as Europe/Paris."],
    }
    assert "ar (arabe), en (anglais)" in french.fields["language"][0]


def test_the_catalog_api_names_the_languages_it_takes(use_region):
    from apps.catalog.api import ShopperParams

    use_region("us-east")
    with translation.override("en"):
        english = ShopperParams(data={"country": "fr", "lang": "de", "currency": "eur"})
        assert not english.is_valid()
    with translation.override("fr"):
        french = ShopperParams(data={"lang": "de"})
        assert not french.is_valid()

    assert {name: [str(m) for m in messages] for name, messages in english.errors.items()} == {
        "country": ["Unknown country “FR”; valid values: BR, CA, MX, US."],
        "lang": ["Unknown language “de”; valid values: en (English), es (Spanish), pt (Portuguese), fr (French)."],
        "currency": ["Unknown currency “EUR”; valid values: USD, CAD, MXN, BRL."],
    }
    assert "en (anglais), es (espagnol), pt (portugais), fr (français)" in str(french.errors["lang"][0])


@pytest.mark.django_db
def test_a_product_in_a_language_not_offered_names_both_in_the_readers_language(use_region, merchant):
    from apps.catalog import services

    region = use_region("us-east")
    with translation.override("fr"), pytest.raises(ApplicationError) as err:
        services.product_create(region=region, merchant=merchant, slug="scarf", names={"en": "Scarf", "ar": "وشاح"})

    assert "ar (arabe)" in err.value.fields["language"][0]
    assert "en (anglais), es (espagnol), pt (portugais)" in err.value.fields["language"][0]


def test_money_refusals_say_amounts_as_money_and_decimals_in_words(use_region):
    from apps.money.formatting import format_money
    from apps.money.types import Money, MoneyError

    use_region("us-east")
    with translation.override("en"), pytest.raises(MoneyError) as decimals:
        Money.from_decimal("1.234", "USD")
    with translation.override("en"), pytest.raises(MoneyError) as yen:
        Money.from_decimal("1.5", "JPY")
    with translation.override("en"), pytest.raises(MoneyError) as currency:
        Money.from_decimal("1", "dollars")
    with translation.override("fr"), pytest.raises(MoneyError) as negative:
        Money(-500, "USD").require_non_negative("price")

    assert decimals.value.message == "USD amounts have 2 decimal places; “1.234” has more."
    assert decimals.value.fields == {"amount": ["At most 2 decimal places for USD."]}
    assert yen.value.fields == {"amount": ["At most 0 decimal places for JPY."]}
    assert currency.value.fields == {"currency": ["Unknown currency “dollars”."]}
    # The amount as the reader writes money, never the log's "USD -5.00".
    assert format_money(-500, "USD", "fr") in negative.value.message
    assert "USD -5.00" not in negative.value.message


def test_an_unknown_stream_provider_is_refused_in_words():
    from apps.live.providers import stream_provider

    with translation.override("en"), pytest.raises(ApplicationError) as err:
        stream_provider("youtube")

    assert err.value.message == "Unknown stream provider “youtube”; valid values: manual, mux, ivs."
    assert err.value.fields == {"provider": ["Valid values: manual, mux, ivs"]}

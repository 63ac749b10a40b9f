"""No untranslated words reach a person through an ApplicationError.

``ApplicationError.message`` and every message in its ``fields`` are shown to the person
(the API's ``{"error": {...}}``, a page's notice, a console's field), so each must come
from gettext in the reader's language. This test reads the source (``ast``) and fails on
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

# The modules cleaned so far; each other module joins once its messages are translated (not
# allow-listed). Raw messages this check still finds elsewhere: apps/accounts/services.py
# (region preferences, sign-up, merchants, staff roles), apps/catalog/api.py (query
# parameters, unknown product/category), apps/live/admin.py (unknown console action),
# apps/live/providers/__init__.py (unknown stream provider), apps/money/types.py (MoneyError
# fields). apps/orders/services.py's ``expected_lines`` ("variant:quantity") is data for the
# client, not words: it needs an ALLOWED entry when orders joins. Beyond this check's reach:
# serializers.ValidationError(f"...") in apps/catalog/api.py, and the field dicts
# apps/catalog/services.py returns for its callers to raise.
CHECKED = (
    "apps/payments/services.py",
    "apps/payments/providers/base.py",
    "apps/live/services.py",
    "apps/catalog/merchant_api.py",
    "apps/compliance/*.py",
)

# (module, text) -> why: a message only operators or logs ever read. Keep each reason short.
ALLOWED: dict[tuple[str, str], str] = {}


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


def offences(source: str, rel: str) -> list[Offence]:
    """Raw person-facing messages in ``source``, the text of module ``rel`` (relative to the repo)."""
    tree = ast.parse(source, filename=rel)
    out: list[Offence] = []

    def flag(node: ast.AST, text: str, kind: str) -> None:
        if (rel, text) not in ALLOWED:
            out.append(Offence(rel, node.lineno, kind, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "ApplicationError":
                message = node.args[0] if node.args else None
                for kw in node.keywords:
                    if kw.arg == "message":
                        message = kw.value
                if (text := _raw(message)) is not None:
                    flag(message, text, "ApplicationError message")
            for kw in node.keywords:
                if kw.arg == "fields":
                    for elt, text in _fields_messages(kw.value):
                        flag(elt, text, "fields message")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(_is_fields_target(t) for t in targets):
                for elt, text in _list_messages(node.value):
                    flag(elt, text, "fields message")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"append", "extend"}
            and _is_fields_target(node.func.value)
        ):
            for arg in node.args:
                if (text := _raw(arg)) is not None:
                    flag(arg, text, "fields message")
                for elt, t in _list_messages(arg):
                    flag(elt, t, "fields message")
    return out


def _checked_modules() -> list[Path]:
    return sorted({p for pattern in CHECKED for p in ROOT.glob(pattern)})


def test_the_checked_modules_exist() -> None:
    # A renamed module must not slip out of the check unnoticed.
    for pattern in CHECKED:
        assert list(ROOT.glob(pattern)), pattern


@pytest.mark.parametrize("path", _checked_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_messages_for_people_are_translated(path: Path) -> None:
    found = offences(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert not found, "Wrap these in gettext (_ / pgettext / ngettext):\n" + "\n".join(map(str, found))


def test_every_allowed_message_is_still_there() -> None:
    # An allow-list entry whose message is gone would silently allow its next use.
    for rel, text in ALLOWED:
        assert text in (ROOT / rel).read_text(encoding="utf-8"), (rel, text)


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
"""


def test_the_check_finds_raw_messages() -> None:
    # The guard itself: every raw message in SAMPLE is found, none of the translated ones.
    found = [(o.line, o.kind) for o in offences(SAMPLE, "apps/sample.py")]
    assert sorted(found) == [
        (4, "ApplicationError message"),
        (6, "ApplicationError message"),
        (6, "fields message"),
        (9, "fields message"),
        (13, "ApplicationError message"),
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

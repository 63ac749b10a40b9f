"""A label before its value ("Total: 49.00") ends with the colon its language writes.

The colon is part of the translated label, not glued on by the template: French sets it off
with a no-break space ("Total : 49,00 €", never broken before the colon), Chinese writes the
full-width colon U+FF1A ("合计" then U+FF1A, then "49.00").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.utils import translation

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
FULLWIDTH_COLON = "\uff1a"
COLONS = {"fr": "\u00a0:", "zh_Hans": FULLWIDTH_COLON}


def _catalogues() -> list[Path]:
    return sorted(p for p in LOCALE_DIR.glob("*/LC_MESSAGES/django.po") if p.parts[-3] != "en")


@pytest.mark.parametrize("catalogue", _catalogues(), ids=lambda p: p.parts[-3])
def test_every_label_ends_with_its_languages_colon(catalogue):
    colon = COLONS.get(catalogue.parts[-3], ":")
    with catalogue.open("rb") as po:
        labels = [m for m in read_po(po) if isinstance(m.id, str) and m.id.endswith(":") and m.string]
    assert labels
    wrong = [(m.id, m.string) for m in labels if not m.string.endswith(colon) or m.string.endswith(" " + colon)]
    assert not wrong


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "Total:"),
        ("fr", "Total\u00a0:"),
        ("zh-hans", "合计" + FULLWIDTH_COLON),
        ("de", "Gesamt:"),
        ("ar", "الإجمالي:"),
    ],
)
def test_a_shopper_reads_the_label_with_their_languages_colon(language, shown):
    with translation.override(language):
        assert translation.gettext("Total:") == shown

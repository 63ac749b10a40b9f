"""Chat moderation: the region's word lists mask or reject before anything is broadcast."""

from __future__ import annotations

import pytest

from apps.compliance.moderation import (
    CLEAN,
    MASKED,
    REJECTED,
    Moderator,
    WordListError,
    moderate_chat,
    read_word_list,
)
from regions import all_regions


@pytest.mark.parametrize("region", all_regions(), ids=lambda r: r.code)
def test_every_region_names_lists_that_exist_and_hold_entries(region):
    for name in region.sensitive_word_lists:
        assert read_word_list(name), name


def test_unknown_list_is_an_error_naming_the_known_ones():
    with pytest.raises(WordListError, match="common-en"):
        read_word_list("common-xx")
    with pytest.raises(WordListError):
        read_word_list("../settings")


@pytest.mark.parametrize(
    ("text", "verdict", "shown"),
    [
        ("what a lovely scarf", CLEAN, "what a lovely scarf"),
        ("you IDIOT!", MASKED, "you *****!"),
        ("\uff49\uff44\uff49\uff4f\uff54", MASKED, "*****"),  # full-width "idiot"
        ("id\u200biot", MASKED, "******"),  # a zero-width space does not hide a word
        ("first class seats, classic assortment", CLEAN, "first class seats, classic assortment"),
        ("idiots", CLEAN, "idiots"),  # whole words only in spaced scripts
        ("please PAY  outside the app", REJECTED, "please PAY  outside the app"),
    ],
)
def test_english(text, verdict, shown):
    result = moderate_chat(list_names=("common-en",), text=text)
    assert result.verdict == verdict
    assert result.text == shown


def test_arabic_forms_are_normalised_and_masked_whole():
    lists = ("common-ar", "common-en")
    assert moderate_chat(list_names=lists, text="يا غبيّ!").text == "يا ****!"  # shadda masked with the word
    assert moderate_chat(list_names=lists, text="يا غـبـي").verdict == MASKED  # tatweel
    assert moderate_chat(list_names=lists, text="احمق").verdict == MASKED  # bare alef for أحمق
    assert moderate_chat(list_names=lists, text="أرسل كلمة المرور الآن").verdict == REJECTED
    mixed = moderate_chat(list_names=lists, text="هذا الوشاح جميل، love it")
    assert mixed.verdict == CLEAN


def test_scripts_without_spaces_match_inside_text_but_leave_ordinary_words():
    assert moderate_chat(list_names=("common-th",), text="ไปบ้านนะ").verdict == CLEAN  # บ้าน, house
    assert moderate_chat(list_names=("common-th",), text="ไปบ้านไอ้โง่").text == "ไปบ้าน******"
    assert moderate_chat(list_names=("common-zh-hans",), text="你是笨蛋吗").text == "你是**吗"


def test_an_entry_marked_reject_wins_over_a_masking_duplicate():
    moderator = Moderator([("scam", False), ("scam", True)])
    assert moderator.check("a scam").verdict == REJECTED
    assert Moderator([]).check("anything").verdict == CLEAN

"""Chat moderation per danmaku: listed words alone, and words plus the link scanner.

Every message a viewer posts goes through ``moderate_chat`` before it is broadcast, so its cost
is paid once per message per room. The mix below is ordinary chat in the ap-southeast languages
(most of it holds no dot at all and is settled by one search), numbers and abbreviations that look
like domains at first sight, and one link.

Run: ``python -m tests.bench chat_moderation`` (``-- --rounds 50000``). Prints µs per message.
"""

from __future__ import annotations

import argparse
import os
import timeit

MESSAGES = (
    "so soft! how much for the red one?",
    "3.5 kg for RM12.50, e.g. by 19.00",
    "I love it.so much, ship to KL?",
    "ราคาเท่าไหร่คะ ส่งฟรีไหม",
    "这个多少钱。我们要两个",
    "cheaper at sh0p-deals.shop now!!",
    "lol " * 20,
)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench chat_moderation")
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livemall.settings")
    import django

    django.setup()
    from apps.compliance.moderation import link_scanner, moderate_chat
    from regions import load_region

    lists = load_region("ap-southeast").sensitive_word_lists
    link_scanner()
    for label, links_allowed in (("words only (staff)", True), ("words and links (viewers)", False)):
        moderate_chat(list_names=lists, text="warm up", links_allowed=links_allowed)
        seconds = timeit.timeit(
            lambda allowed=links_allowed: [
                moderate_chat(list_names=lists, text=text, links_allowed=allowed) for text in MESSAGES
            ],
            number=args.rounds,
        )
        print(f"{label:28} {seconds / (args.rounds * len(MESSAGES)) * 1e6:6.2f} µs per message")

"""Links in a live room's chat: a viewer's is refused with its reason, the room's staff may post theirs."""

from __future__ import annotations

import pytest

from apps.live.models import Danmaku
from tests.live.conftest import (
    Socket,
    danmaku_texts,
    disconnected,
    joined,
    room_path,
    run,
    sender_and_viewer,
    session_key_for,
)

LINK_REFUSED = "Links and e-mail addresses cannot be posted in this chat."


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://www.livemall.example"
    settings.LANGUAGE_CODE = "en"


def test_a_viewers_link_is_refused_with_its_reason_and_kept_for_review(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)
        await sender.send({"type": "danmaku", "text": "cheaper at sh0p-deals.shop"})
        error = await sender.event("error")
        assert (error["code"], error["reason"], error["message"]) == ("rejected", "link", LINK_REFUSED)
        await sender.send({"type": "danmaku", "text": "mail deals@gmail"})
        assert (await sender.event("error", reason="link"))["message"] == LINK_REFUSED
        await sender.send({"type": "danmaku", "text": "see livemall.example/p/scarf"})  # the shop's own
        await viewer.event("danmaku", text="see livemall.example/p/scarf")
        assert not {"cheaper at sh0p-deals.shop", "mail deals@gmail"} & set(danmaku_texts(viewer.seen))
        await disconnected(sender, viewer)

    run(scenario)

    refused = Danmaku.objects.filter(room=room, verdict=Danmaku.Verdict.REJECTED).order_by("id")
    assert [(d.text, d.original_text, d.matched_words) for d in refused] == [
        ("", "cheaper at sh0p-deals.shop", ["sh0p-deals.shop"]),
        ("", "mail deals@gmail", ["deals@gmail"]),
    ]


def test_a_listed_word_is_still_refused_with_the_general_reason(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender = Socket(room_path(room), session_key=key)
        assert await sender.connect()
        await sender.event("snapshot")
        await sender.send({"type": "danmaku", "text": "pay outside the app and save"})
        error = await sender.event("error")
        assert (error["code"], error["message"]) == ("rejected", "This message cannot be posted here.")
        assert "reason" not in error
        await sender.disconnect()

    run(scenario)


def test_the_rooms_staff_and_operators_may_post_links_other_shops_may_not(room, staff_a, merchant_b, make_user):
    operator = make_user(email="operator@livemall.test")
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    other_shop = merchant_b.memberships.get().user
    keys = {who: session_key_for(user) for who, user in (("staff", staff_a), ("op", operator), ("other", other_shop))}

    async def scenario():
        viewer = Socket(room_path(room))
        posters = {who: Socket(room_path(room), session_key=key) for who, key in keys.items()}
        await joined(viewer, *posters.values())
        await posters["staff"].send({"type": "danmaku", "text": "new colours at shop-a.example.com/scarf"})
        await viewer.event("danmaku", text="new colours at shop-a.example.com/scarf")
        await posters["op"].send({"type": "danmaku", "text": "rules: https://help.example.org/chat"})
        await viewer.event("danmaku", text="rules: https://help.example.org/chat")
        await posters["other"].send({"type": "danmaku", "text": "better at shop-b.example.com"})
        assert (await posters["other"].event("error"))["reason"] == "link"
        # Staff words are still moderated.
        await posters["staff"].send({"type": "danmaku", "text": "you idiot, see shop-a.example.com"})
        await viewer.event("danmaku", text="you *****, see shop-a.example.com")
        assert "better at shop-b.example.com" not in danmaku_texts(viewer.seen)
        await disconnected(viewer, *posters.values())

    run(scenario)

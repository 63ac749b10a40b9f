"""The poster alone hears that their danmaku got through (their page then clears an old error)."""

from __future__ import annotations

from tests.live.conftest import disconnected, run, sender_and_viewer


def test_an_accepted_message_is_acknowledged_to_its_poster_only(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)
        await sender.send({"type": "danmaku", "text": "pay outside the app and save"})
        assert (await sender.event("error"))["code"] == "rejected"
        assert not [e for e in sender.seen if e["type"] == "posted"]
        await sender.send({"type": "danmaku", "text": "ok then"})
        posted = await sender.event("posted")
        shown = await viewer.event("danmaku", text="ok then")
        assert posted["id"] == shown["id"]
        await viewer.quiet()
        assert not [e for e in viewer.seen if e["type"] == "posted"]
        await disconnected(sender, viewer)

    run(scenario)

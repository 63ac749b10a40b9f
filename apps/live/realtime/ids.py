"""Message ids: milliseconds since 2026-01-01 in the high bits, the process's node number, a sequence.

Assigned by the process that accepts a message, before it is broadcast, so that the
event viewers see and the row written later in a batch carry the same id; ordering by
id orders by time. The node number (0 to 1023) comes from a Redis counter, so processes
of one region never share it; the embedded default runs one process.
"""

from __future__ import annotations

import time

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    def __init__(self, node: int) -> None:
        self.node = node & MAX_NODE
        self._last_ms = 0
        self._sequence = 0

    def next_id(self) -> int:
        now = int(time.time() * 1000) - EPOCH_MS
        if now <= self._last_ms:
            # Same millisecond (or the clock stepped back): count on; borrow the next
            # millisecond when the sequence runs out, so ids never repeat or go backwards.
            self._sequence += 1
            if self._sequence > MAX_SEQUENCE:
                self._last_ms += 1
                self._sequence = 0
        else:
            self._last_ms = now
            self._sequence = 0
        return message_id(at_ms=self._last_ms + EPOCH_MS, node=self.node, sequence=self._sequence)


def message_id(*, at_ms: int, node: int, sequence: int = 0) -> int:
    """The id of a message posted at ``at_ms`` (Unix milliseconds); for messages replayed with their own time."""
    return ((at_ms - EPOCH_MS) << (NODE_BITS + SEQUENCE_BITS)) | ((node & MAX_NODE) << SEQUENCE_BITS) | sequence


def id_time_ms(message_id: int) -> int:
    return (message_id >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS

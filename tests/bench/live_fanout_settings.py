"""Settings of the live fan-out benchmark's servers: the usual settings, chat limits raised.

``bench_live_fanout`` has a few signed-in senders post up to 50 danmaku/s in total; the
production limits (1 message/s per user, burst 3; 10 frames/s per socket, burst 20) would
refuse most of them. Everything else is ``livemall.settings`` as read from the environment.
"""

from livemall.settings import *  # noqa: F403

LIVE_DANMAKU_RATE_PER_SECOND = 1000.0
LIVE_DANMAKU_BURST = 1000
LIVE_CLIENT_FRAMES_PER_SECOND = 1000.0
LIVE_CLIENT_FRAMES_BURST = 1000

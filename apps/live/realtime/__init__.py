"""The live room's real-time machinery: one bus per region, one hub per room per process.

``store``   the room bus and counters, on Redis or (embedded default) in memory
``hub``     per process and room: subscribes once, coalesces events into frames, fans out
``writer``  chat messages to PostgreSQL in batches
``ids``     message ids assigned before broadcast
"""

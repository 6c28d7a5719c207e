"""The bridge: everything between a received frame and a delivered record.

sources/ (the gateway board on serial, Semtech UDP) -> frame.py (the one frame
type they produce) -> pipeline.py (check, deduplicate, open, decode, derive) ->
store.py (records, outbox, counters; registry.py holds the nodes) ->
delivery.py (one worker per sink) -> sinks/ (MQTT, JSON Lines, webhook).
wiring.py builds and runs it from config.py's settings; health.py tells
`akker gateway status` how the store and sinks are doing.
"""

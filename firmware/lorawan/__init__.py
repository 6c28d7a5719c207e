"""LoRaWAN 1.0.4 class A on the node: the session, OTAA join, the uplink with its receive windows, downlinks.

Only session.py and uplink.py load on every wake-up; join.py loads while the
node is not joined, downlink.py (and the MAC and command code it uses) only
when a frame was heard: on a board's heap every module costs its bytecode.
"""

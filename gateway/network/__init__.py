"""A small LoRaWAN 1.0.x class A network server for the farm's own gateways (issue 14).

join_server.py answers JoinRequests; downlink scheduling, MAC commands and ADR
follow. Where a farm uses The Things Stack or ChirpStack, those do this job.
"""

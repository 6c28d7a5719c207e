"""The farm dashboard: a read-only web view of the bridge's store (docs/dashboard.md).

- api.py: everything the pages show, as JSON-able dicts, from gateway/farm/.
- server.py: DashboardServer, stdlib HTTP in a thread: the JSON API and static/.
- auth.py: where it may listen, and the password that guards it beyond this computer.
"""

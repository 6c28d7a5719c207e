"""The farm dashboard: a read-only web view of the bridge's store (docs/dashboard.md).

- api.py: everything the pages show, as JSON-able dicts, from gateway/farm/.
- app.py: the routes: a method and a URL to a Response (pages, static/, the JSON API); responses.py: Response.
- http_server.py: stdlib HTTP with a bounded thread per connection, a deadline per request, a stop.
- server.py: DashboardServer, the two put together behind the password, in a thread; clock.py: its clocks.
- auth.py: where it may listen, and the password that guards it beyond this computer.
"""

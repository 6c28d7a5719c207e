"""The farm dashboard: a read-only web view of the bridge's store (docs/dashboard.md).

- queries.py: the few read-only SQL queries the dashboard runs on the store.
- series.py: pure functions from stored records to timed samples, daily catches, battery trend.
- alerts.py: the alert config (TOML) and a pure evaluate(db, config, now).
- api.py: everything the pages show, as JSON-able dicts.
- server.py: DashboardServer, stdlib HTTP in a thread: the JSON API and static/.
"""

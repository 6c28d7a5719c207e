"""What the farmer's data means: queries on the store, series, catches per day, alert rules.

The dashboard reads from here; alerts_mqtt.py publishes the alerts beside the bridge.
"""

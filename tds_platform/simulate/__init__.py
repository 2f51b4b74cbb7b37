"""`tds simulate`: a deterministic fleet of simulated devices publishing telemetry over MQTT.

Devices only talk to the broker, never to the database; the resend protocol they answer is
documented in `tds_platform.simulate.commands`.
"""

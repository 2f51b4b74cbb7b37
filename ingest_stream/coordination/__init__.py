"""What several writer instances agree on through the database: client ids, group membership, the lease.

Database rows only, never an MQTT connection: the receiver acts on them (receiver.takeover drains a
silent member's session; the service leads while it holds the lease), and the worker only fences its
commits with the lease's token.
"""

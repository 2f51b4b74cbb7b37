"""How several writer instances share the work: group membership with takeover, or a lease."""

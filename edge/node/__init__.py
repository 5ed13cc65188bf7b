"""A node's shared cache (DESIGN, "Several workers on one machine").

- messages.py: every message between the supervisor and its workers, and the one table that
  encodes and decodes them; channel.py carries them over a socketpair;
- hub.py: the supervisor's side, deciding without I/O; relay.py does what it decides;
- link.py: a worker's side, the cache's `FillCoordinator`; claims.py its claim loop,
  takeover.py how a follower finishes a body another copy began; copies.py stored objects
  as messages.
The processes themselves are edge/supervisor.py and edge/worker.py."""

"""A node's shared cache (DESIGN, "Several workers on one machine"): messages.py frames the
messages between a supervisor and its workers, hub.py is the supervisor's side of the shared
cache, link.py a worker's. The processes themselves are edge/supervisor.py and edge/worker.py."""

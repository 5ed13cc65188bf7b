"""A node: a supervisor and its workers on one port, behaving as one cache (DESIGN, "Several
workers on one machine"). wire.py frames their messages, hub.py is the supervisor's side of the
shared cache, link.py a worker's, supervisor.py and worker.py the two processes."""

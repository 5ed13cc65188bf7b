"""`python -m loadtest city`: a small city (origin, shields, edges, viewer hosts) in Linux network
namespaces on one machine, with shaped links, real processes and a report."""

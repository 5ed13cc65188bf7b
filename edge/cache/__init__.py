"""Keys, freshness, the two tiers, single flight, fetching and prefetch, and the protocol a
node coordinates fills through (coordinator.py). Imports neither edge.http, edge.serve nor
edge.node."""

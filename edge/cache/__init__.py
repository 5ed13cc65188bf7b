"""Keys, freshness, the two tiers, single flight, fetching and prefetch. Imports neither
edge.http, edge.serve nor edge.node."""

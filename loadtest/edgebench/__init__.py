"""Edge benchmarks: hot segments, hot playlists and cold misses against same-run baselines."""

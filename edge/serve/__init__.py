"""The content handler, its answers, admin, signed URLs and playlist token rewriting."""

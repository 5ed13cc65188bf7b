"""Viewer models: pure state machines that say what to fetch next and digest what came back."""

"""Qashyq server."""

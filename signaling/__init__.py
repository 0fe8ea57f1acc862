"""Qashyq signaling."""

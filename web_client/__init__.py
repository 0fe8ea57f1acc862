"""Qashyq web_client."""

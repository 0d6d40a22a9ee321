"""Receivers (one module each): alertmanager, webhook, email, log."""

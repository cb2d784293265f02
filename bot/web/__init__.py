"""Encore's small HTTP server: provider webhooks and the health check. Nothing here imports discord."""

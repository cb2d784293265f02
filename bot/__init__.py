"""Encore: a self-hosted Discord bot that extends songs with Suno."""

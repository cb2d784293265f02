"""Thin discord.py cogs: commands, autocomplete and listeners that call the task service."""

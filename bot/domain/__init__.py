"""Encore's domain: tasks, songs, requests, server settings, quota rules and the errors a member is shown.

Pure data and pure rules: nothing here does I/O or knows about Discord, a provider or a database.
"""

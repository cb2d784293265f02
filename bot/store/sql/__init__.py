"""The store's SQL, written once for every backend over a small connector and a few hooks (`backend`)."""

from __future__ import annotations

from bot.store.sql.community import CommunityQueries
from bot.store.sql.listening import ListenQueries
from bot.store.sql.meta import MetaQueries
from bot.store.sql.pages import PageQueries
from bot.store.sql.songs import SongQueries
from bot.store.sql.tasks import TaskQueries
from bot.store.sql.wholesongs import WholeSongQueries


class SqlStore(TaskQueries, SongQueries, CommunityQueries, WholeSongQueries, PageQueries, MetaQueries, ListenQueries):
    """The `Store` protocol in SQL; a backend subclasses it with its connector and its hooks."""

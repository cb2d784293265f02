"""Song pages: a page on the web for every song and whole song Encore posts, and a gallery per server."""

from bot.web.pages.site import SongPages

__all__ = ["SongPages"]

"""A fake Discord voice server (gateway v8 over TLS, UDP discovery, RTP decrypted) and what tests check with it.

The fake Discord (`tests.fakes.discord`) answers the bot's voice state update with VOICE_STATE_UPDATE and
VOICE_SERVER_UPDATE pointing here when given one (`FakeDiscord(voice=...)`).
"""

from tests.fakes.voice.audio import Played, played_songs
from tests.fakes.voice.server import OPUS_SILENCE, FakeVoiceServer, ReceivedPacket, VoiceSession
from tests.fakes.voice.tls import TestCertificates, make_certificates

__all__ = [
    "OPUS_SILENCE",
    "FakeVoiceServer",
    "Played",
    "ReceivedPacket",
    "TestCertificates",
    "VoiceSession",
    "make_certificates",
    "played_songs",
]

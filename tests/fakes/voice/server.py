"""The fake voice server: Discord's voice gateway v8 over TLS, UDP IP discovery, and RTP received and decrypted.

As strict as Discord where discord.py could get it wrong: IDENTIFY must carry the token, session and server the
fake Discord handed out (else close 4004), a client that cannot speak DAVE is closed with 4017, only
`aead_xchacha20_poly1305_rtpsize` is offered, a packet before SPEAKING or that does not decrypt is counted as
refused, and a reused nonce too. Received packets are recorded with their arrival time, taken in a thread of
their own and stamped by the kernel (SO_TIMESTAMPNS), so neither the test's event loop nor a late thread
shifts them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import nacl.bindings
import nacl.exceptions
from aiohttp import WSMsgType, web

from tests.fakes.voice.tls import TestCertificates

T = TypeVar("T")
MODE = "aead_xchacha20_poly1305_rtpsize"
HEARTBEAT_INTERVAL_MS = 13_750
DISCOVERY_LENGTH = 74
RTP_HEADER = struct.Struct(">BBHII")
OPUS_SILENCE = b"\xf8\xff\xfe"
"""The frame discord.py sends five times when a song stops or pauses."""


@dataclass(frozen=True)
class ReceivedPacket:
    """One RTP packet as the server got it: arrival time (perf_counter), header fields, the decrypted Opus."""

    at: float
    sequence: int
    timestamp: int
    opus: bytes


@dataclass(eq=False)
class VoiceSession:
    """One bot connection: what Discord handed out for it, then what the client sent."""

    guild_id: int
    user_id: int
    session_id: str
    token: str
    channel_id: int
    ssrc: int = 0
    key: bytes | None = None
    dave_version: int | None = None  # the client's max_dave_protocol_version
    connected: bool = False  # the websocket is open
    described: bool = False  # SESSION_DESCRIPTION sent
    speaking: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, speaking flags)
    packets: list[ReceivedPacket] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # packets Discord would drop, and why
    close_codes: list[int] = field(default_factory=list)
    _nonces: set[int] = field(default_factory=set, repr=False)

    @property
    def audio(self) -> list[ReceivedPacket]:
        """The packets that carry sound (not the silence frames sent at each stop)."""
        return [packet for packet in self.packets if packet.opus != OPUS_SILENCE]


_TIMESPEC = struct.Struct("@ll")
SO_TIMESTAMPNS: int = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python names it from 3.12 on


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """When the kernel received the datagram, on `time.perf_counter()`'s clock (now, if it gave no stamp)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = _TIMESPEC.unpack(data[: _TIMESPEC.size])
            return float(seconds + nanoseconds / 1e9 - (time.time() - time.perf_counter()))
    return time.perf_counter()


class FakeVoiceServer:
    """A voice server on 127.0.0.1: a TLS websocket on one port, UDP on another."""

    def __init__(self, certificates: TestCertificates) -> None:
        self._certificates = certificates
        self.sessions: list[VoiceSession] = []
        self.unexpected: list[str] = []  # frames or packets the server could not place
        self._by_ssrc: dict[int, VoiceSession] = {}
        self._runner: web.AppRunner | None = None
        self._udp: socket.socket | None = None
        self._udp_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        # Set by the fake Discord: whether Discord lets this user speak in the guild (not a suppressed stage listener).
        self.may_speak: Callable[[int, int], bool] = lambda guild_id, user_id: True
        self.port = 0
        self.udp_port = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._certificates.server_context())
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.05)
        # The kernel stamps each datagram as it arrives, so a late receiving thread shifts no arrival time, and
        # a deep buffer keeps a busy machine from dropping packets before this thread reads them.
        self._udp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
        self.udp_port = self._udp.getsockname()[1]
        self._udp_thread = threading.Thread(target=self._receive, name="fake-voice-udp", daemon=True)
        self._udp_thread.start()

    async def close(self) -> None:
        self._stop.set()
        if self._udp_thread is not None:
            await asyncio.to_thread(self._udp_thread.join)
        if self._udp is not None:
            self._udp.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def endpoint(self) -> str:
        """What VOICE_SERVER_UPDATE carries: host and port, no scheme."""
        return f"127.0.0.1:{self.port}"

    def expect(self, guild_id: int, user_id: int, session_id: str, channel_id: int) -> str:
        """A new voice token for a join the fake Discord accepted (what VOICE_SERVER_UPDATE carries)."""
        token = secrets.token_hex(8)
        self.sessions.append(VoiceSession(guild_id, user_id, session_id, token, channel_id))
        self._wake()
        return token

    def sessions_of(self, guild_id: int) -> list[VoiceSession]:
        return [session for session in self.sessions if session.guild_id == guild_id and session.ssrc]

    def session_of(self, guild_id: int) -> VoiceSession:
        """The guild's latest connected session (LookupError when none)."""
        sessions = self.sessions_of(guild_id)
        if not sessions:
            raise LookupError(f"no voice session for guild {guild_id}")
        return sessions[-1]

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
        """`predicate()` once truthy, re-checked whenever a frame or packet arrives."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    self._changed.clear()
                    await self._changed.wait()
                return value
        except TimeoutError:
            what = what or str(predicate)
            raise TimeoutError(f"FakeVoiceServer: timed out after {timeout:g}s waiting for {what}") from None

    def _wake(self) -> None:
        self._changed.set()

    def _wake_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._changed.set)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session: VoiceSession | None = None
        seq = 0

        async def send(op: int, data: Any) -> None:
            nonlocal seq
            seq += 1
            await ws.send_str(json.dumps({"op": op, "d": data, "seq": seq}))

        if request.query.get("v") != "8":
            await ws.close(code=4012, message=b"Unknown protocol.")
            return ws
        await ws.send_str(json.dumps({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    self.unexpected.append(f"websocket frame {frame.type}")
                    continue
                message = json.loads(frame.data)
                op, data = message.get("op"), message.get("d") or {}
                if op == 3:
                    await ws.send_str(json.dumps({"op": 6, "d": {"t": data.get("t")}}))
                elif op == 0:
                    session = self._identify(data)
                    if session is None:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    if not session.dave_version:
                        await ws.close(code=4017, message=b"E2EE/DAVE protocol required.")
                        break
                    session.connected = True
                    session.ssrc = secrets.randbelow(2**31) + 1
                    self._by_ssrc[session.ssrc] = session
                    ready = {"ssrc": session.ssrc, "ip": "127.0.0.1", "port": self.udp_port, "modes": [MODE]}
                    await send(2, ready)
                elif op == 1 and session is not None:
                    mode = (data.get("data") or {}).get("mode")
                    if data.get("protocol") != "udp" or mode != MODE:
                        await ws.close(code=4016, message=b"Unknown encryption mode.")
                        break
                    session.key = secrets.token_bytes(32)
                    session.described = True
                    description = {"mode": MODE, "secret_key": list(session.key), "dave_protocol_version": 0}
                    await send(4, description)
                elif op == 5 and session is not None:
                    if data.get("ssrc") != session.ssrc:
                        self.unexpected.append(f"SPEAKING with ssrc {data.get('ssrc')}")
                    session.speaking.append((time.perf_counter(), int(data.get("speaking", 0))))
                elif session is None:
                    await ws.close(code=4003, message=b"Not authenticated.")
                    break
                else:
                    self.unexpected.append(f"op {op}")
                self._wake()
        finally:
            if session is not None:
                session.connected = False
                session.close_codes.append(ws.close_code or 0)
            self._wake()
        return ws

    def _identify(self, data: dict[str, Any]) -> VoiceSession | None:
        """The session Discord handed out that this IDENTIFY names, exactly (else None: 4004)."""
        for session in reversed(self.sessions):
            if (
                data.get("token") == session.token
                and data.get("session_id") == session.session_id
                and str(data.get("server_id")) == str(session.guild_id)
                and str(data.get("user_id")) == str(session.user_id)
                and not session.ssrc
            ):
                session.dave_version = int(data.get("max_dave_protocol_version") or 0)
                return session
        return None

    def _receive(self) -> None:
        """The UDP thread: answer IP discovery, record and decrypt RTP."""
        assert self._udp is not None
        while not self._stop.is_set():
            try:
                packet, ancillary, _, address = self._udp.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
            except TimeoutError:
                continue
            except OSError:
                return
            at = _arrival(ancillary)
            if len(packet) == DISCOVERY_LENGTH and packet[:2] == b"\x00\x01":
                self._discover(packet, address)
            else:
                self._rtp(packet, at)
            self._wake_threadsafe()

    def _discover(self, packet: bytes, address: tuple[str, int]) -> None:
        (ssrc,) = struct.unpack_from(">I", packet, 4)
        if ssrc not in self._by_ssrc:
            self.unexpected.append(f"IP discovery for unknown ssrc {ssrc}")
            return
        answer = bytearray(DISCOVERY_LENGTH)
        struct.pack_into(">HHI", answer, 0, 2, 70, ssrc)
        host = address[0].encode("ascii")
        answer[8 : 8 + len(host)] = host
        struct.pack_into(">H", answer, DISCOVERY_LENGTH - 2, address[1])
        assert self._udp is not None
        self._udp.sendto(bytes(answer), address)

    def _rtp(self, packet: bytes, at: float) -> None:
        if len(packet) < RTP_HEADER.size + 16 + 4:
            self.unexpected.append(f"a {len(packet)}-byte UDP packet")
            return
        first, payload_type, sequence, timestamp, ssrc = RTP_HEADER.unpack_from(packet)
        session = self._by_ssrc.get(ssrc)
        if session is None:
            self.unexpected.append(f"RTP for unknown ssrc {ssrc}")
            return
        if first != 0x80 or payload_type != 0x78:
            session.refused.append(f"header {first:#x} {payload_type:#x}")
            return
        if session.key is None or not session.speaking:  # the first SPEAKING (even 0) tells Discord the SSRC
            session.refused.append("audio before SPEAKING")
            return
        if not self.may_speak(session.guild_id, session.user_id):
            session.refused.append("audio from a suppressed stage listener")
            return
        nonce = packet[-4:]
        (counter,) = struct.unpack(">I", nonce)
        if counter in session._nonces:
            session.refused.append(f"nonce {counter} reused")
            return
        session._nonces.add(counter)
        try:
            opus = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                packet[RTP_HEADER.size : -4], packet[: RTP_HEADER.size], nonce + bytes(20), session.key
            )
        except nacl.exceptions.CryptoError:
            session.refused.append("does not decrypt")
            return
        session.packets.append(ReceivedPacket(at, sequence, timestamp, opus))

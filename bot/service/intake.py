"""Intake: turn a command, a button or a reaction into a queued task, or a refusal that says why.

Everything here runs before the provider is asked for anything, so a refused request never costs a credit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from bot.domain.capabilities import ProviderCapabilities
from bot.domain.errors import DuplicateRequest, NotAccepting, QuotaRefused, RerollRefused, UploadFailed
from bot.domain.models import Requester, TaskRequest, TaskStatus
from bot.domain.quota import QuotaExceeded, QuotaPolicy
from bot.domain.records import TaskRecord
from bot.domain.validation import (
    ExtendOptions,
    GenerateOptions,
    InputError,
    check_audio_upload,
    format_seconds,
    parse_song_ref,
    parse_timestamp,
    validate_extend,
    validate_generate,
    validate_upload_extend,
)
from bot.domain.wholesong import WholeSongTimeline, WholeSongUnavailable, chain_parts, locate, timeline
from bot.providers import Provider, ProviderAuthError, ProviderError
from bot.service._context import BAD_KEY_MESSAGE, StageContext, task_context
from bot.service.ports import Accepted
from bot.service.result_media import ResultMedia

log = logging.getLogger("bot.service")

Validated = TypeVar("Validated")

ALL_DOWN_NOTE = (
    "⏳ Every Suno provider of this server is unreachable right now: your request waits in the queue and is sent "
    "as soon as one answers. Nothing has been spent."
)


def own_provider_down_note(label: str, retry_in: float) -> str:
    return (
        f"⏳ {label}, which made this song, is not answering right now: your extend waits in the queue and is sent "
        f"once it is back (next try in about {max(1, round(retry_in))} s). Nothing has been spent."
    )


class Intake:
    """Validates and queues requests under the quotas and the server's settings."""

    def __init__(
        self,
        context: StageContext,
        *,
        quota: QuotaPolicy | None,
        allowed_guild_ids: frozenset[int],
        queued: Callable[[], None],
        media: ResultMedia | None = None,
    ) -> None:
        self._life = context
        self._media = media  # measures a member's own track; without it, uploads are refused
        self.quota = quota
        self.allowed_guild_ids = allowed_guild_ids
        self._queued = queued
        self.stopping = False

    async def request_extend(self, requester: Requester, options: ExtendOptions) -> Accepted:
        """Validate an `/extend` and queue it; a `Refusal` says what to fix, and nothing is spent."""
        self._check_open(requester.guild_id)
        store = self._life.store
        known = await store.get_song(parse_song_ref(options.song)) if options.song else None
        if known is None or known.provider not in self._life.providers:
            # A song Encore never made (a suno.com link), or made by a provider this server no longer uses: the first
            # healthy provider that takes it.
            provider, request, note = self._route(lambda caps: validate_extend(caps, options, known))
            return await self._accepted(await self._create(requester, request, provider, bound=False), note)
        # A song Encore made: its extends run on the provider that made it, with its model by default.
        provider = self._life.providers[known.provider]
        made_by = await store.get_task(known.task_id) if known.task_id and known.model is None else None
        model = known.model or (made_by.request.model if made_by else None)
        request = validate_extend(provider.capabilities, options, known, model)
        task = await self._create(requester, request, provider)
        return await self._accepted(task, self._waiting_note(provider))

    async def request_whole_extend(self, requester: Requester, options: ExtendOptions) -> Accepted:
        """An extend from the Extend button of a whole song: `options.at` is on the whole song's timeline.

        Encore finds the clip that plays at that point and the point within it (in the first part it is the
        original, a new branch) and extends that clip, saying so; a point past the song's end is refused.
        """
        leaf = parse_song_ref(options.song or "")
        if not (options.at or "").strip():
            return await self.request_extend(requester, replace(options, song=leaf))
        at = parse_timestamp(options.at or "")
        store = self._life.store
        whole = await store.get_whole_song(leaf)
        if whole is not None and whole.timeline_json:
            spans = WholeSongTimeline.from_json(whole.timeline_json).spans
        else:
            chain = await store.song_chain(leaf)
            try:
                spans = timeline(chain_parts(chain), chain[-1].duration if chain else None)
            except WholeSongUnavailable as error:
                raise InputError(str(error)) from None
        clip_id, into = locate(spans, at)
        accepted = await self.request_extend(requester, replace(options, song=clip_id, at=f"{into:.3f}"))
        branch = " (a new branch from that clip)" if clip_id != leaf else ""
        note = (
            f"{format_seconds(at)} on the whole song is {format_seconds(into)} into part "
            f"{[span.clip_id for span in spans].index(clip_id) + 1}, clip {clip_id[:8]}: Encore extends that "
            f"clip from there{branch}."
        )
        return replace(accepted, note=f"{accepted.note}\n{note}" if accepted.note else note)

    async def capabilities(self, song: str | None = None) -> ProviderCapabilities:
        """What the provider that would run a request accepts (its models, newest first, for the model option's
        choices, and their limits): for an extend of `song` made by Encore, that song's provider; else the first
        healthy one (for a song Encore never made, one that can extend any Suno clip)."""
        if song:
            try:
                known = await self._life.store.get_song(parse_song_ref(song))
            except InputError:
                known = None
            if known is not None and known.provider in self._life.providers:
                return self._life.providers[known.provider].capabilities
            foreign = [provider for provider in self._in_order() if not provider.capabilities.needs_parent_task]
            if foreign:
                return foreign[0].capabilities
        return self._in_order()[0].capabilities

    def _uploader(self) -> Provider:
        """Where a member's own track goes: the first healthy provider that extends uploads (the first one when
        none does, to refuse with its reason)."""
        takes = [provider for provider in self._in_order() if provider.capabilities.uploads]
        return (takes or self._in_order())[0]

    def check_upload(self, filename: str, content_type: str | None, size: int) -> None:
        """Refuse at once an attachment that cannot be extended here, before it is downloaded."""
        check_audio_upload(self._uploader().capabilities, filename, content_type, size)

    async def request_upload_extend(
        self, requester: Requester, options: ExtendOptions, audio_url: str, filename: str
    ) -> Accepted:
        """Measure an `/extend audio:` track (downloaded, bounded, decoded: where the extend continues when `at` is
        left out), hand its public URL to the provider (free, it fetches the track itself) and queue the extend.

        A `Refusal` says what to fix, or that the track or the upload failed; nothing is spent either way.
        """
        self._check_open(requester.guild_id)
        provider = self._uploader()
        if self._media is None:  # a service built without media (tools, tests) reads no tracks
            raise UploadFailed("Encore cannot read uploaded tracks here; nothing was spent.")
        duration = await self._media.measure_track(audio_url, filename, provider.capabilities.upload_max_bytes)
        request = validate_upload_extend(provider.capabilities, options, duration)
        try:
            upload = await provider.upload_audio(audio_url)
        except ProviderError as error:
            self._life.health.failed(provider.name, error)
            raise self._upload_failed(provider, filename, error) from None
        self._life.health.succeeded(provider.name)
        request = replace(
            request,
            parent_task_id=upload.task_id,
            upload_song_id=upload.song_id,
            upload_name=filename,
            upload_url=upload.audio_url,
        )
        # The track now lives at that provider: its extend is bound to it.
        return await self._accepted(await self._create(requester, request, provider))

    @staticmethod
    def _upload_failed(provider: Provider, filename: str, error: ProviderError) -> UploadFailed:
        if isinstance(error, ProviderAuthError):
            log.error("PROVIDER KEY REFUSED by %s on an upload: fix the API key in .env.", provider.name)
            return UploadFailed(BAD_KEY_MESSAGE)
        log.warning("upload of %s to %s failed: %s", filename, provider.name, error.message)
        return UploadFailed(
            f"Encore could not upload your track to {provider.name} ({error.message}). "
            "Nothing was spent: try again in a minute, or with another file."
        )

    async def request_generate(self, requester: Requester, options: GenerateOptions) -> Accepted:
        """Validate a `/generate` and queue it; a `Refusal` says what to fix, and nothing is spent."""
        self._check_open(requester.guild_id)
        provider, request, note = self._route(lambda caps: validate_generate(caps, options))
        return await self._accepted(await self._create(requester, request, provider, bound=False), note)

    async def reroll(self, task_id: int, user_id: int) -> Accepted:
        """Submit a finished task's request again as a new task.

        Raises `RerollRefused` when the member may not reroll it, `DuplicateRequest` for a repeat click, and
        `QuotaRefused` for quotas.
        """
        store = self._life.store
        original = await store.get_task(task_id)
        if original is None or original.status is not TaskStatus.DELIVERED:
            raise RerollRefused("This song is not a finished Encore result, so there is nothing to reroll.")
        if original.requester_id != user_id and not await self._anyone_may_reroll(original.guild_id):
            raise RerollRefused("Only the member who asked for this song can reroll it.")
        self._check_open(original.guild_id)
        provider = self._life.providers.get(original.provider)
        if provider is None:
            raise RerollRefused(
                f"This song was made by {original.provider}, which this server no longer uses, so it cannot be "
                "rerolled."
            )
        requester = Requester(
            user_id=user_id,
            channel_id=original.channel_id,
            guild_id=original.guild_id,
            upload_limit=original.upload_limit,
        )
        task = await self._create(requester, original.request, provider, reroll_of=original.id)
        return await self._accepted(task, self._waiting_note(provider))

    def _in_order(self) -> list[Provider]:
        """The providers a request bound to none may go to, in the operator's order: the healthy ones, or all of them
        when every one is down."""
        every = list(self._life.providers.values())
        return [provider for provider in every if not self._life.health.is_down(provider.name)] or every

    def _route(self, validate: Callable[[ProviderCapabilities], Validated]) -> tuple[Provider, Validated, str | None]:
        """The first healthy provider whose contract takes the request, the request as it takes it, and what the
        member is told (nothing, unless every provider is down). Refused with the first provider's reason when
        none takes it."""
        refusal: InputError | None = None
        for provider in self._in_order():
            try:
                validated = validate(provider.capabilities)
            except InputError as error:
                refusal = refusal or error
                continue
            return provider, validated, self._waiting_note(provider, bound=False)
        assert refusal is not None  # at least one provider is configured
        raise refusal

    def _waiting_note(self, provider: Provider, *, bound: bool = True) -> str | None:
        """What to tell a member whose request waits for its provider to come back; None while it is up."""
        health = self._life.health
        if not health.is_down(provider.name):
            return None
        if not bound:
            return ALL_DOWN_NOTE
        return own_provider_down_note(provider.capabilities.label, health.retry_in(provider.name))

    async def _anyone_may_reroll(self, guild_id: int | None) -> bool:
        return guild_id is not None and (await self._life.store.guild_settings(guild_id)).reroll_anyone

    def _check_open(self, guild_id: int | None) -> None:
        """Refuse new work while shutting down, or from a server that is not allowed."""
        if self.stopping:
            raise NotAccepting("Encore is restarting; nothing was queued. Try again in a minute.")
        if self.allowed_guild_ids and guild_id not in self.allowed_guild_ids:
            raise NotAccepting("Encore is not enabled on this server; ask the bot's operator to allow it.")

    async def _create(
        self,
        requester: Requester,
        request: TaskRequest,
        provider: Provider,
        *,
        reroll_of: int | None = None,
        bound: bool = True,
    ) -> TaskRecord:
        """Queue a request for `provider` under the server's settings: its daily limit, and its results channel for
        new requests. `bound`: it must go to that provider (see `TaskRecord.bound`).

        The same request from the same member moments ago (a double click, a repeated command) is one task.
        """
        store = self._life.store
        quota = self.quota
        if requester.guild_id is not None:
            settings = await store.guild_settings(requester.guild_id)
            if settings.daily_limit is not None:
                quota = replace(quota or QuotaPolicy(), daily_per_guild=settings.daily_limit)
            if settings.results_channel_id and reroll_of is None:
                requester = replace(requester, channel_id=settings.results_channel_id)
        try:
            task = await store.create_task(
                requester, provider.name, request, reroll_of=reroll_of, quota=quota, bound=bound
            )
        except QuotaExceeded as refused:
            raise QuotaRefused(refused.limit, refused.retry_at) from None
        if task is None:
            raise DuplicateRequest("You sent this same request a moment ago; it is already in the queue.")
        return task

    async def _accepted(self, task: TaskRecord, note: str | None = None) -> Accepted:
        self._queued()
        log.info(
            "task %s queued for member %s in channel %s",
            task.id,
            task.requester_id,
            task.channel_id,
            extra=task_context(task),
        )
        return Accepted(task=task, position=await self._life.store.queue_position(task.id), note=note)

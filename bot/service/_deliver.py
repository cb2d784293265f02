"""Delivery: hand each succeeded task's songs to the Discord side, retrying transient faults, at most a few at once."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import replace

from bot.domain.models import TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.service._context import MAX_TRANSIENT_ATTEMPTS, StageContext, backoff, task_context
from bot.service.ports import ClipMedia, DeliveryError, PostedParts
from bot.service.result_media import ResultMedia
from bot.service.wholesong import WholeSongs

log = logging.getLogger("bot.service")


class Deliverer:
    """One asyncio task per succeeded task being posted; the store says when it is done."""

    def __init__(
        self,
        context: StageContext,
        *,
        max_deliveries: int,
        whole_songs: WholeSongs | None = None,
        media: ResultMedia | None = None,
    ) -> None:
        self._life = context
        self._media = media  # without it, results are posted with links only
        self._whole_songs = whole_songs
        self._slots = asyncio.Semaphore(max_deliveries)
        self.running: dict[int, asyncio.Task[None]] = {}
        self.stopping = False  # set by the service's stop(): no new delivery starts while it waits for the others

    async def resume(self) -> None:
        """Start the deliveries nobody is making: left by a previous run, or by a process that died."""
        for task in await self._life.store.tasks_with_status(TaskStatus.SUCCEEDED):
            self.start(task.id)

    def start(self, task_id: int) -> None:
        """Deliver a succeeded task in the background; after a stop, the next start resumes it instead."""
        if task_id not in self.running and not self.stopping:
            delivery = asyncio.create_task(self._guarded(task_id), name=f"encore-deliver-{task_id}")
            self.running[task_id] = delivery
            delivery.add_done_callback(lambda _: self.running.pop(task_id, None))

    async def _guarded(self, task_id: int) -> None:
        """A store fault around a delivery is logged; the task stays succeeded and the next start resumes it."""
        try:
            await self._deliver(task_id)
        except Exception:
            log.exception("task %s: delivery stopped on an unexpected error; it resumes at the next start", task_id)

    async def _deliver(self, task_id: int) -> None:
        """Lease a succeeded task and post its songs, retrying transient faults; the store says when it is done.

        The lease (taken before the downloads, held through the posting) keeps other processes from posting it
        meanwhile; were this one to die half-way, the next to claim it posts only the parts not recorded as
        posted, with the same nonces, so Discord drops a part posted just before its record was lost.
        """
        life = self._life
        if not await life.store.claim_delivery(task_id, life.owner, life.lease):
            return
        with life.working_on([task_id]):
            try:
                await self._post(task_id)
            finally:
                if self._media:
                    self._media.forget(task_id)

    async def _prepare(self, task: TaskRecord, songs: list[SongRecord]) -> Mapping[str, ClipMedia]:
        """The clips' files, fetched once per task (a retry fetches only what is missing)."""
        if self._media is None:
            return {}
        limit = task.upload_limit or self._life.events.upload_limit(task.guild_id)
        return await self._media.prepare(task, songs, limit)

    async def _post(self, task_id: int) -> None:
        store, events, metrics = self._life.store, self._life.events, self._life.metrics
        attempt = 0
        if (task := await store.get_task(task_id)) and task.status is TaskStatus.SUCCEEDED:
            # Slow sources may take long: fetch before taking a posting slot.
            try:
                await self._prepare(task, await store.songs_of_task(task_id))
            except Exception:
                log.exception("task %s: preparing its result failed; posting tries again", task_id)
        async with self._slots:
            parts = PostedParts(await store.result_parts(task_id), functools.partial(store.record_result_part, task_id))
            while (task := await store.get_task(task_id)) and task.status is TaskStatus.SUCCEEDED:
                started = time.monotonic()
                try:
                    songs = await store.songs_of_task(task_id)
                    media = await self._prepare(task, songs)
                    durations = measured_durations(songs, media)
                    songs = [replace(song, duration=durations.get(song.clip_id, song.duration)) for song in songs]
                    message_id = await events.deliver(task, songs, media, parts)
                except Exception as error:
                    if not isinstance(error, DeliveryError):
                        # A result Encore cannot render is a bug to fix, not a reason to leave the task hanging.
                        log.exception("task %s: delivery failed unexpectedly", task_id)
                        error = DeliveryError(f"an internal error ({type(error).__name__})", permanent=True)
                    if error.permanent or attempt + 1 >= MAX_TRANSIENT_ATTEMPTS:
                        metrics.delivered("undeliverable", time.monotonic() - started)
                        await self._give_up(task_id, error)
                        return
                    metrics.delivered("retrying", time.monotonic() - started)
                    delay = backoff(attempt, self._life.poll_interval)
                    log.warning("task %s: delivery failed (%s); retrying in %.1f s", task_id, error, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                else:
                    metrics.delivered("delivered", time.monotonic() - started)
                    await store.mark_delivered(task_id, message_id, durations)
                    log.info(
                        "task %s delivered as message %s (member %s)",
                        task_id,
                        message_id,
                        task.requester_id,
                        extra=task_context(task),
                    )
                    if done := await store.get_task(task_id):
                        await self._life.notify(events.task_delivered(done), task_id)
                        await self._life.notify(self._whole_songs_after(done), task_id)
                    return

    async def _give_up(self, task_id: int, error: DeliveryError) -> None:
        """Keep the songs, tell the requester another way; the task never stays half-delivered."""
        store = self._life.store
        await store.mark_undeliverable(task_id, f"Encore could not post the result: {error}")
        if undeliverable := await store.get_task(task_id):
            log.warning("task %s is undeliverable: %s", task_id, error, extra=task_context(undeliverable))
            songs = await store.songs_of_task(task_id)
            await self._life.notify(self._life.events.task_undeliverable(undeliverable, songs), task_id)

    async def _whole_songs_after(self, task: TaskRecord) -> None:
        """On a server that wants them, every extension's whole song follows its result on its own."""
        if self._whole_songs is None or task.kind != "extend" or task.guild_id is None:
            return
        if not (await self._life.store.guild_settings(task.guild_id)).whole_song_auto:
            return
        for song in await self._life.store.songs_of_task(task.id):
            self._whole_songs.start_auto(
                song, channel_id=task.channel_id, reply_to=task.result_message_id, upload_limit=task.upload_limit
            )


def measured_durations(songs: list[SongRecord], media: Mapping[str, ClipMedia]) -> dict[str, float]:
    """The lengths measured from the downloaded audio, for the songs the provider gave none."""
    return {
        song.clip_id: found.duration
        for song in songs
        if (found := media.get(song.clip_id)) and found.duration and not song.duration
    }

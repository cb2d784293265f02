"""Hypothesis strategies for provider answers: JSON of any type where a field belongs, or a value of its type."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.text(max_size=4000).map(lambda text: text or "x"),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
ids = st.one_of(st.uuids().map(str), json_values)
urls = st.one_of(st.just("https://cdn.example/a.mp3"), st.just(""), json_values)
suno_clips = st.fixed_dictionaries(
    {},
    optional={
        "continue_clip_id": ids,
        "id": ids,
        "title": st.one_of(st.text(max_size=300), json_values),
        "status": st.one_of(st.sampled_from(["complete", "streaming", "error"]), json_values),
        "audio_url": urls,
        "image_url": urls,
        "image_large_url": urls,
        "duration": st.one_of(st.floats(), st.text(max_size=8), json_values),
        "error_message": json_values,
    },
)
suno_answers = st.fixed_dictionaries(
    {"code": st.just(200)},
    optional={
        "status": st.one_of(st.sampled_from(["submitted", "queued", "streaming", "complete", "error"]), json_values),
        "clips": st.one_of(st.lists(suno_clips, max_size=4), json_values),
        "error_message": json_values,
    },
)
songs = st.fixed_dictionaries(
    {}, optional={"song_id": ids, "audio_url": urls, "image_url": urls, "lyrics": json_values}
)


def apiframe_answers(task_id: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"task_id": st.one_of(st.just(task_id), json_values)},
            optional={
                "status": st.one_of(st.sampled_from(["pending", "processing", "finished", "failed"]), json_values),
                "percentage": st.one_of(st.integers(), st.floats(), st.text(max_size=6), json_values),
                "songs": st.one_of(st.lists(songs, max_size=4), json_values),
                "message": json_values,
                "error": json_values,
            },
        ),
    )

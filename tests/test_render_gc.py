"""Renderings pause the cyclic garbage collector and give it back as they found it."""

from __future__ import annotations

import gc
import threading

from api.render_cache import gc_paused


def test_the_collector_is_paused_during_renderings_and_resumed_after_the_last() -> None:
    assert gc.isenabled()
    first_in, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def slow() -> None:
        with gc_paused():
            first_in.set()
            release.wait(5)
            seen.append(gc.isenabled())

    t = threading.Thread(target=slow)
    t.start()
    first_in.wait(5)
    with gc_paused():          # a second rendering, overlapping the first
        seen.append(gc.isenabled())
    seen.append(gc.isenabled())  # the first is still rendering: still paused
    release.set()
    t.join(5)
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_rendering_that_fails_still_resumes_the_collector() -> None:
    try:
        with gc_paused():
            raise ValueError("render failed")
    except ValueError:
        pass
    assert gc.isenabled()

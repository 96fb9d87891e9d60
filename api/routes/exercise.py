"""Exercises from the page: an instructor (admin key) starts a built-in scenario on an exercise
system, sees its progress and stops it.  The scenario is written under ``MFC_EXERCISE_DIR`` with
its truth, which no path of the API serves; its feeds play through this server's own ingest
(``services.scenario.exercise.run``, as ``mfc exercise start`` plays them over HTTP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ingest.errors import IngestError
from services.scenario.exercise import ExerciseBusy, ExerciseError, ServerExercise, Target, refuse, scenario
from services.store.sensor_registry import parse_sensors
from services.workers.ingest_service import BusUnavailable, TooManyLines
from services.workers.replay_http import SendFailed

from ..deps import AUTH, Admin, RuntimeDep, errors, json_schema, raw_body
from ..models import ExerciseIn, ExerciseState
from ..params import json_object
from .ingest import _delivered
from .sensors import _check_sensor_cap

router = APIRouter(prefix="/v1/exercise", tags=["exercise"])
_BODY = raw_body("application/json", json_schema(ExerciseIn),
                 '{"scenario": NAME, "speed": X} (optional "seed", "hours"); NAME from GET /v1/exercise')
_LIVE = "this is a live system"


def control(request: Request) -> ServerExercise:
    return request.app.state.exercise  # made by create_app, stopped at the app's shutdown


def _scenarios(runtime: Any) -> list[dict[str, Any]]:
    if not runtime.settings.exercise:
        return []
    from services.scenario.simulate import ScenarioError, builtin_names, load
    out = []
    for name in builtin_names():
        try:
            s = load(name)
        except ScenarioError:  # a built-in that cannot load is not offered
            continue
        out.append({"name": name, "description": s.description, "hours": s.hours})
    return out


def _state(request: Request, runtime: Any) -> dict[str, Any]:
    shown = {k: v for k, v in control(request).state().items() if k in ExerciseState.model_fields}
    return {**shown, "exercise": runtime.settings.exercise or None, "scenarios": _scenarios(runtime)}


@router.get("", response_model=ExerciseState, response_model_exclude_unset=True, responses=errors(*AUTH))
def exercise_state(request: Request, runtime: RuntimeDep, _: Admin) -> dict[str, Any]:
    """The exercise this server plays: its state, scenario, speed and progress (lines sent of
    the total), and the built-in scenarios it may play.  Admin only: what is scripted is the
    instructor's (the truth itself is never served, to anyone)."""
    return _state(request, runtime)


def _target(request: Request, runtime: Any, who: str) -> Target:
    counters = request.app.state.ingest_counters

    def register(body: dict) -> None:  # as POST /v1/sensors, for the admin who started the exercise
        try:
            new = parse_sensors(body, who)
            _check_sensor_cap(runtime, new)
        except IngestError as exc:
            raise ExerciseError(f"registering the scenario's sensors: {exc.reason}") from None
        except HTTPException as exc:
            raise ExerciseError(f"registering the scenario's sensors: {exc.detail}") from None
        for sensor in new:
            runtime.register_sensor(sensor, who)

    def send(kind: str, sensor_id: str, lines: list[str]) -> dict:  # as POST /v1/ingest/ais|radar
        ingest = runtime.ingest.ingest_ais if kind == "ais" else runtime.ingest.ingest_radar
        args = (sensor_id,) if kind == "ais" else ()
        try:
            return _delivered(runtime, counters, ingest, "\n".join(lines), *args)
        except (BusUnavailable, TooManyLines) as exc:
            raise SendFailed(f"{kind} {sensor_id}: {exc}") from None

    return Target(str(request.base_url).rstrip("/"), runtime.settings.exercise, runtime.settings.fusion_clock,
                  register, send, runner="server")


@router.post("", status_code=202, response_model=ExerciseState, response_model_exclude_unset=True,
             responses=errors(400, *AUTH, 409, 413, 422), openapi_extra=_BODY)
async def start_exercise(request: Request, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    """Start an exercise: ``{"scenario": NAME, "speed": X}`` (optional ``seed``, ``hours``), a
    built-in scenario.  The server writes it under ``MFC_EXERCISE_DIR`` (the truth stays
    there), registers its sensors and plays its feeds through its own ingest in the
    background: 202 with the state (``starting``); poll ``GET /v1/exercise`` for the progress.
    409 on a live system (an exercise never plays into the live picture), while another
    exercise plays, or for a speed a wall-clock system cannot take; 422 for an unknown
    scenario (the reason lists the built-in ones) or a bad body."""
    if not runtime.settings.exercise:
        raise HTTPException(409, f"{_LIVE}: an exercise never plays into the live picture. Start an exercise "
                                 "system for it (MFC_EXERCISE='Drill 1' MFC_FUSION_CLOCK=feed mfc serve)")
    asked = await json_object(request, ExerciseIn, 'want a JSON object: {"scenario": NAME, "speed": X}')
    names = [s["name"] for s in _scenarios(runtime)]
    if asked.scenario not in names:  # built-in names only: never a path on the server
        raise HTTPException(422, f"no built-in scenario named {asked.scenario!r}; built-in: {', '.join(names)}")
    ex = control(request)
    if ex.running():
        raise HTTPException(409, f"an exercise is already {ex.record.get('state')}: {ex.record.get('scenario')}; "
                                 "stop it first (DELETE /v1/exercise)")
    try:
        s = scenario(asked.scenario, asked.seed, asked.hours)
    except ExerciseError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        target = _target(request, runtime, who.name)
        refuse(target, s, asked.speed, "this system")
        ex.start(s, asked.speed, target, who.name)
    except ExerciseBusy as exc:
        raise HTTPException(409, str(exc)) from None
    except ExerciseError as exc:  # a speed this system's clock cannot take
        raise HTTPException(409, str(exc)) from None
    return _state(request, runtime)


@router.delete("", response_model=ExerciseState, response_model_exclude_unset=True,
               responses=errors(*AUTH, 409))
def stop_exercise(request: Request, runtime: RuntimeDep, _: Admin) -> dict[str, Any]:
    """Stop the exercise playing: no more of its feeds reach the ingest (what was sent stays in
    the picture).  Answers the state (``stopped``, or ``stopping`` while the scenario is still
    being written); 409 when none plays (or on a live system)."""
    if not runtime.settings.exercise:
        raise HTTPException(409, f"{_LIVE}: it plays no exercise")
    try:
        control(request).stop()
    except ExerciseError as exc:
        raise HTTPException(409, str(exc)) from None
    return _state(request, runtime)

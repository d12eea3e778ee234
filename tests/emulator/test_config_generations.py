"""Both generations of the job config's shapes (docs/protocol.md §14.13, arkorlab/arkor PR #210)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.emulator.__main__ import parse_args
from arkor_temporal.emulator.config import GlobalSettings
from tests.support.emulator import (
    api,
    create_job,
    data_frames,
    fast_config,
    job_config,
    read_stream,
    train_logs,
)

STEP_SETTINGS = ("warmupSteps", "loggingSteps", "saveSteps", "evalSteps")


def create(client: httpx.Client, **overrides: Any) -> httpx.Response:
    return client.post("/v1/jobs", json={"name": "drift", "config": job_config(**overrides)})


def events(client: httpx.Client, job_id: str, event: str) -> list[dict[str, Any]]:
    _, frames, _ = read_stream(client, job_id)
    return [f.json for f in frames if f.event == event]


def eval_steps_logged(client: httpx.Client, job_id: str) -> list[int]:
    logs = events(client, job_id, "training.log")
    return [log["step"] for log in logs if log.get("evalLoss") is not None]


@pytest.mark.parametrize("key", STEP_SETTINGS)
@pytest.mark.parametrize("value", [5, 5.0, {"steps": 5}, {"ratio": 0.25}, {"ratio": 1}])
def test_step_settings_take_a_number_steps_or_a_ratio(
    client: httpx.Client, key: str, value: Any
) -> None:
    assert create(client, **{key: value}).status_code == 201


def test_only_warmup_takes_zero_steps(client: httpx.Client) -> None:
    assert create(client, warmupSteps=0).status_code == 201
    assert create(client, warmupSteps={"steps": 0}).status_code == 201
    for key in ("loggingSteps", "saveSteps", "evalSteps"):
        response = create(client, **{key: {"steps": 0}})
        assert response.status_code == 400 and f"config.{key}" in response.json()["error"]


def test_steps_and_ratio_drive_the_events(client: httpx.Client) -> None:
    # 20 steps: a ratio of 0.25 is every 5 steps; a tiny ratio still means at least 1.
    job_id = create_job(
        client, loggingSteps={"ratio": 0.25}, saveSteps={"steps": 10}, evalSteps={"ratio": 0.5}
    )
    train = train_logs(events(client, job_id, "training.log"))
    assert [log["step"] for log in train] == [5, 10, 15, 20]
    assert [e["step"] for e in events(client, job_id, "checkpoint.saved")] == [10, 20]
    assert eval_steps_logged(client, job_id) == [10, 20]
    every_step = create_job(client, maxSteps=4, saveSteps={"ratio": 0.01})
    assert [e["step"] for e in events(client, every_step, "checkpoint.saved")] == [1, 2, 3, 4]


@pytest.mark.parametrize("key", STEP_SETTINGS)
@pytest.mark.parametrize(
    "value",
    [
        "5",
        True,
        -1,
        2.5,
        [5],
        {},
        {"steps": -1},
        {"steps": 2.5},
        {"steps": "5"},
        {"ratio": 0},
        {"ratio": 1.5},
        {"ratio": True},
        {"steps": 5, "ratio": 0.1},
        {"every": 5},
    ],
)
def test_bad_step_settings_are_400_naming_the_field(
    client: httpx.Client, key: str, value: Any
) -> None:
    response = create(client, **{key: value})
    assert response.status_code == 400 and f"config.{key}" in response.json()["error"]


@pytest.mark.parametrize(
    ("split", "evaluates"),
    [
        (None, True),
        ("train", True),  # the old passthrough value keeps today's behaviour
        ({"enabled": True}, True),
        ({"enabled": True, "testSize": 0.2, "seed": 1}, True),
        ({"enabled": False}, False),
        ({"enabled": False, "testSize": 0.1, "seed": 42}, False),
    ],
)
def test_the_split_object_gates_eval_logs(
    client: httpx.Client, split: Any, evaluates: bool
) -> None:
    job_id = create_job(client, evalSteps=10, datasetSplit=split)
    assert eval_steps_logged(client, job_id) == ([10, 20] if evaluates else [])


@pytest.mark.parametrize(
    "split",
    [
        {},
        {"enabled": "yes"},
        {"enabled": True, "testSize": 0},
        {"enabled": True, "testSize": 1.5},
        {"enabled": True, "testSize": "0.1"},
        {"enabled": True, "seed": 1.5},
        {"enabled": True, "ratio": 0.1},
    ],
)
def test_bad_split_objects_are_400(client: httpx.Client, split: dict[str, Any]) -> None:
    response = create(client, datasetSplit=split)
    assert response.status_code == 400 and "config.datasetSplit" in response.json()["error"]


def test_gpu_types_are_a_list_of_names(client: httpx.Client) -> None:
    assert create(client, gpuTypes=["L4", "A100"]).status_code == 201
    assert create(client, gpuTypes=[]).status_code == 201
    for bad in ("L4", [""], [1], [None], {"L4": True}):
        response = create(client, gpuTypes=bad)
        assert response.status_code == 400 and "config.gpuTypes" in response.json()["error"]


def test_completed_metrics_carry_both_generations_keys(client: httpx.Client) -> None:
    job_id = create_job(client)
    _, frames, _ = read_stream(client, job_id)
    metrics = data_frames(frames)[-1].json["metrics"]
    assert metrics["totalSteps"] == metrics["steps"] == 20
    assert metrics["totalTime"] == metrics["runtimeSeconds"] >= 0
    assert isinstance(metrics["finalLoss"], float) and isinstance(metrics["trainLoss"], float)


def test_completed_metrics_null_a_non_finite_final_loss(client: httpx.Client) -> None:
    job_id = create_job(client, emulator={"scenario": "nan", "atStep": 11})
    _, frames, _ = read_stream(client, job_id)
    assert data_frames(frames)[-1].json["metrics"]["finalLoss"] is None


def test_switch_rejects_bare_step_numbers() -> None:
    with EmulatorServer(fast_config()) as server:
        client, inspect = api(server.base_url), httpx.Client(base_url=server.base_url)
        assert create(client, loggingSteps=5).status_code == 201
        switched = inspect.post("/_emulator/settings", json={"rejectBareStepNumbers": True})
        assert switched.json()["settings"]["rejectBareStepNumbers"] is True
        for key in STEP_SETTINGS:
            response = create(client, **{key: 5})
            assert response.status_code == 400
            assert response.json() == {
                "error": f"config.{key}: a bare number is not accepted; "
                "send {steps: N} or {ratio: x}"
            }
            assert create(client, **{key: {"steps": 5}}).status_code == 201
            assert create(client, **{key: {"ratio": 0.5}}).status_code == 201


def test_switch_from_the_config_and_the_command_line() -> None:
    assert GlobalSettings().reject_bare_step_numbers is False
    assert parse_args(["--reject-bare-step-numbers"]).settings == GlobalSettings(
        reject_bare_step_numbers=True
    )
    config = fast_config(settings=GlobalSettings(reject_bare_step_numbers=True))
    with EmulatorServer(config) as server:
        assert create(api(server.base_url), saveSteps=50).status_code == 400

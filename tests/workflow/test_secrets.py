"""No secret a run uses reaches anything people read: Temporal's records or the worker's log.

A real worker process (its output in its own log file) runs a blob dataset
whose token it reads from its environment (``tokenEnv``), notifies a Slack
webhook whose URL it reads from its environment (``urlEnv``), fails to reach
another (so failure texts are scanned too), and talks to the emulator with the
emulator's token. None of the three may appear in the
history, the memo, the search attributes, the Web UI's summary and details,
or the worker's log.
"""

from __future__ import annotations

from arkor_temporal.core.models import RunStatus
from arkor_temporal.dev.local import EMULATOR_IDENTITY
from tests.support.runs import Runs, make_spec
from tests.support.secrets import assert_no_secret, run_texts, worker_log_texts
from tests.support.webhooks import WebhookReceiver

BLOB_TOKEN = "blob-hunter2-token-7f3a"
WEBHOOK_SECRET = "T0SECRET/B0SECRET/hunter2-webhook-path"
# Nothing listens on port 1: every attempt fails, so the failure text is scanned too.
DOWN_WEBHOOK = "http://127.0.0.1:1/services/T0DOWN/B0DOWN/hunter2-down-path"


async def test_no_secret_reaches_history_memo_attributes_web_ui_or_worker_log(
    runs: Runs,
) -> None:
    spec = make_spec(
        name="secrets",
        maxSteps=20,
        dataset={
            "type": "blob",
            "url": "https://data.example.com/support.jsonl",
            "tokenEnv": "SUPPORT_DATA_TOKEN",
        },
        notifications=[
            {"kind": "slack", "urlEnv": "SLACK_HOOK_URL", "on": ["completed"]},
            {"kind": "webhook", "urlEnv": "DOWN_HOOK_URL", "on": ["completed"]},
        ],
    )
    with WebhookReceiver() as receiver:
        webhook = receiver.url(f"/services/{WEBHOOK_SECRET}")
        env = {
            "SUPPORT_DATA_TOKEN": BLOB_TOKEN,
            "SLACK_HOOK_URL": webhook,
            "DOWN_HOOK_URL": DOWN_WEBHOOK,
            "ARKOR_TEMPORAL_LOG_LEVEL": "INFO",  # as deployed; the log must have something in it
        }
        with runs.worker_process(env):
            handle = await runs.start(spec)
            result = await handle.result()
            texts = await run_texts(handle, live=True)
    assert result.status is RunStatus.COMPLETED, result.reason
    # The secrets were used: the run read the token (a missing one fails it) and the webhook.
    assert [d.delivered for d in result.notifications] == [True, False]
    assert [m.path for m in receiver.messages] == [f"/services/{WEBHOOK_SECRET}"]
    # Each text holds what the secret stands beside, so a leak would be in it to find.
    assert "SUPPORT_DATA_TOKEN" in texts["history"] and "DOWN_HOOK_URL" in texts["history"]
    assert "data.example.com" in texts["Web UI details"]
    assert "**completed**: training completed" in texts["Web UI current details"]
    logs = worker_log_texts(mentioning=handle.id)
    assert any("$DOWN_HOOK_URL is unreachable" in log for log in logs.values())
    texts |= logs
    secrets = (BLOB_TOKEN, WEBHOOK_SECRET, webhook, "hunter2-down-path", EMULATOR_IDENTITY.token)
    assert_no_secret(secrets, texts)

"""deploy/kubernetes: every manifest against the Kubernetes schemas (kubernetes-validate's
bundled ones, strict), KEDA's against tests/deploy/keda.py, every variant's worker
environment through the worker's own settings parser, and the fleet rules between them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from arkor_temporal.core.names import TaskQueues
from tests.deploy import keda
from tests.deploy.deploy import (
    K8S_BASE,
    K8S_OVERLAYS,
    K8S_SECRETS,
    KUBERNETES,
    ROOT,
    container_env,
    dockerfile_stages,
    kubernetes_files,
    load_documents,
    mounted_paths,
    one,
    render_kustomization,
    run,
    tool,
)
from tests.deploy.settings import DeploySettingsError, check_worker_env, port_of

# The oldest Kubernetes these manifests are written for, and the newest the schemas know.
VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
WORKER = "arkor-temporal-worker"
# Each way to deploy: its kustomization, and the example Secrets that stand for the ones
# created outside the manifests.
VARIANTS = {
    "base": (K8S_BASE, ["worker-secret.example.yaml"]),
    "temporal-cloud-api-key": (
        K8S_OVERLAYS / "temporal-cloud-api-key",
        ["worker-secret-temporal-cloud-api-key.example.yaml"],
    ),
    "temporal-cloud-mtls": (
        K8S_OVERLAYS / "temporal-cloud-mtls",
        ["worker-secret.example.yaml", "temporal-tls-secret.example.yaml"],
    ),
}
QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<unit>m|Ki|Mi|Gi|Ti)?$")
UNITS = {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str | int) -> float:
    match = QUANTITY.match(str(text))
    assert match, f"quantity {text!r}"
    return float(match["number"]) * UNITS[match["unit"]]


def validate(document: dict[str, Any], version: str) -> None:
    """Raise if ``document`` would not pass its schema (Kubernetes' or KEDA's)."""
    if document["apiVersion"].startswith("keda.sh/"):
        keda.validate(document)
        hpa = keda.hpa_behavior_as_hpa(document)
        if hpa:
            kubernetes_validate.validate(hpa, version, strict=True)
    else:
        kubernetes_validate.validate(document, version, strict=True)


def render(variant: str) -> list[dict[str, Any]]:
    return render_kustomization(VARIANTS[variant][0])


def example_secrets(variant: str) -> list[dict[str, Any]]:
    return [doc for name in VARIANTS[variant][1] for doc in load_documents(K8S_SECRETS / name)]


def worker_container(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = one(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return spec, container


def worker_env(variant: str, scratch: Path) -> dict[str, str]:
    """The worker container's environment, its mounted Secret files made real in ``scratch``."""
    objects, secrets = render(variant), example_secrets(variant)
    pod, container = worker_container(objects)
    env = container_env(container, objects, secrets)
    mounts = mounted_paths(pod, container)
    for name, value in env.items():
        if not name.endswith(("_PATH", "_FILE")):
            continue
        directory, _, filename = value.rpartition("/")
        assert directory in mounts, f"{name}={value}: not under a mounted Secret ({mounts})"
        [secret] = [s for s in secrets if s["metadata"]["name"] == mounts[directory]]
        assert filename in secret["stringData"], f"{name}: {secret['metadata']['name']}"
        local = scratch / "mounts" / filename
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(secret["stringData"][filename])
        env[name] = str(local)
    return env


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", kubernetes_files(), ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_every_manifest_matches_its_schema(path: Path, version: str) -> None:
    documents = load_documents(path)
    assert documents, f"{path} is empty"
    for document in documents:
        if document["kind"] == "Kustomization":
            continue  # rendered below: test_every_variant_renders_to_valid_objects
        validate(document, version)


def test_kubernetes_validate_rejects_a_broken_deployment(tmp_path: Path) -> None:
    text = (K8S_BASE / "deployment.yaml").read_text()
    assert text.count("  replicas: 3\n") == 1
    broken = tmp_path / "deployment.yaml"
    broken.write_text(text.replace("  replicas: 3\n", '  replicas: "two"\n'))
    done = run([tool("kubernetes-validate"), "--strict", "-k", VERSIONS[0], broken])
    assert done.returncode == 1
    assert "spec.replicas: 'two' is not of type 'integer'" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("          livenessProbe:\n", "          livenesProbe:\n"),  # unknown field (strict)
        ("      terminationGracePeriodSeconds: 45\n", "      terminationGracePeriodSeconds: 45s\n"),
        ("              containerPort: 8081\n", '              containerPort: "8081"\n'),
    ],
)
def test_a_broken_deployment_fails_the_schema(old: str, new: str) -> None:
    text = (K8S_BASE / "deployment.yaml").read_text()
    assert old in text
    document = yaml.safe_load(text.replace(old, new, 1))
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(document, VERSIONS[0])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "        taskQueue: arkor-training-streams\n",
            "        taskQeue: arkor-training-streams\n",
        ),
        ('        targetQueueSize: "10"\n', "        targetQueueSize: 10\n"),  # not a string
        ("  maxReplicaCount: 20\n", "  maxReplicas: 20\n"),
        ("              periodSeconds: 300\n", '              periodSeconds: "300"\n'),
    ],
)
def test_a_broken_scaled_object_fails(old: str, new: str) -> None:
    text = (KUBERNETES / "scaling" / "keda-scaledobject.yaml").read_text()
    assert old in text
    document = yaml.safe_load(text.replace(old, new, 1))
    with pytest.raises((jsonschema.ValidationError, AssertionError)):
        validate(document, VERSIONS[0])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_renders_to_valid_objects(variant: str) -> None:
    objects = render(variant)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "Deployment", "PodDisruptionBudget", "ServiceAccount"]
    assert "Secret" not in kinds, "Secrets are created outside the manifests"
    for document in objects + example_secrets(variant):
        validate(document, VERSIONS[0])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_worker_env_is_accepted_by_the_worker(variant: str, tmp_path: Path) -> None:
    resolved = check_worker_env(f"kubernetes {variant}", worker_env(variant, tmp_path), tmp_path)
    temporal = resolved.temporal
    assert temporal.task_queue == "arkor-training"
    if variant == "base":
        assert temporal.address == "temporal-frontend.temporal.svc.cluster.local:7233"
        assert not temporal.connect_options
    elif variant == "temporal-cloud-api-key":
        assert temporal.address.endswith(".api.temporal.io:7233")
        assert temporal.connect_options["api_key"] and temporal.connect_options["tls"] is True
    else:
        assert temporal.address.endswith(".tmprl.cloud:7233")
        tls = temporal.connect_options["tls"]
        assert tls.client_cert and tls.client_private_key
    assert temporal.namespace == (
        "default" if variant == "base" else "your-namespace.your-account-id"
    )


def test_a_typo_in_the_config_map_fails(tmp_path: Path) -> None:
    env = worker_env("base", tmp_path)
    env["ARKOR_TEMPORAL_STARTUP_WAITS"] = env.pop("ARKOR_TEMPORAL_STARTUP_WAIT")
    with pytest.raises(DeploySettingsError, match="ARKOR_TEMPORAL_STARTUP_WAITS"):
        check_worker_env("broken ConfigMap", env, tmp_path)


def test_overlays_change_the_temporal_connection_only() -> None:
    base = one(render("base"), "ConfigMap", WORKER)["data"]
    for variant in ("temporal-cloud-api-key", "temporal-cloud-mtls"):
        data = one(render(variant), "ConfigMap", WORKER)["data"]
        changed = {k for k in data.keys() | base.keys() if data.get(k) != base.get(k)}
        assert changed <= {
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "TEMPORAL_TLS_CLIENT_CERT_PATH",
            "TEMPORAL_TLS_CLIENT_KEY_PATH",
            "ARKOR_TEMPORAL_UI_URL",
        }, changed
        assert "TEMPORAL_API_KEY" not in data, "the API key belongs in the Secret"


def test_probes_hit_the_health_endpoints(tmp_path: Path) -> None:
    _, container = worker_container(render("base"))
    env = worker_env("base", tmp_path)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == port_of(env["ARKOR_TEMPORAL_HEALTH_ADDRESS"])
    assert ports["metrics"] == port_of(env["ARKOR_TEMPORAL_METRICS_ADDRESS"])
    paths = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": ("/healthz", "health"),
        "livenessProbe": ("/healthz", "health"),
        "readinessProbe": ("/readyz", "health"),
    }
    # The health server starts after the start-up wait: the startup probe must outlast it.
    startup = container["startupProbe"]
    window = startup["periodSeconds"] * startup["failureThreshold"]
    assert window > float(env["ARKOR_TEMPORAL_STARTUP_WAIT"]) + 10, window


def graceful_shutdown_seconds() -> int:
    source = (ROOT / "worker.py").read_text()
    match = re.search(r'"graceful_shutdown_timeout", timedelta\(seconds=(\d+)\)', source)
    assert match, "worker.py no longer sets graceful_shutdown_timeout where this test looks"
    return int(match[1])


def test_termination_outlasts_the_hand_over() -> None:
    deployment = one(render("base"), "Deployment", WORKER)
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 30 and grace >= 3 * graceful_shutdown_seconds(), grace
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0, "a new worker is ready before an old one stops"


def test_resources_follow_the_stream_slots(tmp_path: Path) -> None:
    _, container = worker_container(render("base"))
    slots = int(worker_env("base", tmp_path)["ARKOR_TEMPORAL_STREAM_SLOTS"])
    requests = container["resources"]["requests"]
    # The placeholder rule (deploy/README.md): 1 CPU and 1 GiB per 1,000 stream slots.
    assert quantity(requests["cpu"]) >= slots / 1000
    assert quantity(requests["memory"]) >= slots / 1000 * 2**30
    assert quantity(container["resources"]["limits"]["memory"]) >= quantity(requests["memory"])


def test_the_disruption_budget_covers_the_workers() -> None:
    objects = render("base")
    deployment, budget = one(objects, "Deployment", WORKER), one(objects, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["maxUnavailable"] == 1 < deployment["spec"]["replicas"]


def test_the_pod_runs_unprivileged_as_the_image_user() -> None:
    pod, container = worker_container(render("base"))
    uid = dockerfile_stages()["worker"].last("USER")
    assert uid is not None
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == uid.arguments.split(":")[0]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    repository, _, tag = container["image"].rpartition(":")
    assert repository and tag and tag != "latest"


def test_the_search_attribute_job_uses_the_project_command(tmp_path: Path) -> None:
    [job] = load_documents(KUBERNETES / "jobs" / "register-search-attributes.yaml")
    spec = job["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["args"] == ["arkor-temporal", "setup"]
    assert "command" not in container, "keep the image's tini entrypoint"
    _, worker = worker_container(render("base"))
    assert container["image"] == worker["image"]
    env = container_env(container, render("base"), example_secrets("base"))
    check_worker_env("kubernetes job", env, tmp_path)


def test_the_autoscalers_watch_the_worker_queues(tmp_path: Path) -> None:
    env = worker_env("base", tmp_path)
    queues = TaskQueues.of(env["ARKOR_TEMPORAL_TASK_QUEUE"])
    slots = int(env["ARKOR_TEMPORAL_STREAM_SLOTS"])
    [scaled] = load_documents(KUBERNETES / "scaling" / "keda-scaledobject.yaml")
    assert scaled["spec"]["scaleTargetRef"]["name"] == WORKER
    temporal = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "temporal"]
    assert {t["taskQueue"] for t in temporal} == {queues.control, queues.streams, queues.work}
    for trigger in temporal:
        for key in ("endpointFromEnv", "namespaceFromEnv"):
            assert trigger[key] in env, f"{key}: {trigger[key]} is not in the worker's env"
    [prometheus] = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"]
    assert "temporal_worker_task_slots_used" in prometheus["query"]
    assert f'task_queue="{queues.streams}"' in prometheus["query"]
    assert 0 < float(prometheus["threshold"]) < slots
    assert scaled["spec"]["minReplicaCount"] >= 3

    [hpa] = load_documents(KUBERNETES / "scaling" / "hpa-stream-slots.yaml")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": WORKER,
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["selector"]["matchLabels"]["task_queue"] == queues.streams
    assert 0 < quantity(metric["pods"]["target"]["averageValue"]) < slots


def test_keda_authenticates_with_the_workers_secrets() -> None:
    secrets = [
        doc for path in sorted(K8S_SECRETS.glob("*.example.yaml")) for doc in load_documents(path)
    ]
    keys = {(s["metadata"]["name"], k) for s in secrets for k in s["stringData"]}
    for auth in load_documents(KUBERNETES / "scaling" / "keda-temporal-cloud-auth.yaml"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["parameter"] in keda.AUTH_PARAMETERS["temporal"]
            assert (ref["name"], ref["key"]) in keys, ref


def test_secret_examples_hold_placeholders_only() -> None:
    for path in sorted(K8S_SECRETS.glob("*.yaml")):
        assert path.name.endswith(".example.yaml"), f"{path}: only examples live here"
        for secret in load_documents(path):
            for key, value in secret["stringData"].items():
                lines = [line for line in value.splitlines() if not line.startswith("-----")]
                assert all("replace" in line for line in lines), f"{path}: {key}"

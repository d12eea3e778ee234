"""KEDA's resources, checked without KEDA's CRDs (no offline package ships them).

A schema written here, from KEDA's documented API (keda.sh/docs/2.x/reference/
scaledobject-spec and /concepts/authentication), for the fields of ScaledObject and
TriggerAuthentication; strict like kubernetes-validate's, so a misspelt field fails.
The HPA ``behavior`` block is the Kubernetes type itself, checked by kubernetes-validate.
A field KEDA has but this schema lacks fails too: add it here when a manifest uses it.
"""

from __future__ import annotations

from typing import Any

import jsonschema

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253}
INT = {"type": "integer", "minimum": 0}


def strict(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


METADATA = strict(
    {"name": NAME, "namespace": NAME, "labels": STRING_MAP, "annotations": STRING_MAP},
    ("name",),
)
TRIGGER = strict(
    {
        "type": {"type": "string", "minLength": 1},
        "name": {"type": "string"},
        "metadata": STRING_MAP,  # KEDA reads every trigger parameter as a string
        "authenticationRef": strict(
            {
                "name": NAME,
                "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
            },
            ("name",),
        ),
        "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
        "useCachedMetrics": {"type": "boolean"},
    },
    ("type", "metadata"),
)
SCALED_OBJECT = strict(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": METADATA,
        "spec": strict(
            {
                "scaleTargetRef": strict(
                    {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": NAME,
                        "envSourceContainerName": {"type": "string"},
                    },
                    ("name",),
                ),
                "pollingInterval": INT,
                "cooldownPeriod": INT,
                "initialCooldownPeriod": INT,
                "idleReplicaCount": INT,
                "minReplicaCount": INT,
                "maxReplicaCount": INT,
                "fallback": strict(
                    {"failureThreshold": INT, "replicas": INT, "behavior": {"type": "string"}},
                    ("failureThreshold", "replicas"),
                ),
                "advanced": strict(
                    {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": strict(
                            {"name": {"type": "string"}, "behavior": {"type": "object"}}
                        ),
                        "scalingModifiers": strict(
                            {
                                "formula": {"type": "string"},
                                "target": {"type": "string"},
                                "activationTarget": {"type": "string"},
                                "metricType": {"enum": ["AverageValue", "Value"]},
                            }
                        ),
                    }
                ),
                "triggers": {"type": "array", "minItems": 1, "items": TRIGGER},
            },
            ("scaleTargetRef", "triggers"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
TRIGGER_AUTHENTICATION = strict(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": METADATA,
        "spec": strict(
            {
                "secretTargetRef": {
                    "type": "array",
                    "items": strict(
                        {"parameter": {"type": "string"}, "name": NAME, "key": {"type": "string"}},
                        ("parameter", "name", "key"),
                    ),
                },
                "env": {
                    "type": "array",
                    "items": strict(
                        {
                            "parameter": {"type": "string"},
                            "name": {"type": "string"},
                            "containerName": {"type": "string"},
                        },
                        ("parameter", "name"),
                    ),
                },
                "configMapTargetRef": {
                    "type": "array",
                    "items": strict(
                        {"parameter": {"type": "string"}, "name": NAME, "key": {"type": "string"}},
                        ("parameter", "name", "key"),
                    ),
                },
                "podIdentity": {"type": "object"},
            }
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}

# The parameters each scaler reads (keda.sh/docs/2.x/scalers/<type>/), so a misspelt one
# (taskQeue) fails instead of being ignored by KEDA.
TRIGGER_PARAMETERS = {
    "temporal": {
        "endpoint",
        "endpointFromEnv",
        "namespace",
        "namespaceFromEnv",
        "taskQueue",
        "taskQueueFromEnv",
        "targetQueueSize",
        "activationTargetQueueSize",
        "queueTypes",
        "workerDeploymentName",
        "workerDeploymentBuildId",
        "minConnectTimeout",
        "unsafeSsl",
        "tlsServerName",
    },
    "prometheus": {
        "serverAddress",
        "query",
        "threshold",
        "activationThreshold",
        "namespace",
        "customHeaders",
        "ignoreNullValues",
        "queryParameters",
        "unsafeSsl",
    },
}
REQUIRED_PARAMETERS = {
    "temporal": ({"endpoint", "endpointFromEnv"}, {"taskQueue", "taskQueueFromEnv"}),
    "prometheus": ({"serverAddress"}, {"query"}, {"threshold"}),
}
AUTH_PARAMETERS = {"temporal": {"apiKey", "cert", "key", "keyPassword", "ca"}}


def validate(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError (or AssertionError) for a KEDA resource we'd reject."""
    jsonschema.Draft202012Validator(SCHEMAS[document["kind"]]).validate(document)
    if document["kind"] != "ScaledObject":
        return
    for trigger in document["spec"]["triggers"]:
        kind, metadata = trigger["type"], trigger["metadata"]
        assert kind in TRIGGER_PARAMETERS, f"trigger type {kind!r}: add its parameters here"
        unknown = set(metadata) - TRIGGER_PARAMETERS[kind]
        assert not unknown, f"{kind} trigger: unknown parameters {sorted(unknown)}"
        for alternatives in REQUIRED_PARAMETERS[kind]:
            assert alternatives & set(metadata), f"{kind} trigger needs one of {alternatives}"


def hpa_behavior_as_hpa(document: dict[str, Any]) -> dict[str, Any] | None:
    """The ScaledObject's HPA behavior inside a minimal HPA, for kubernetes-validate."""
    config = document["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
    if "behavior" not in config:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": document["metadata"]["name"]},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "maxReplicas": document["spec"].get("maxReplicaCount", 100),
            "behavior": config["behavior"],
        },
    }

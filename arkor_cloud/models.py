"""Pydantic models of the cloud API's REST payloads (docs/protocol.md §2, §4, §5).

camelCase on the wire, snake_case in Python. Models are loose (`extra="allow"`)
wherever the protocol is loose, so unknown keys survive a round trip; the job
status is a closed enum because the SDK's decoder rejects unknown statuses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "AnonymousToken",
    "BlobDataset",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatRequest",
    "CheckpointAdapter",
    "ChunkChoice",
    "CliConfig",
    "DatasetSource",
    "FinalAdapter",
    "HuggingFaceDataset",
    "JobConfig",
    "JobStatus",
    "Me",
    "Org",
    "Project",
    "TrainingJob",
]

# Serialization context that reveals secrets; used only when building request bodies.
_WIRE_CONTEXT = {"wire": True}


class WireModel(BaseModel):
    """Base of the camelCase models; unknown keys are kept and passed through."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, context=_WIRE_CONTEXT)


class OpenAIModel(BaseModel):
    """Base of the OpenAI-shaped models, which keep their snake_case on the wire."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --- jobs -----------------------------------------------------------------------------------


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class HuggingFaceDataset(WireModel):
    type: Literal["huggingface"] = "huggingface"
    name: str
    split: str | None = None
    subset: str | None = None


class BlobDataset(WireModel):
    type: Literal["blob"] = "blob"
    url: str
    token: SecretStr | None = None

    @field_serializer("token")
    def _reveal_on_wire(self, token: SecretStr | None, info: SerializationInfo) -> str | None:
        if token is None:
            return None
        return token.get_secret_value() if info.context == _WIRE_CONTEXT else str(token)


DatasetSource = Annotated[HuggingFaceDataset | BlobDataset, Field(discriminator="type")]


class JobConfig(WireModel):
    """Request `config` of `POST /v1/jobs` (docs/protocol.md §4.3). Unknown keys pass through."""

    model: str
    dataset_source: DatasetSource
    lora_r: int | None = None
    lora_alpha: int | None = None
    max_length: int | None = None
    # to_camel would give "loadIn4Bit"; the wire key has a lower-case b.
    load_in4bit: bool | None = Field(default=None, alias="loadIn4bit")
    max_steps: int | None = None
    num_train_epochs: float | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    optim: str | None = None
    lr_scheduler_type: str | None = None
    weight_decay: float | None = None
    # The SDK types these as `unknown` and passes them through untouched. The step
    # settings are bare numbers or PR #210's {steps}/{ratio} objects, datasetSplit a bare
    # value or {enabled, testSize?, seed?} (docs/protocol.md §14.13).
    warmup_steps: Any = None
    logging_steps: Any = None
    save_steps: Any = None
    eval_steps: Any = None
    train_on_responses_only: Any = None
    dataset_format: Any = None
    dataset_split: Any = None
    gpu_types: list[str] | None = None
    dry_run: bool | None = None


class TrainingJob(WireModel):
    """Response DTO of the job routes (docs/protocol.md §4.2). Timestamps pass through unchanged."""

    id: str
    org_id: str | None = None  # Studio's e2e mock omits these; the SDK does not validate rows.
    project_id: str | None = None
    name: str
    status: JobStatus
    config: dict[str, Any] | None = None
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None

    @field_validator("config")
    @classmethod
    def _mask_dataset_token(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        # The server may echo a blob dataset token back; it must never reach logs or
        # workflow state, so it is masked the moment it is decoded.
        if config is None:
            return None
        source = config.get("datasetSource")
        if isinstance(source, dict) and isinstance(source.get("token"), str):
            return {**config, "datasetSource": {**source, "token": SecretStr(source["token"])}}
        return config


# --- identity and projects ------------------------------------------------------------------


class Org(WireModel):
    id: str
    slug: str
    name: str


class AnonymousToken(WireModel):
    token: SecretStr
    anonymous_id: str
    kind: str
    personal_org: Org


class CliConfig(WireModel):
    auth0_domain: str | None = None
    client_id: str | None = None
    audience: str | None = None
    callback_ports: list[int] = []


class Me(WireModel):
    user: dict[str, Any]
    orgs: list[Org] = []


class Project(WireModel):
    id: str
    slug: str
    name: str
    org_id: str | None = None


# --- inference ------------------------------------------------------------------------------


class ChatMessage(OpenAIModel):
    role: str
    content: Any = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class FinalAdapter(WireModel):
    kind: Literal["final"] = "final"
    job_id: str


class CheckpointAdapter(WireModel):
    kind: Literal["checkpoint"] = "checkpoint"
    job_id: str
    step: int


class ChatRequest(WireModel):
    """Body of `POST /v1/inference/chat` (docs/protocol.md §5.1).

    Top-level knobs are camelCase; messages, tools, formats and structured outputs are
    OpenAI/vLLM structures and are sent exactly as given.
    """

    messages: list[dict[str, Any]]
    adapter: Annotated[FinalAdapter | CheckpointAdapter, Field(discriminator="kind")] | None = None
    base_model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stream: bool | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    structured_outputs: dict[str, Any] | None = None
    # Forwarded by the SDK since PR #210 (docs/protocol.md §14.13); vLLM's own meanings.
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    stream_options: dict[str, Any] | None = None
    enable_thinking: bool | None = None
    reasoning_effort: str | None = None

    @field_validator("messages", mode="before")
    @classmethod
    def _messages_as_dicts(cls, messages: Any) -> Any:
        # Models are accepted for convenience; only their set fields go on the wire.
        if isinstance(messages, list):
            return [
                m.model_dump(mode="json", exclude_none=True) if isinstance(m, BaseModel) else m
                for m in messages
            ]
        return messages


class ChatChoice(OpenAIModel):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(OpenAIModel):
    id: str | None = None
    model: str | None = None
    choices: list[ChatChoice]
    usage: dict[str, Any] | None = None


class ChunkChoice(OpenAIModel):
    index: int = 0
    delta: dict[str, Any] = {}
    finish_reason: str | None = None


class ChatCompletionChunk(OpenAIModel):
    id: str | None = None
    model: str | None = None
    choices: list[ChunkChoice] = []

"""The parser a replay uses: the stream writer's own MessageParser, built from the writer's current settings.

It reads the same `TDS_MQTT_TOPICS` / payload limits as `tds-ingest`, so a replay judges a dead
letter exactly as a writer started now would; it must never invent parsing rules of its own.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest_stream.parsing import MessageParser, ParserLimits, parse_templates
from ingest_stream.settings import DEFAULT_TOPICS

_DEFAULT_LIMITS = ParserLimits()


class ParserSettings(BaseSettings):
    """The writer's parsing settings only (same variables and defaults as `ingest_stream.settings`).

    A narrow model rather than IngestSettings: the replay needs no broker, instance id or
    coordination, and must not fail on the writer's validation of those.
    """

    model_config = SettingsConfigDict(env_prefix="TDS_", extra="ignore")

    mqtt_topics: str = Field(default=DEFAULT_TOPICS, description="comma-separated topic templates")
    max_payload_bytes: int = Field(default=_DEFAULT_LIMITS.max_payload_bytes, ge=1)
    max_future_skew_s: float = Field(default=_DEFAULT_LIMITS.max_future_skew_s, ge=0)


def current_parser(settings: ParserSettings) -> MessageParser:
    """ValueError (one sentence) when the topic templates are not valid."""
    limits = ParserLimits(max_payload_bytes=settings.max_payload_bytes, max_future_skew_s=settings.max_future_skew_s)
    return MessageParser(parse_templates(settings.mqtt_topics), limits)

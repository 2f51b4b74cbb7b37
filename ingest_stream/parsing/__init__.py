"""The stream writer's pure parsing layer: MQTT topic + payload bytes -> records.Parsed.

Nothing here does I/O, reads settings or the clock, or imports tds_platform/dagster; the I/O side
builds a MessageParser once and calls `parse` for every message.
"""

from ingest_stream.parsing.parser import MessageParser, ParserLimits
from ingest_stream.parsing.topics import DEFAULT_TOPIC_TEMPLATE, TopicTemplate, parse_templates

__all__ = ["DEFAULT_TOPIC_TEMPLATE", "MessageParser", "ParserLimits", "TopicTemplate", "parse_templates"]

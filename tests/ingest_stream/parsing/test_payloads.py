"""The payload models on their own: the schema other components (DLQ replay, docs) can use without a parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ingest_stream.parsing.names import is_safe_name, name_problem, storable
from ingest_stream.parsing.payloads import AckV1, EventV1, TelemetryV1, ValidationLimits
from ingest_stream.records import Quality

FAR_FUTURE = {"schema": "v1", "ts": "2099-01-01T00:00:00Z", "points": [{"name": "a", "v": 1, "q": "bad"}]}


def test_without_context_only_the_shape_is_checked() -> None:
    message = TelemetryV1.model_validate(FAR_FUTURE)
    assert message.ts == datetime(2099, 1, 1, tzinfo=UTC)
    assert message.points[0].q is Quality.BAD
    assert message.points[0].landed_value() == (1.0, None)


def test_context_limits_apply() -> None:
    limits = ValidationLimits(max_name_length=128, earliest=datetime(2000, 1, 1, tzinfo=UTC),
                              latest=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="later than 2027-01-01"):
        TelemetryV1.model_validate(FAR_FUTURE, context=limits)
    with pytest.raises(ValidationError, match="the limit is 1"):
        TelemetryV1.model_validate(FAR_FUTURE | {"points": [{"name": "ab", "v": 1}]},
                                   context=ValidationLimits(max_name_length=1))


def test_models_are_frozen() -> None:
    ack = AckV1.model_validate({"schema": "v1", "cmd_id": "c", "status": "done"})
    with pytest.raises(ValidationError):
        ack.status = "error"  # type: ignore[misc]


@pytest.mark.parametrize("model", [TelemetryV1, EventV1, AckV1])
def test_json_schema_documents_the_accepted_input(model: type) -> None:
    schema = model.model_json_schema()
    assert schema["properties"]["schema"] == {"const": "v1", "title": "Schema", "type": "string"}


def test_point_schema_names_types_and_qualities() -> None:
    point = TelemetryV1.model_json_schema()["$defs"]["PointV1"]["properties"]
    assert point["name"]["pattern"] == "^[A-Za-z0-9_.:@-]+$"
    assert point["q"]["enum"] == ["good", "uncertain", "bad", 0, 1, 2]


@pytest.mark.parametrize("name", ["abc\n", "\nabc", "a/b", "a\u200bb", "ab\x7f", "Ａ"])
def test_unsafe_names(name: str) -> None:
    assert not is_safe_name(name)
    assert name_problem(name)


def test_storable_escapes_what_postgresql_text_cannot_hold() -> None:
    assert storable("a\x00b") == "a\\x00b"
    assert storable("a\ud800b") == "a\\ud800b"
    assert storable("°C") == "°C"

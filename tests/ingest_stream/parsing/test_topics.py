"""Topic templates: the syntax, what a received topic resolves to, and the subscription filters."""

from __future__ import annotations

import pytest

from ingest_stream.parsing.topics import DEFAULT_TOPIC_TEMPLATE, TopicTemplate, parse_templates
from ingest_stream.records import DeadLetterReason, Kind, TopicAddress

LEGACY = "equipamentos/{equipment}/dados;tenant=legacy;kind=telem"


@pytest.mark.parametrize(
    ("spec", "topic", "expected"),
    [
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/telem",
                     TopicAddress("acme", "plant-1", "chiller-01", Kind.TELEM), id="default-telem"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/event",
                     TopicAddress("acme", "plant-1", "chiller-01", Kind.EVENT), id="default-event"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/ack",
                     TopicAddress("acme", "plant-1", "chiller-01", Kind.ACK), id="default-ack"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/cmd",
                     TopicAddress("acme", "plant-1", "chiller-01", Kind.CMD), id="default-cmd"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/a.b:c@d_e-f/s/e/telem",
                     TopicAddress("a.b:c@d_e-f", "s", "e", Kind.TELEM), id="every-safe-character"),
        pytest.param(LEGACY, "equipamentos/bomba-7/dados",
                     TopicAddress("legacy", None, "bomba-7", Kind.TELEM), id="legacy-defaults-no-site"),
        pytest.param("site/{site}/{tenant}/{kind}/{equipment}", "site/s9/t1/event/e5",
                     TopicAddress("t1", "s9", "e5", Kind.EVENT), id="any-order"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01", None, id="too-few-segments"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/telem/x", None, id="too-many-segments"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "TDS/acme/plant-1/chiller-01/telem", None, id="literal-is-case-sensitive"),
        pytest.param(LEGACY, "equipamentos/bomba-7/outros", None, id="legacy-other-literal"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/+/plant-1/chiller-01/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="wildcard-plus"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/#/chiller-01/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="wildcard-hash"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/$acme/plant-1/chiller-01/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="dollar"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds//plant-1/chiller-01/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="empty-segment"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/ac me/plant-1/chiller-01/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="space"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller\x00/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="nul"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/bomba-água/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="non-ascii"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/" + "a" * 129 + "/s/e/telem", DeadLetterReason.HOSTILE_TOPIC,
                     id="segment-too-long"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/" + "a" * 128 + "/s/e/telem",
                     TopicAddress("a" * 128, "s", "e", Kind.TELEM), id="segment-at-length-limit"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/telemetry", DeadLetterReason.UNKNOWN_KIND,
                     id="unknown-kind"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/TELEM", DeadLetterReason.UNKNOWN_KIND,
                     id="kind-is-case-sensitive"),
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/acme/plant-1/chiller-01/te+lem", DeadLetterReason.HOSTILE_TOPIC,
                     id="hostile-before-unknown-kind"),
    ],
)
def test_match(spec: str, topic: str, expected: object) -> None:
    assert TopicTemplate.parse(spec).match(topic) == expected


def test_match_uses_the_given_name_length_limit() -> None:
    template = TopicTemplate.parse(DEFAULT_TOPIC_TEMPLATE)
    assert template.match("tds/abcdef/s/e/telem", max_name_length=5) is DeadLetterReason.HOSTILE_TOPIC
    assert template.match("tds/abcde/s/e/telem", max_name_length=5) == TopicAddress("abcde", "s", "e", Kind.TELEM)


@pytest.mark.parametrize(
    ("spec", "expected_filter"),
    [
        pytest.param(DEFAULT_TOPIC_TEMPLATE, "tds/+/+/+/+", id="default"),
        pytest.param(LEGACY, "equipamentos/+/dados", id="legacy"),
        pytest.param("  a/{tenant}/{equipment}/{kind}  ", "a/+/+/+", id="surrounding-spaces"),
    ],
)
def test_subscription_filter(spec: str, expected_filter: str) -> None:
    assert TopicTemplate.parse(spec).subscription_filter == expected_filter


@pytest.mark.parametrize(
    ("spec", "message_part"),
    [
        pytest.param("", "no topic layout", id="empty"),
        pytest.param(";tenant=x", "no topic layout", id="only-defaults"),
        pytest.param("tds/{tenant}/{site}/{equipment}/{color}", "unknown placeholder '{color}'", id="unknown-field"),
        pytest.param("tds/{tenant}/{tenant}/{equipment}/{kind}", "twice", id="placeholder-twice"),
        pytest.param("tds/{tenant}/{equipment}", "does not say the kind", id="kind-missing"),
        pytest.param("tds/{equipment}/{kind}", "does not say the tenant", id="tenant-missing"),
        pytest.param("tds/+/{tenant}/{equipment}/{kind}", "MQTT wildcard '+'", id="wildcard-literal"),
        pytest.param("tds/#", "MQTT wildcard '#'", id="hash-literal"),
        pytest.param("tds//{tenant}/{equipment}/{kind}", "is empty", id="empty-segment"),
        pytest.param("tds/x{tenant}/{equipment}/{kind}", "outside the safe set", id="placeholder-inside-literal"),
        pytest.param("a/{equipment};tenant;kind=telem", "is not a default", id="default-without-value"),
        pytest.param("a/{equipment};color=red;tenant=t;kind=telem", "is not a default", id="default-unknown-field"),
        pytest.param("a/{tenant}/{equipment}/{kind};tenant=x", "gives tenant twice", id="default-for-placed-field"),
        pytest.param("a/{equipment};tenant=x;tenant=y;kind=telem", "gives tenant twice", id="default-twice"),
        pytest.param("a/{equipment};tenant=bad name;kind=telem", "contains whitespace", id="default-unsafe"),
        pytest.param("a/{equipment};tenant=t;kind=telemetry", "is not one of", id="default-kind-unknown"),
    ],
)
def test_bad_spec_is_one_clear_sentence(spec: str, message_part: str) -> None:
    with pytest.raises(ValueError, match="Topic template") as raised:
        TopicTemplate.parse(spec)
    assert message_part in str(raised.value)
    assert str(raised.value).endswith(".")


def test_parse_templates_keeps_order_and_skips_blanks() -> None:
    templates = parse_templates(f" {DEFAULT_TOPIC_TEMPLATE} , ,{LEGACY}")
    assert [t.subscription_filter for t in templates] == ["tds/+/+/+/+", "equipamentos/+/dados"]
    assert templates == [TopicTemplate.parse(DEFAULT_TOPIC_TEMPLATE), TopicTemplate.parse(LEGACY)]


@pytest.mark.parametrize("specs", [pytest.param("", id="empty"), pytest.param(" , ", id="only-commas")])
def test_parse_templates_needs_one(specs: str) -> None:
    with pytest.raises(ValueError, match="No topic template"):
        parse_templates(specs)


def test_explain_names_the_offending_segment() -> None:
    template = TopicTemplate.parse(DEFAULT_TOPIC_TEMPLATE)
    expected = "topic 'tds/acme/pl ant/e/telem': segment 3 'pl ant' contains whitespace"
    assert template.explain("tds/acme/pl ant/e/telem") == expected
    assert "kind 'foo' is not one of telem, event, ack, cmd" in template.explain("tds/a/s/e/foo")

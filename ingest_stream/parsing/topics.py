"""MQTT topic templates: which topics the writer ingests and what tenant/site/equipment/kind they name.

Pure string work; a topic is only ever split and compared, never used to build a query or a path.

Template syntax (TDS_MQTT_TOPICS holds a comma-separated list; the first template that matches wins):

    tds/{tenant}/{site}/{equipment}/{kind}
    equipamentos/{equipment}/dados;tenant=legacy;kind=telem

- Segments are separated by `/`. A segment is either a literal (matched exactly) or one whole
  placeholder: `{tenant}`, `{site}`, `{equipment}` or `{kind}`, each at most once.
- After the layout, `;field=value` pairs give defaults for fields the layout lacks, so legacy
  layouts can be ingested without touching devices. `tenant`, `equipment` and `kind` must each come
  from the layout or a default; `site` may be absent (it is then None).
- Literals and defaults must be safe names (names.py); wildcards and empty segments are refused.
- `kind` is one of telem, event, ack, cmd (cmd: the platform's own commands, ignored by the writer).

Matching a received topic: a different number of segments or a different literal means "not this
template" (None). A placeholder segment that is not a safe name makes the topic hostile, and a kind
outside the list is an unknown kind; both are dead-lettered rather than tried against later templates.
"""

from __future__ import annotations

from ingest_stream.parsing.names import DEFAULT_MAX_NAME_LENGTH, is_safe_name, name_problem, shown
from ingest_stream.records import DeadLetterReason, Kind, TopicAddress

DEFAULT_TOPIC_TEMPLATE = "tds/{tenant}/{site}/{equipment}/{kind}"
FIELDS = ("tenant", "site", "equipment", "kind")
REQUIRED_FIELDS = ("tenant", "equipment", "kind")
_KINDS = {kind.value: kind for kind in Kind}


class TopicTemplate:
    """One parsed template; build it with `TopicTemplate.parse(spec)`."""

    __slots__ = ("_defaults", "_fields", "_length", "_literals", "segments", "spec")

    def __init__(self, spec: str, segments: tuple[str, ...], defaults: dict[str, str]) -> None:
        self.spec = spec
        self.segments = segments
        self._length = len(segments)
        self._literals = tuple((i, s) for i, s in enumerate(segments) if not _is_placeholder(s))
        self._fields = tuple((i, s[1:-1]) for i, s in enumerate(segments) if _is_placeholder(s))
        self._defaults = dict(defaults)

    @classmethod
    def parse(cls, spec: str) -> TopicTemplate:
        """The template `spec` describes; ValueError with one sentence when it is not valid."""
        layout, *pairs = spec.strip().split(";")
        if not layout:
            raise ValueError(f"Topic template {spec!r} has no topic layout before ';'.")
        segments = tuple(layout.split("/"))
        placed: list[str] = []
        for segment in segments:
            if _is_placeholder(segment):
                field = segment[1:-1]
                if field not in FIELDS:
                    raise ValueError(f"Topic template {spec!r}: unknown placeholder {segment!r}; use {_field_list()}.")
                if field in placed:
                    raise ValueError(f"Topic template {spec!r} uses {segment!r} twice.")
                placed.append(field)
            elif problem := name_problem(segment):
                raise ValueError(f"Topic template {spec!r}: literal segment {segment!r} {problem}.")
        defaults = _parse_defaults(spec, pairs, placed)
        missing = [field for field in REQUIRED_FIELDS if field not in placed and field not in defaults]
        if missing:
            raise ValueError(
                f"Topic template {spec!r} does not say the {' or '.join(missing)}: add a placeholder "
                f"or a default such as ';{missing[0]}=...'."
            )
        return cls(spec.strip(), segments, defaults)

    def match(
        self, topic: str, max_name_length: int = DEFAULT_MAX_NAME_LENGTH
    ) -> TopicAddress | DeadLetterReason | None:
        """The address `topic` names, a dead-letter reason (hostile topic, unknown kind), or None
        when the topic is not laid out like this template."""
        parts = topic.split("/")
        if len(parts) != self._length:
            return None
        for index, literal in self._literals:
            if parts[index] != literal:
                return None
        values = self._defaults.copy()
        for index, field in self._fields:
            segment = parts[index]
            if not is_safe_name(segment, max_name_length):
                return DeadLetterReason.HOSTILE_TOPIC
            values[field] = segment
        kind = _KINDS.get(values["kind"])
        if kind is None:
            return DeadLetterReason.UNKNOWN_KIND
        return TopicAddress(tenant=values["tenant"], site=values.get("site"), equipment=values["equipment"], kind=kind)

    def explain(self, topic: str, max_name_length: int = DEFAULT_MAX_NAME_LENGTH) -> str:
        """One sentence on why `match` refused `topic` (for the dead letter's detail)."""
        problem = topic_problem(topic, max_name_length)
        if problem:
            return problem
        kind_index = next((index for index, field in self._fields if field == "kind"), None)
        if kind_index is not None:
            kind = topic.split("/")[kind_index]
            return f"topic {shown(topic)}: kind {shown(kind)} is not one of {', '.join(_KINDS)}"
        return f"topic {shown(topic)} does not match {self.spec!r}"

    @property
    def subscription_filter(self) -> str:
        """The MQTT filter that receives every topic of this layout, e.g. "tds/+/+/+/+"."""
        return "/".join("+" if _is_placeholder(s) else s for s in self.segments)

    def __repr__(self) -> str:
        return f"TopicTemplate.parse({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TopicTemplate) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


def parse_templates(specs: str) -> list[TopicTemplate]:
    """The templates of a comma-separated list (the TDS_MQTT_TOPICS setting), in order."""
    templates = [TopicTemplate.parse(spec) for spec in specs.split(",") if spec.strip()]
    if not templates:
        raise ValueError(f"No topic template in {specs!r}; the default is {DEFAULT_TOPIC_TEMPLATE!r}.")
    return templates


def topic_problem(topic: str, max_name_length: int = DEFAULT_MAX_NAME_LENGTH) -> str | None:
    """Why `topic` is hostile (its first unsafe segment, one sentence), or None when every segment is safe."""
    for number, segment in enumerate(topic.split("/"), start=1):
        problem = name_problem(segment, max_name_length)
        if problem:
            return f"topic {shown(topic)}: segment {number} {problem}"
    return None


def _is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _field_list() -> str:
    return ", ".join("{" + field + "}" for field in FIELDS)


def _parse_defaults(spec: str, pairs: list[str], placed: list[str]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for pair in pairs:
        field, separator, value = pair.strip().partition("=")
        field, value = field.strip(), value.strip()
        if not separator or field not in FIELDS:
            raise ValueError(
                f"Topic template {spec!r}: {pair!r} is not a default; write field=value with field in {FIELDS}."
            )
        if field in placed or field in defaults:
            raise ValueError(f"Topic template {spec!r} gives {field} twice.")
        if problem := name_problem(value):
            raise ValueError(f"Topic template {spec!r}: default {field} {value!r} {problem}.")
        if field == "kind" and value not in _KINDS:
            raise ValueError(f"Topic template {spec!r}: kind {value!r} is not one of {', '.join(_KINDS)}.")
        defaults[field] = value
    return defaults

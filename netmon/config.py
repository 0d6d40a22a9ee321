"""netmon.yaml and its target files -> validated, frozen models.

Step: YAML. **YAML** -> scheduler -> collectors -> samples -> rates -> (sinks,
alerts) -> notifiers. Everything after this step trusts what it is given here.

``load_config`` reads the main file, expands its ``include:`` globs, overlays
``defaults`` (main file, then the target file's own) under each target,
resolves the target's ``snmp`` profile name to credentials, and validates.
It reports every problem in every file at once, each as
``FILE:LINE:COL: PATH: MESSAGE`` pointing at the offending YAML node, and never
prints a value that could be a secret.
"""

from __future__ import annotations

import difflib
import functools
import glob
import ipaddress
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from netmon import plugins
from netmon.credentials import SnmpV2c, SnmpV3
from netmon.secrets import ALLOW_UNRESOLVED, SECRET_UNRESOLVED
from netmon.units import Bandwidth, Duration, Percent

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Link",
    "Service",
    "SettingsBase",
    "SnmpCredentials",
    "Target",
    "TargetDefaults",
    "check_config",
    "load_config",
    "settings_model",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_CONFIG_PATH = Path("/etc/netmon/netmon.yaml")

_MODEL = ConfigDict(
    extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True
)

Tier = Literal["backbone", "ministry", "province", "district", "datacentre"]
Role = Literal["uplink", "plane-a", "plane-b", "access"]
LogLevel = Literal["debug", "info", "warning", "error"]
SnmpCredentials = Annotated[SnmpV2c | SnmpV3, Field(discriminator="version")]

# Shared by Target and TargetDefaults so a bad value in defaults and the same
# value inherited by a target produce the same message (reported once).
Port = Annotated[int, Field(ge=1, le=65535)]
Retries = Annotated[int, Field(ge=0, le=10)]
MaxRepetitions = Annotated[int, Field(ge=1, le=200)]


# --------------------------------------------------------------------------- validators


def _compile_regex(value: object) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a regular expression (a string)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _check_address(value: object) -> str:
    """An IPv4/IPv6 literal or an RFC 1123 host name."""
    if not isinstance(value, str):
        raise ValueError("expected an IP address or host name (put quotes around it)")
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return text
    labels = text.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        raise ValueError(f"{value!r} is not a valid IPv4 address (four numbers 0-255)")
    if ":" in text:
        raise ValueError(f"{value!r} is not a valid IPv6 address")
    if len(text) <= 253 and all(_HOST_LABEL.match(label) for label in labels):
        return text
    raise ValueError(
        f"{value!r} is not an IP address or host name "
        "(examples: 192.0.2.10, 2001:db8::10, core-a.example.net)"
    )


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile_regex)]
Address = Annotated[str, BeforeValidator(_check_address)]


# --------------------------------------------------------------------------- models


class Link(BaseModel):
    """One monitored interface of a target, chosen by exactly one selector."""

    model_config = _MODEL

    if_name: str | None = Field(None, alias="ifName")
    if_alias: Regex | None = Field(None, alias="ifAlias")
    if_index: int | None = Field(None, alias="ifIndex", ge=1)
    name: str | None = None
    capacity_bps: Bandwidth | None = Field(None, alias="capacity")
    role: Role = "access"
    threshold_pct: Percent = Field(50.0, alias="threshold")

    @model_validator(mode="after")
    def _exactly_one_selector(self) -> Link:
        given = [
            key
            for key, value in (
                ("ifName", self.if_name),
                ("ifAlias", self.if_alias),
                ("ifIndex", self.if_index),
            )
            if value is not None
        ]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise ValueError(f"a link needs exactly one of ifName, ifAlias or ifIndex{got}")
        return self

    @property
    def selector(self) -> str:
        """``ifName=xe-0/0/0``, ``ifAlias~^UPLINK`` or ``ifIndex=3``."""
        if self.if_name is not None:
            return f"ifName={self.if_name}"
        if self.if_alias is not None:
            return f"ifAlias~{self.if_alias.pattern}"
        return f"ifIndex={self.if_index}"

    @property
    def label(self) -> str:
        return self.name or self.selector


class PollSettings(BaseModel):
    """How a target is polled: what ``defaults:`` and a target may both set."""

    model_config = _MODEL

    port: Port = 161
    interval_s: Duration = Field(60.0, alias="interval")
    timeout_s: Duration = Field(2.0, alias="timeout")
    retries: Retries = 1
    max_repetitions: MaxRepetitions = 25
    deadline_s: Duration | None = Field(None, alias="deadline")
    discover: bool = False
    collectors: tuple[str, ...] = ("interfaces",)

    @field_validator("collectors")
    @classmethod
    def _known_collectors(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        known = plugins.collectors()
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown collector '{name}' (known: "
                                 f"{', '.join(sorted(known))}){hint}")
        if len(set(names)) != len(names):
            raise ValueError("a collector is listed twice")
        return names


# ---- IPv6 readiness: a target's IPv6 management address and its agency services


def _check_address6(value: object) -> str:
    """An IPv6 literal (the agent's management address over IPv6)."""
    if not isinstance(value, str):
        raise ValueError("expected an IPv6 address (put quotes around it)")
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        ip = None
    if ip is None or ip.version != 6:
        raise ValueError(f"{value!r} is not an IPv6 address (example: 2001:db8::10)")
    return str(ip)


Address6 = Annotated[str, BeforeValidator(_check_address6)]
ServiceKind = Literal["portal", "dns", "mail"]


class Service(BaseModel):
    """One agency service checked over IPv6: exactly one of ``portal``, ``dns``, ``mail``.

    ``portal``: a URL (``https://portal.example.gov/``) or a host name (HTTPS);
    ``dns``: a zone, whose name servers are checked; ``mail``: a mail domain,
    whose MX hosts are checked. ``offered: false`` says the service is
    deliberately not offered over IPv6 (shown grey, never alerted on).
    """

    model_config = _MODEL

    portal: str | None = None
    dns: str | None = None
    mail: str | None = None
    agency: str | None = None
    port: Port | None = None
    offered: bool = True

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Service:
        given = [k for k in ("portal", "dns", "mail") if getattr(self, k) is not None]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise ValueError(f"a service needs exactly one of portal, dns or mail{got}")
        value = getattr(self, given[0]).strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(f"{given[0]}: {value!r} is not a host name or URL")
        return self

    @property
    def kind(self) -> ServiceKind:
        return "portal" if self.portal is not None else "dns" if self.dns is not None else "mail"

    @property
    def name(self) -> str:
        return str(self.portal or self.dns or self.mail)


class TargetDefaults(PollSettings):
    """What ``defaults:`` may set for every target (main file, then per target file)."""

    snmp: str | None = None


class Target(PollSettings):
    """One SNMP agent to poll, with its credentials already resolved."""

    name: str
    site: str
    tier: Tier
    province: str | None = None
    address: Address
    snmp: SnmpCredentials
    links: tuple[Link, ...] = ()
    address6: Address6 | None = None
    services: tuple[Service, ...] = ()

    _source: str = PrivateAttr("")

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, Mapping):
            self._source = str(context.get("source", ""))

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("target name must be non-empty and contain no whitespace")
        return value

    @field_validator("links")
    @classmethod
    def _unique_selectors(cls, links: tuple[Link, ...]) -> tuple[Link, ...]:
        first: dict[str, int] = {}
        for i, link in enumerate(links):
            if link.selector in first:
                # A custom type so the loader can point at the second link itself.
                raise PydanticCustomError(
                    "duplicate_link",
                    "duplicate link {selector} (links[{first}] and links[{second}])",
                    {"selector": link.selector, "first": first[link.selector], "second": i},
                )
            first[link.selector] = i
        return links

    @property
    def source(self) -> str:
        """``FILE:LINE`` where the target is written, for messages."""
        return self._source

    @property
    def effective_deadline_s(self) -> float:
        return self.deadline_s if self.deadline_s is not None else 0.8 * self.interval_s


class SettingsBase(BaseModel):
    """Everything in netmon.yaml that is netmon's own, except the targets.

    The plugins' sections (``http``, ``storage``, ``interfaces``, ``alerts`` ...)
    are added by ``settings_model()`` from the registry (netmon.plugins).
    """

    model_config = _MODEL

    state_dir: Path = Path("/var/lib/netmon")
    log_level: LogLevel = "info"
    include: list[str] = Field(default_factory=list)
    snmp_profiles: dict[str, SnmpCredentials] = Field(default_factory=dict)
    defaults: TargetDefaults = Field(default_factory=TargetDefaults)
    tier_defaults: dict[Tier, TargetDefaults] = Field(default_factory=dict)
    """Per tier, over ``defaults:`` of the main file (target files' ``defaults:`` and
    the target itself still win)."""


def tier_collectors(tier: str) -> tuple[str, ...]:
    """The collectors of a target of ``tier`` that names none anywhere: ``interfaces``
    plus every collector registered for that tier (``register_collector(tiers=...)``)."""
    extra = sorted(name for name, plugin in plugins.collectors().items()
                   if tier in plugin.tiers and name != "interfaces")
    return ("interfaces", *extra)


@functools.cache
def settings_model() -> type[SettingsBase]:
    """The settings model: ``SettingsBase`` plus one key per registered section."""
    extra: dict[str, Any] = {
        name: (options, Field(default_factory=options))
        for name, options in sorted(plugins.sections().items())
    }
    clash = sorted(extra.keys() & SettingsBase.model_fields.keys())
    if clash:
        raise ValueError(f"plugin sections clash with netmon's own settings: {clash}")
    return create_model("Settings", __base__=SettingsBase, __module__=__name__, **extra)


@dataclass(frozen=True, slots=True)
class Config:
    """The loaded configuration: settings, every target, and every file read."""

    settings: Any  # an instance of settings_model(): SettingsBase + plugin sections
    targets: tuple[Target, ...]
    files: tuple[Path, ...]
    warnings: tuple[ConfigIssue, ...] = ()
    """Secret references not resolvable here (only when loaded with ``strict=False``)."""

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem, located at the YAML node that causes it (1-based line and column)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in every file; ``str()`` is one issue per line."""

    def __init__(self, issues: Iterable[ConfigIssue],
                 warnings: Iterable[ConfigIssue] = ()) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        self.warnings: list[ConfigIssue] = list(warnings)  # as Config.warnings
        super().__init__("\n".join(str(issue) for issue in self.issues))


# --------------------------------------------------------------------------- YAML with marks

YamlPath = tuple[str | int, ...]
Pos = tuple[int, int]
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
# Explicit tags that only say what plain YAML would mean anyway (``!!str 12345``
# keeps a community that looks like a number as text). Every other explicit tag
# (!!timestamp, !!binary, !!set, !ugly ...) is refused: config is plain data.
_ALLOWED_SCALAR_TAGS = frozenset(
    _YAML_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null"))
_ALLOWED_COLLECTION_TAGS = frozenset((_YAML_TAG_PREFIX + "seq", _YAML_TAG_PREFIX + "map"))
_IMPLICIT = yaml.resolver.Resolver()


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX):] if tag.startswith(_YAML_TAG_PREFIX) else tag


@dataclass(slots=True)
class _Doc:
    """One YAML file as plain Python data, plus where each key and value is written."""

    label: str
    path: Path
    data: Any = None
    marks: dict[YamlPath, tuple[Pos | None, Pos]] = field(default_factory=dict)

    def pos(self, path: YamlPath, *, at_key: bool = False) -> Pos:
        """Position of ``path``, or of its nearest ancestor that is written in the file."""
        probe = path
        while probe and probe not in self.marks:
            probe = probe[:-1]
        key_pos, value_pos = self.marks.get(probe, (None, (1, 1)))
        if at_key and key_pos is not None and probe == path:
            return key_pos
        return value_pos


def _pos(mark: yaml.Mark) -> Pos:
    return mark.line + 1, mark.column + 1


def format_path(path: YamlPath) -> str:
    """``('targets', 12, 'links', 0, 'capacity')`` -> ``targets[12].links[0].capacity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[^.\[\]\s\"]+", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


class _Builder:
    """Turns a composed node tree into dicts/lists/scalars, recording marks on the way."""

    def __init__(self, doc: _Doc, report: Callable[[_Doc, YamlPath, str, Pos], None]) -> None:
        self.doc = doc
        self.report = report
        self.constructor = yaml.constructor.SafeConstructor()
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: YamlPath, key_pos: Pos | None = None) -> Any:
        self.doc.marks[path] = (key_pos, _pos(node.start_mark))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _ALLOWED_COLLECTION_TAGS:
            self.report(self.doc, path, f"the YAML tag {_tag_name(node.tag)} is not supported "
                        "here; write a plain list or mapping", _pos(node.start_mark))
            return None
        if id(node) in self.active:
            self.report(self.doc, path, "recursive YAML alias", _pos(node.start_mark))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - compose only yields the three node kinds

    def _scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        """Construct one scalar. Never raises, and never quotes the value in an error:
        it may be a secret."""
        tag = node.tag
        explicit = False
        if tag != _STR_TAG:
            implicit = (_STR_TAG if node.style else
                        _IMPLICIT.resolve(yaml.ScalarNode, node.value, (True, False)))
            explicit = tag != implicit
            if explicit and tag not in _ALLOWED_SCALAR_TAGS:
                self.report(self.doc, path, f"the YAML tag {_tag_name(tag)} is not supported "
                            "here; write the value without it", _pos(node.start_mark))
                return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.constructor.ConstructorError, ValueError, TypeError, KeyError,
                OverflowError, ArithmeticError):
            # PyYAML's constructors raise plain ValueError / KeyError for
            # '!!int abc', '!!bool maybe' or a date like 2020-13-45, and their
            # messages quote the value.
            what = _tag_name(tag)
            hint = ("" if explicit else
                    "; put quotes around the value if it is text")
            self.report(self.doc, path, f"the value is not a valid {what}{hint}",
                        _pos(node.start_mark))
            return None

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.report(self.doc, path, "mapping keys must be plain names",
                            _pos(key_node.start_mark))
                continue
            key = key_node.value
            if key in first_line:
                self.report(
                    self.doc, (*path, key),
                    f"duplicate key '{key}' (first written at line {first_line[key]})",
                    _pos(key_node.start_mark),
                )
            else:
                first_line[key] = key_node.start_mark.line + 1
        try:
            self.constructor.flatten_mapping(node)  # resolve '<<: *anchor' merge keys
        except yaml.constructor.ConstructorError as exc:
            self.report(self.doc, path, str(exc.problem), _pos(node.start_mark))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = key_node.value
                result[key] = self.build(value_node, (*path, key), _pos(key_node.start_mark))
        return result


# --------------------------------------------------------------------------- pydantic errors


def _unwrap(tp: Any) -> Any:
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _model_field(model: type[BaseModel], key: object) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _union_member(tp: Any, elem: object) -> Any:
    for member in get_args(tp):
        if not _is_model(member):
            continue
        if elem == member.__name__:
            return member
        for info in member.model_fields.values():
            if get_origin(info.annotation) is Literal and elem in get_args(info.annotation):
                return member
    return None


def _walk(root: Any, loc: tuple[str | int, ...]) -> tuple[YamlPath, Any, Any]:
    """Map a pydantic ``loc`` onto a YAML path, dropping union tags.

    Returns ``(path, owner, final)``: the model whose keys the last element is
    looked up in, and the type expected at the end of the path.
    """
    tp: Any = root
    path: list[str | int] = []
    owner: Any = None
    for elem in loc:
        tp = _unwrap(tp)
        if _is_model(tp):
            owner = tp
            info = _model_field(tp, elem)
            path.append(elem)
            tp = info.annotation if info is not None else None
            continue
        owner = None
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            member = _union_member(tp, elem)
            if member is not None:
                tp = member
                continue
        path.append(elem)
        if origin is dict:
            tp = get_args(tp)[1]
        elif origin in (list, tuple):
            tp = get_args(tp)[0]
        else:
            tp = None
    return tuple(path), owner, _unwrap(tp)


def _lookup(data: Any, path: YamlPath) -> Any:
    for part in path:
        found = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if not found:
            return None
        data = data[part]
    return data


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return type(value).__name__


def _show(value: Any) -> str:
    """A non-secret scalar as written (only used for enum-like and numeric fields)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    return _kind(value)


def _tags(tp: Any) -> list[str]:
    tags: list[str] = []
    for member in get_args(tp):
        if _is_model(member) and "version" in member.model_fields:
            tags += [str(t) for t in get_args(member.model_fields["version"].annotation)]
    return tags


def _unknown_key_message(key: str, expected: Iterable[str]) -> str:
    names = sorted(set(expected), key=str.lower)
    message = f"unknown key '{key}' (expected one of: {', '.join(names)})"
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return message


# A located YAML path: which file, and where in it.
Locate = Callable[[YamlPath], tuple[_Doc, YamlPath]]
_PROFILE = TypeAdapter(SnmpCredentials)
_DEFAULT_KEYS = frozenset(_keys_of(TargetDefaults))


# --------------------------------------------------------------------------- loader


# libyaml's parser, where PyYAML was built with it, reads a 1,000-router file
# about six times faster than the pure-Python one, with the same marks.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        # Parse again with the pure-Python loader: its messages say more
        # ("expected ',' or '}', but got '<stream end>'"); it raises here too.
        return yaml.compose(text, Loader=yaml.SafeLoader)


class _Loader:
    def __init__(self, path: Path, *, strict: bool = True) -> None:
        self.path = path
        self.strict = strict
        self.issues: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.seen_issues: set[ConfigIssue] = set()
        # (file, key path) of values the YAML itself could not give: a later
        # "expected text, got nothing" there would only repeat the problem.
        self.unreadable: set[tuple[str, str]] = set()
        self.rank: dict[str, int] = {}
        self.files: list[Path] = []
        self.read_paths: set[Path] = set()
        self.profiles: dict[str, SnmpV2c | SnmpV3] = {}
        self.defined: set[str] = set()
        self.targets: list[tuple[Target, _Doc, YamlPath]] = []
        self.main_doc: _Doc | None = None
        self.tier_defaults: dict[str, _Defaults] = {}

    # ---- reporting

    def add(self, issue: ConfigIssue) -> None:
        self.rank.setdefault(issue.file, len(self.rank))
        if (issue.file, issue.path) in self.unreadable:
            return
        if issue not in self.seen_issues:
            self.seen_issues.add(issue)
            self.issues.append(issue)

    def at(self, doc: _Doc, path: YamlPath, message: str, *, at_key: bool = False) -> None:
        line, col = doc.pos(path, at_key=at_key)
        self.add(ConfigIssue(doc.label, line, col, format_path(path), message))

    def at_pos(self, doc: _Doc, path: YamlPath, message: str, pos: Pos) -> None:
        self.add(ConfigIssue(doc.label, pos[0], pos[1], format_path(path), message))

    def yaml_issue(self, doc: _Doc, path: YamlPath, message: str, pos: Pos) -> None:
        """A value the YAML could not give (bad tag, unconstructible scalar)."""
        self.at_pos(doc, path, message, pos)
        self.unreadable.add((doc.label, format_path(path)))

    def report(
        self,
        exc: ValidationError,
        root: Any,
        locate: Locate,
        *,
        extra_keys: Iterable[str] = (),
        skip: Callable[[YamlPath, str], bool] | None = None,
    ) -> None:
        """Translate pydantic's errors; never uses pydantic's ``input`` (it may be a secret)."""
        for err in exc.errors(include_url=False, include_input=False):
            if err["loc"] and err["loc"][-1] == "[key]":
                # A mapping's key failed (tier_defaults: {data-centre: ...}): point at the key.
                doc, ypath = locate(tuple(err["loc"][:-1]))
                expected = str((err.get("ctx") or {}).get("expected", "")).replace("'", "").replace(
                    " or ", ", ")
                self.at(doc, ypath, f"'{ypath[-1]}' is not one of: {expected}" if expected
                        else f"'{ypath[-1]}': {err['msg']}", at_key=True)
                continue
            path, owner, final = _walk(root, err["loc"])
            kind = err["type"]
            ctx = err.get("ctx") or {}
            if skip is not None and skip(path, kind):
                continue
            if kind == "missing" and path:
                doc, ypath = locate(path[:-1])
                self.at(doc, ypath, f"missing required key '{path[-1]}'")
                continue
            if kind == "extra_forbidden" and path:
                expected = _keys_of(owner) if owner is not None else []
                if owner is root:
                    expected += list(extra_keys)
                doc, ypath = locate(path)
                self.at(doc, ypath, _unknown_key_message(str(path[-1]), expected), at_key=True)
                continue
            if kind == "union_tag_invalid":
                tag_key = str(ctx.get("discriminator", "")).strip("'")
                expected = str(ctx.get("expected_tags", "")).replace("'", "")
                doc, ypath = locate((*path, tag_key))
                self.at(doc, ypath, f"'{ctx.get('tag')}' is not one of: {expected}")
                continue
            if kind == "union_tag_not_found":
                tag_key = str(ctx.get("discriminator", "")).strip("'")
                doc, ypath = locate(path)
                self.at(doc, ypath, f"missing required key '{tag_key}' "
                                    f"(one of: {', '.join(_tags(final))})")
                continue
            if kind == SECRET_UNRESOLVED and not self.strict:
                doc, ypath = locate(path)
                line, col = doc.pos(ypath)
                self.warnings.append(
                    ConfigIssue(doc.label, line, col, format_path(ypath), err["msg"]))
                continue
            if kind == "duplicate_link":
                doc, ypath = locate((*path, int(ctx["second"])))
                self.at(doc, ypath, err["msg"])
                continue
            doc, ypath = locate(path)
            raw = _lookup(doc.data, ypath)
            self.at(doc, ypath, self._message(kind, err["msg"], ctx, final, raw))

    @staticmethod
    def _message(kind: str, msg: str, ctx: Mapping[str, Any], final: Any, raw: Any) -> str:
        if kind in ("value_error", "assertion_error"):
            return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "literal_error":
            choices = (
                [str(c) for c in get_args(final)]
                if get_origin(final) is Literal
                else [c.strip(" '") for c in re.split(r",| or ", str(ctx.get("expected", "")))]
            )
            return f"{_show(raw)} is not one of: {', '.join(choices)}"
        if kind == "string_type":
            hint = " (put quotes around the value)" if not isinstance(raw, dict | list) else ""
            return f"expected text, got {_kind(raw)}{hint}"
        if kind in ("int_type", "int_parsing", "int_from_float"):
            return f"expected a whole number, got {_show(raw)}"
        if kind in ("float_type", "float_parsing"):
            return f"expected a number, got {_show(raw)}"
        if kind in ("bool_type", "bool_parsing"):
            return f"expected true or false, got {_show(raw)}"
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return f"expected a mapping, got {_kind(raw)}"
        if kind in ("list_type", "tuple_type"):
            return f"expected a list, got {_kind(raw)}"
        bounds = {
            "greater_than_equal": ("at least", "ge"),
            "less_than_equal": ("at most", "le"),
            "greater_than": ("more than", "gt"),
            "less_than": ("less than", "lt"),
        }
        if kind in bounds:
            words, key = bounds[kind]
            got = f" (got {raw})" if isinstance(raw, int | float) else ""
            return f"must be {words} {ctx.get(key)}{got}"
        return msg.replace("Input should be", "must be")

    # ---- reading

    def read(self, path: Path, *, include: tuple[_Doc, YamlPath] | None = None) -> _Doc | None:
        doc = _Doc(label=str(path), path=path)
        self.rank.setdefault(doc.label, len(self.rank))
        log.debug("reading %s", doc.label)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.add(ConfigIssue(doc.label, 0, 0, "",
                                 f"not UTF-8 text (bad byte at offset {exc.start})"))
            return None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if include is None:
                self.add(ConfigIssue(doc.label, 0, 0, "", f"cannot read config file: {reason}"))
            else:
                self.at(*include, f"cannot read {doc.label}: {reason}")
            return None
        self.files.append(path)
        try:
            node = _compose(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = _pos(mark) if mark is not None else (1, 1)
            problem = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem and exc.context_mark is not None:
                problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
            self.add(ConfigIssue(doc.label, line, col, "", f"YAML syntax error: {problem}"))
            return None
        except yaml.YAMLError as exc:  # ReaderError: control characters and the like
            self.add(ConfigIssue(doc.label, 1, 1, "", f"YAML error: {exc}"))
            return None
        if node is not None:
            doc.data = _Builder(doc, self.yaml_issue).build(node, ())
        return doc

    # ---- main file

    def run(self) -> Config:
        main = self.read(self.path)
        if main is None:
            raise ConfigError(self.issues)
        data = main.data if main.data is not None else {}
        if not isinstance(data, dict):
            self.at(main, (), f"expected a mapping of settings, got {_kind(data)}")
            raise ConfigError(self.issues)
        base = self.path.parent
        context = {"base_dir": base}

        profiles = data.get("snmp_profiles")
        if isinstance(profiles, dict):
            for name, raw in profiles.items():
                self.defined.add(name)
                if isinstance(raw, dict) and isinstance(raw.get("version"), int | float) \
                        and not isinstance(raw.get("version"), bool):
                    raw = {**raw, "version": str(raw["version"])}  # 'version: 3' unquoted
                profile = self.validate(
                    lambda ctx, raw=raw: _PROFILE.validate_python(raw, context=ctx), context,
                    lambda exc, name=name: self.report(
                        exc, SnmpCredentials, _within(main, ("snmp_profiles", name))))
                if profile is not None:
                    self.profiles[name] = profile

        settings_input = {k: v for k, v in data.items() if k != "targets"}
        if isinstance(profiles, dict):
            settings_input["snmp_profiles"] = self.profiles
        model = settings_model()
        settings: SettingsBase | None = self.validate(
            lambda ctx: model.model_validate(settings_input, context=ctx), context,
            lambda exc: self.report(exc, model, _within(main, ()), extra_keys=("targets",)))

        self.main_doc = main
        raw_tiers = data.get("tier_defaults")
        if isinstance(raw_tiers, dict):
            for tier, raw in raw_tiers.items():
                if isinstance(raw, dict):
                    self.tier_defaults[str(tier)] = {
                        key: (value, main, ("tier_defaults", tier, key))
                        for key, value in raw.items() if key in _DEFAULT_KEYS}
                    if isinstance(raw.get("snmp"), str):
                        self.profile_name(raw["snmp"], main, ("tier_defaults", tier, "snmp"))
        main_defaults = self.defaults(main, data.get("defaults"), {}, validate=False)
        self.target_list(main, data.get("targets"), main_defaults)
        self.includes(main, data.get("include"), main_defaults)
        self.unique_names()

        if self.issues or settings is None:
            order = sorted(self.issues, key=lambda i: (self.rank.get(i.file, 0), i.line, i.column))
            raise ConfigError(order, self.warnings)
        log.debug("loaded %d targets from %d files", len(self.targets), len(self.files))
        return Config(
            settings=settings,
            targets=tuple(t for t, _, _ in self.targets),
            files=tuple(self.files),
            warnings=tuple(self.warnings),
        )

    def validate(
        self,
        make: Callable[[dict[str, Any]], _T],
        context: dict[str, Any],
        report: Callable[[ValidationError], None],
    ) -> _T | None:
        """``make(context)``, its errors reported. Where secret references that cannot be
        resolved here were the only problem and the loader is not strict, they have
        been reported as warnings: validate again with placeholders so the rest is checked."""
        try:
            return make(context)
        except ValidationError as exc:
            report(exc)
            if self.strict or any(e["type"] != SECRET_UNRESOLVED for e in exc.errors()):
                return None
        try:
            return make({**context, ALLOW_UNRESOLVED: True})
        except ValidationError as exc:
            # What the missing values hid: checks across fields, which run only
            # once every field is valid (authNoPriv given a priv_key ...).
            report(exc)
            return None

    def includes(self, main: _Doc, patterns: Any, defaults: _Defaults) -> None:
        if not isinstance(patterns, list):
            return  # absent, or already reported by Settings
        self.read_paths.add(self.path.resolve())
        for i, pattern in enumerate(patterns):
            if not isinstance(pattern, str):
                continue
            joined = pattern if os.path.isabs(pattern) else os.path.join(self.path.parent, pattern)
            matches = [Path(m) for m in sorted(glob.glob(joined, recursive=True))]
            matches = [m for m in matches if not m.is_dir()]
            if not matches:
                where = str(self.path.parent)
                self.at(main, ("include", i), f"'{pattern}' matches no files (looked in {where})")
                continue
            for match in matches:
                resolved = match.resolve()
                if resolved in self.read_paths:
                    continue
                self.read_paths.add(resolved)
                doc = self.read(match, include=(main, ("include", i)))
                if doc is not None:
                    self.target_file(doc, defaults)

    # ---- target files

    def target_file(self, doc: _Doc, main_defaults: _Defaults) -> None:
        data = doc.data if doc.data is not None else {}
        if not isinstance(data, dict):
            self.at(doc, (), f"expected a mapping with 'targets:', got {_kind(data)}")
            return
        for key in data:
            if key not in ("defaults", "targets"):
                self.at(doc, (key,), _unknown_key_message(key, ["defaults", "targets"]),
                        at_key=True)
        defaults = self.defaults(doc, data.get("defaults"), main_defaults, validate=True)
        self.target_list(doc, data.get("targets"), defaults)
        log.debug("%s: read", doc.label)

    def defaults(self, doc: _Doc, raw: Any, inherited: _Defaults, *, validate: bool) -> _Defaults:
        """Overlay this file's ``defaults:`` on ``inherited``; remember where each key came from."""
        merged = dict(inherited)
        if raw is None:
            return merged
        if not isinstance(raw, dict):
            if validate:  # the main file's defaults are checked by Settings
                self.at(doc, ("defaults",), f"expected a mapping, got {_kind(raw)}")
            return merged
        if validate:
            try:
                TargetDefaults.model_validate(raw, context={"base_dir": doc.path.parent})
            except ValidationError as exc:
                self.report(exc, TargetDefaults, _within(doc, ("defaults",)))
        for key, value in raw.items():
            if key in _DEFAULT_KEYS:  # unknown keys are reported above, not per target
                merged[key] = (value, doc, ("defaults", key))
        if "snmp" in raw and isinstance(raw["snmp"], str):
            self.profile_name(raw["snmp"], doc, ("defaults", "snmp"))
        return merged

    def profile_name(self, name: str, doc: _Doc, path: YamlPath) -> SnmpV2c | SnmpV3 | None:
        if name in self.profiles:
            return self.profiles[name]
        if name not in self.defined:
            self.at(doc, path, f"unknown SNMP profile '{name}' ({self.defined_text()})")
        return None  # defined but invalid: reported at snmp_profiles

    def defined_text(self) -> str:
        if not self.defined:
            return "no snmp_profiles are defined in the main file"
        return "defined: " + ", ".join(sorted(self.defined))

    def target_list(self, doc: _Doc, raw: Any, defaults: _Defaults) -> None:
        if raw is None:
            return
        if not isinstance(raw, list):
            self.at(doc, ("targets",), f"expected a list of targets, got {_kind(raw)}")
            return
        for i, item in enumerate(raw):
            self.target(doc, ("targets", i), item, defaults)

    def target(self, doc: _Doc, path: YamlPath, raw: Any, defaults: _Defaults) -> None:
        if not isinstance(raw, dict):
            self.at(doc, path, f"expected a mapping (one target), got {_kind(raw)}")
            return
        effective: dict[str, Any] = {}
        origin: dict[str, tuple[_Doc, YamlPath]] = {}
        tier = raw.get("tier")
        # main file's defaults < tier_defaults.<tier> < target file's defaults < target
        main_level = {k: v for k, v in defaults.items() if v[1] is self.main_doc}
        file_level = {k: v for k, v in defaults.items() if v[1] is not self.main_doc}
        tier_level = self.tier_defaults.get(tier, {}) if isinstance(tier, str) else {}
        for level in (main_level, tier_level, file_level):
            for key, (value, odoc, opath) in level.items():
                effective[key] = value
                origin[key] = (odoc, opath)
        for key, value in raw.items():
            effective[key] = value
            origin[key] = (doc, (*path, key))
        if "collectors" not in effective and isinstance(tier, str):
            effective["collectors"] = list(tier_collectors(tier))
            origin["collectors"] = (doc, (*path, "tier"))

        snmp_ok = False
        if "snmp" not in effective:
            self.at(doc, path, "missing required key 'snmp': name an SNMP profile here or "
                               f"under defaults ({self.defined_text()})")
        elif not isinstance(effective["snmp"], str):
            if origin["snmp"][0] is doc and origin["snmp"][1][:-1] == path:
                # (a bad 'snmp' under defaults is reported once, by the defaults check)
                self.at(*origin["snmp"], "expected an SNMP profile name; credentials belong "
                        f"under snmp_profiles in the main file ({self.defined_text()})")
        else:
            resolved = self.profile_name(effective["snmp"], *origin["snmp"])
            if resolved is not None:
                effective["snmp"] = resolved
                snmp_ok = True
        if not snmp_ok:
            effective.pop("snmp", None)

        def locate(ypath: YamlPath) -> tuple[_Doc, YamlPath]:
            if ypath and ypath[0] in origin:
                odoc, opath = origin[str(ypath[0])]
                return odoc, (*opath, *ypath[1:])
            return doc, (*path, *ypath)

        line = doc.pos(path)[0]
        context = {"base_dir": doc.path.parent, "source": f"{doc.label}:{line}"}
        try:
            target = Target.model_validate(effective, context=context)
        except ValidationError as exc:
            self.report(exc, Target, locate,
                        skip=lambda p, kind: not snmp_ok and p == ("snmp",) and kind == "missing")
            return
        self.targets.append((target, doc, path))

    def unique_names(self) -> None:
        first: dict[str, tuple[_Doc, YamlPath]] = {}
        for target, doc, path in self.targets:
            if target.name in first:
                fdoc, fpath = first[target.name]
                line, col = fdoc.pos((*fpath, "name"))
                self.at(doc, (*path, "name"),
                        f"duplicate target name '{target.name}' "
                        f"(first defined at {fdoc.label}:{line}:{col})")
            else:
                first[target.name] = (doc, path)


# Defaults in force for a file: key -> (raw value, file it is written in, path there).
_Defaults = dict[str, tuple[Any, _Doc, YamlPath]]


def _within(doc: _Doc, prefix: YamlPath) -> Locate:
    return lambda path: (doc, (*prefix, *path))


# --------------------------------------------------------------------------- public API


def load_config(path: str | Path = DEFAULT_CONFIG_PATH, *, strict: bool = True) -> Config:
    """Read, merge and validate; raise ``ConfigError`` listing every problem in every file.

    With ``strict=False`` (``netmon check-config`` without ``--strict``), secret
    references that cannot be resolved here are ``Config.warnings`` and hold
    placeholders: such a Config is for checking, never for polling.
    """
    return _Loader(Path(path), strict=strict).run()


def check_config(path: str | Path = DEFAULT_CONFIG_PATH, *, strict: bool = False) -> int:
    """``netmon check-config``: print a summary (exit 0) or every issue on stderr (exit 1).

    Secret references that cannot be resolved on this machine (no systemd
    credentials directory, an unset variable, an absent file) are warnings, on
    stderr, with exit 0; with ``strict`` they are errors, as before a start.
    """
    try:
        config = load_config(path, strict=strict)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        for issue in exc.warnings:
            print(f"warning: {issue}", file=sys.stderr)
        return 1
    for issue in config.warnings:
        print(f"warning: {issue}", file=sys.stderr)
    links = sum(len(t.links) for t in config.targets)
    summary = f"OK: {len(config.targets)} targets, {links} links in {len(config.files)} files"
    if config.warnings:
        summary += (f"; {len(config.warnings)} secret reference(s) not resolvable here "
                    "(--strict makes them errors)")
    print(summary)
    return 0

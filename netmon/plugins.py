"""The plugin registry: what each package adds to netmon.yaml and to the flow.

Step: YAML. **YAML** -> scheduler -> collectors -> samples -> rates -> (sinks,
alerts) -> notifiers. As Telegraf's ``inputs.Add``: a package registers its
plugins when it is imported (a name, its options model with defaults, a
factory), and ``netmon.config`` builds its settings model from this registry.
Adding a collector, rule, notifier or ``netmon report`` touches only its own folder.

This module imports nothing of netmon's but the model, so every package can
import it without a circle. ``load()`` imports the built-in packages by name
(``importlib``), never with an ``import`` statement.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = [
    "BUILTIN_PACKAGES",
    "CollectorPlugin",
    "Plugin",
    "ReportPlugin",
    "collectors",
    "load",
    "notifiers",
    "register_collector",
    "register_notifier",
    "register_report",
    "register_rule",
    "register_section",
    "reports",
    "rules",
    "sections",
]

BUILTIN_PACKAGES = (
    "netmon.httpapi", "netmon.sinks", "netmon.capacity", "netmon.datacentre", "netmon.ipv6report",
    "collectors", "alerts",
)
"""Imported by ``load()``; each registers its plugins in its ``__init__``/module body."""


@dataclass(frozen=True, slots=True)
class CollectorPlugin:
    """A collector that targets can name in ``collectors:``.

    ``factory`` gets the collector's options (the value of its settings
    section, or None when it has none) and returns a ``netmon.model.Collector``.
    """

    name: str
    factory: Callable[[Any], Any]
    section: str | None = None
    tiers: tuple[str, ...] = ()
    """Tiers whose targets run this collector when they name no ``collectors``."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """A rule or a notifier: ``factory(options)`` builds it from its validated options."""

    name: str
    options: type[BaseModel]
    factory: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class ReportPlugin:
    """``netmon report NAME``: ``add_arguments(parser)`` adds its options (``--config`` is
    there already); ``run(args, config)`` prints the report and returns the exit status."""

    name: str
    help: str
    add_arguments: Callable[[Any], None]
    run: Callable[[Any, Any], int]


_sections: dict[str, type[BaseModel]] = {}
_collectors: dict[str, CollectorPlugin] = {}
_rules: dict[str, Plugin] = {}
_notifiers: dict[str, Plugin] = {}
_reports: dict[str, ReportPlugin] = {}
_loaded = False


def register_section(name: str, options: type[BaseModel]) -> None:
    """``name:`` in netmon.yaml is validated by ``options`` (defaults from the model).

    Registering the same model twice is harmless (a module imported again);
    two different models under one name is a programming error.
    """
    known = _sections.get(name)
    if known is not None and known is not options:
        raise ValueError(f"settings section {name!r} is registered twice "
                         f"({known.__qualname__} and {options.__qualname__})")
    _sections[name] = options


def register_collector(name: str, factory: Callable[[Any], Any], *,
                       section: str | None = None, tiers: tuple[str, ...] = ()) -> None:
    known = _collectors.get(name)
    if known is not None and (known.factory is not factory or known.section != section
                              or known.tiers != tiers):
        raise ValueError(f"collector {name!r} is registered twice")
    _collectors[name] = CollectorPlugin(name, factory, section, tiers)


def _register(table: dict[str, Plugin], kind: str, plugin: Plugin) -> None:
    known = table.get(plugin.name)
    if known is not None and known != plugin:
        raise ValueError(f"{kind} {plugin.name!r} is registered twice")
    table[plugin.name] = plugin


def register_rule(name: str, options: type[BaseModel], factory: Callable[[Any], Any]) -> None:
    """An alert rule: ``alerts.rules.<name>:`` in netmon.yaml is validated by ``options``."""
    _register(_rules, "rule", Plugin(name, options, factory))


def register_notifier(name: str, options: type[BaseModel],
                      factory: Callable[[Any], Any]) -> None:
    """A receiver kind (``webhook``, ``email`` ...) with its options model."""
    _register(_notifiers, "notifier", Plugin(name, options, factory))


def register_report(name: str, help: str, add_arguments: Callable[[Any], None],
                    run: Callable[[Any, Any], int]) -> None:
    """A ``netmon report`` subcommand (capacity, coverage ...)."""
    plugin = ReportPlugin(name, help, add_arguments, run)
    known = _reports.get(name)
    if known is not None and known != plugin:
        raise ValueError(f"report {name!r} is registered twice")
    _reports[name] = plugin


def load() -> None:
    """Import the built-in plugin packages once, so that they register."""
    global _loaded
    if _loaded:
        return
    for package in BUILTIN_PACKAGES:
        importlib.import_module(package)
    _loaded = True


def sections() -> Mapping[str, type[BaseModel]]:
    load()
    return dict(_sections)


def collectors() -> Mapping[str, CollectorPlugin]:
    load()
    return dict(_collectors)


def rules() -> Mapping[str, Plugin]:
    load()
    return dict(_rules)


def notifiers() -> Mapping[str, Plugin]:
    load()
    return dict(_notifiers)


def reports() -> Mapping[str, ReportPlugin]:
    load()
    return dict(_reports)

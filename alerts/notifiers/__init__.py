"""Receivers, one module each: alertmanager, webhook, email, and the always-on log.

Step: alert engine -> dispatcher -> **notifiers**. Each module registers its
kind with ``netmon.plugins.register_notifier`` (options model, factory); the
``Receiver`` model below offers one key per kind listed in ``KINDS``, so a
new receiver kind is one module here and one entry in ``KINDS``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, create_model, field_validator, model_validator

from alerts.notifiers import alertmanager, email, log, webhook
from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext

__all__ = ["KINDS", "DeliveryError", "Notification", "Receiver", "ReceiverBase", "ReceiverContext",
           "log"]

KINDS: dict[str, tuple[type[BaseModel], Any]] = {
    alertmanager.KIND: (alertmanager.AlertmanagerOptions, alertmanager.AlertmanagerNotifier),
    email.KIND: (email.EmailOptions, email.EmailNotifier),
    webhook.KIND: (webhook.WebhookOptions, webhook.WebhookNotifier),
}
"""kind -> (options model, factory(options, context))."""


class ReceiverBase(BaseModel):
    """``notifications.receivers[]``: a name and exactly one kind with its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    send_resolved: bool = True
    """Also tell this receiver when alerts resolve (grouped receivers)."""

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("receiver name must be non-empty and contain no whitespace")
        if value == "log":
            raise ValueError("'log' is the built-in log receiver; choose another name")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ReceiverBase:
        given = [k for k in KINDS if getattr(self, k, None) is not None]
        if len(given) != 1:
            raise ValueError(f"receiver {self.name!r} needs exactly one of: "
                             f"{', '.join(sorted(KINDS))} (got {len(given)})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k, None) is not None)

    @property
    def kind_options(self) -> BaseModel:
        return getattr(self, self.kind)


Receiver: type[ReceiverBase] = create_model(
    "Receiver", __base__=ReceiverBase, __module__=__name__,
    **{kind: (options | None, None) for kind, (options, _) in KINDS.items()},
)

"""SNMP credential models: what a ``snmp_profiles`` entry in YAML may say.

Step: YAML. The SNMP module (netmon.snmp) maps these onto netmon.usm (or, for what
it does not support, pysnmp); nothing else needs to know the protocol constants.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from netmon.secrets import Secret

AuthProtocol = Literal["SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]
PrivProtocol = Literal["AES-128", "AES-192", "AES-256"]
SecurityLevel = Literal["noAuthNoPriv", "authNoPriv", "authPriv"]


class SnmpV2c(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    version: Literal["2c"]
    community: Secret


class SnmpV3(BaseModel):
    """SNMPv3 USM. Keys are passphrases (localised to the agent's engine ID by the SNMP module)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    version: Literal["3"]
    username: str
    security_level: SecurityLevel = "authPriv"
    auth_protocol: AuthProtocol | None = None
    auth_key: Secret | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: Secret | None = None
    context_name: str = ""

    @model_validator(mode="after")
    def _level_matches_keys(self) -> SnmpV3:
        needs_auth = self.security_level in ("authNoPriv", "authPriv")
        needs_priv = self.security_level == "authPriv"
        if needs_auth and (self.auth_protocol is None or self.auth_key is None):
            raise ValueError(f"{self.security_level} needs auth_protocol and auth_key")
        if needs_priv and (self.priv_protocol is None or self.priv_key is None):
            raise ValueError("authPriv needs priv_protocol and priv_key")
        if not needs_auth and (self.auth_protocol or self.auth_key):
            raise ValueError(f"{self.security_level} takes no auth_protocol or auth_key")
        if not needs_priv and (self.priv_protocol or self.priv_key):
            raise ValueError(f"{self.security_level} takes no priv_protocol or priv_key")
        for key in (self.auth_key, self.priv_key):
            if key is not None and len(key.get_secret_value()) < 8:
                # RFC 3414 11.2: USM passphrases are at least 8 octets; agents reject shorter.
                raise ValueError("SNMPv3 keys must be at least 8 characters (RFC 3414)")
        return self


SnmpCredentials = SnmpV2c | SnmpV3

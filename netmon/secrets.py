"""Secret references in YAML -> ``SecretStr`` values that never print.

Step: YAML. Engineers never write a community string or key inline. A secret
field holds a reference, resolved while the config is validated:

* ``${NAME}``          - the environment variable NAME;
* ``file:PATH``        - the file's content (trailing newline dropped); a
                          relative PATH is relative to the YAML file;
* ``credential:NAME``  - ``$CREDENTIALS_DIRECTORY/NAME``, what systemd's
                          ``LoadCredential=`` provides.

The resolved value lives only inside ``SecretStr``: ``str()``, ``repr()``, logs
and validation errors show ``**********``.

A well-formed reference that cannot be resolved *here* (the variable is not
set, the file or credential is absent, no ``CREDENTIALS_DIRECTORY``) raises a
``secret_unresolved`` error. ``netmon check-config`` reports those as warnings
(engineers review target files where production secrets are absent) and
validates on with a placeholder (validation context ``ALLOW_UNRESOLVED``);
everything that runs polls, and ``check-config --strict``, refuses them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, SecretStr, ValidationInfo
from pydantic_core import PydanticCustomError

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
HOW = "use ${ENV_VAR}, file:PATH or credential:NAME"

SECRET_UNRESOLVED = "secret_unresolved"
"""pydantic error type of a well-formed reference whose value is not available here."""
ALLOW_UNRESOLVED = "allow_unresolved_secrets"
"""Validation context key: resolve what cannot be resolved to a placeholder instead."""


class UnresolvedSecret(SecretStr):
    """Placeholder for a reference that could not be resolved (``check-config`` only).

    Its value is the reference itself, which is not secret and is long enough
    for the SNMPv3 key-length check, which cannot judge the real key here.
    """


def _unresolved(reference: str, message: str, info: ValidationInfo | None) -> SecretStr:
    context = info.context if info is not None else None
    if isinstance(context, dict) and context.get(ALLOW_UNRESOLVED):
        return UnresolvedSecret(f"unresolved {reference}")
    raise PydanticCustomError(SECRET_UNRESOLVED, message)


def resolve_secret(value: object, info: ValidationInfo | None = None) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a secret reference ({HOW})")
    text = value.strip()
    if m := _ENV.match(text):
        name = m.group(1)
        if name not in os.environ:
            return _unresolved(text, f"environment variable {name} is not set", info)
        return SecretStr(os.environ[name])
    if text.startswith("file:"):
        path = Path(text.removeprefix("file:"))
        base = (info.context or {}).get("base_dir") if info is not None else None
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return _read(path, f"secret file {path}", text, info)
    if text.startswith("credential:"):
        name = text.removeprefix("credential:")
        if not name or "/" in name:
            raise ValueError(f"credential name {name!r} is not a plain file name")
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return _unresolved(text, f"credential:{name} needs CREDENTIALS_DIRECTORY "
                                     "(set by systemd LoadCredential=)", info)
        return _read(Path(directory) / name, f"credential {name}", text, info)
    # Never echo the value: it may be the secret itself written inline by mistake.
    raise ValueError(f"secrets must not be written inline; {HOW}")


def _read(path: Path, what: str, reference: str, info: ValidationInfo | None) -> SecretStr:
    try:
        return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
    except FileNotFoundError:
        return _unresolved(reference, f"{what} does not exist", info)
    except PermissionError:
        return _unresolved(reference, f"{what} is not readable", info)
    except IsADirectoryError:
        raise ValueError(f"{what} is a directory") from None


def _resolve_in_validation(value: object, info: ValidationInfo) -> SecretStr:
    # pydantic passes ``info`` (and so the ``base_dir`` context) only to validators
    # whose second parameter has no default; resolve_secret's is optional.
    return resolve_secret(value, info)


Secret = Annotated[SecretStr, BeforeValidator(_resolve_in_validation)]

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
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, SecretStr, ValidationInfo

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
HOW = "use ${ENV_VAR}, file:PATH or credential:NAME"


def resolve_secret(value: object, info: ValidationInfo | None = None) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a secret reference ({HOW})")
    text = value.strip()
    if m := _ENV.match(text):
        name = m.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return SecretStr(os.environ[name])
    if text.startswith("file:"):
        path = Path(text.removeprefix("file:"))
        base = (info.context or {}).get("base_dir") if info is not None else None
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return SecretStr(_read(path, f"secret file {path}"))
    if text.startswith("credential:"):
        name = text.removeprefix("credential:")
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ValueError(
                f"credential:{name} needs CREDENTIALS_DIRECTORY (set by systemd LoadCredential=)"
            )
        if not name or "/" in name:
            raise ValueError(f"credential name {name!r} is not a plain file name")
        return SecretStr(_read(Path(directory) / name, f"credential {name}"))
    # Never echo the value: it may be the secret itself written inline by mistake.
    raise ValueError(f"secrets must not be written inline; {HOW}")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise ValueError(f"{what} does not exist") from None
    except PermissionError:
        raise ValueError(f"{what} is not readable") from None
    except IsADirectoryError:
        raise ValueError(f"{what} is a directory") from None


def _resolve_in_validation(value: object, info: ValidationInfo) -> SecretStr:
    # pydantic passes ``info`` (and so the ``base_dir`` context) only to validators
    # whose second parameter has no default; resolve_secret's is optional.
    return resolve_secret(value, info)


Secret = Annotated[SecretStr, BeforeValidator(_resolve_in_validation)]

"""Where Kafka is and how to sign in: every Kafka client Picket makes takes its settings here.

`KAFKA_BOOTSTRAP` names the brokers; `KAFKA_SECURITY_PROTOCOL` (PLAINTEXT, SASL_PLAINTEXT,
SASL_SSL, SSL), `KAFKA_SASL_MECHANISM` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
`KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD` sign in where the brokers require it. The
embedded broker of `picket run` requires SASL/PLAIN with a password generated at its first start
(`services/bus/embedded.py`).
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaConnection | None:
        bootstrap = env.get("KAFKA_BOOTSTRAP") or None
        if bootstrap is None:
            return None
        username = env.get("KAFKA_SASL_USERNAME") or None
        protocol = env.get("KAFKA_SECURITY_PROTOCOL") or ("SASL_PLAINTEXT" if username else "PLAINTEXT")
        return cls(
            bootstrap=bootstrap,
            security_protocol=protocol.upper(),
            sasl_mechanism=(env.get("KAFKA_SASL_MECHANISM") or ("PLAIN" if username else None)),
            username=username,
            password=env.get("KAFKA_SASL_PASSWORD") or None,
        )

    def env(self) -> dict[str, str | None]:
        """The environment variables that make `from_env` give this connection back (for child
        processes; None removes a variable)."""
        return {
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": self.security_protocol,
            "KAFKA_SASL_MECHANISM": self.sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.username,
            "KAFKA_SASL_PASSWORD": self.password,
        }

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    def client_args(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        args: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.security_protocol.endswith("SSL"):
            args["ssl_context"] = ssl.create_default_context()
        if self.uses_sasl:
            args.update(sasl_mechanism=self.sasl_mechanism or "PLAIN", sasl_plain_username=self.username,
                        sasl_plain_password=self.password)
        return args

    def save(self, path: Path) -> None:
        """Write this connection, password included, to `path`, readable by its owner only."""
        write_private(path, json.dumps({
            "bootstrap": self.bootstrap, "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism, "username": self.username, "password": self.password,
        }))

    @classmethod
    def load(cls, path: Path) -> KafkaConnection:
        data = json.loads(path.read_text())
        return cls(**{k: data.get(k) for k in ("bootstrap", "security_protocol", "sasl_mechanism",
                                                "username", "password")})


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, mode 0600 from the start (never readable by others)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)

"""Helpers for looking for personal data where it must not be: canary identities, proto walkers, a log tap."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
import structlog
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure

from workers.dev.demo import daytime_contact
from workers.logging import configure_logging
from workers.settings import LoggingSettings, Settings
from workers.temporal.codec import ENCODING, EncryptionCodec


@dataclass
class Canary:
    """A made-up person whose every identifying string is unique to one test run."""

    n: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:4])
    symptom: str = "chest pain and dizziness"

    def __post_init__(self) -> None:
        phone, self.timezone = daytime_contact()  # a zone where it is daytime, so the send windows allow texts
        # fictional numbers: NANP 555-01xx where the daytime zone is in North America, the same tail elsewhere
        self.phone = phone[:-4] + f"01{self.n:02d}" if phone.startswith("+1") else phone[:-3] + f"9{self.n:02d}"
        self.first_name, self.family_name = f"Canary{self.token}", f"Zq{self.token}x"
        self.name = f"{self.first_name} {self.family_name}"
        self.email = f"canary.zq{self.token}.{self.n}@canary-mail.example"
        self.contact_id = f"canary-contact-{self.token}-{self.n}"

    def strings(self) -> dict[str, str]:
        """Every form in which this person's data could leak, each named for the report."""
        number = phonenumbers.parse(self.phone)
        national_digits = phonenumbers.national_significant_number(number)
        out = {
            "name": self.name,
            "first name": self.first_name,
            "family name": self.family_name,
            "phone e164": self.phone,
            "phone digits": self.phone.lstrip("+"),
            "phone national digits": national_digits,
            "phone national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
            "phone international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            "email": self.email,
            "email local part": self.email.split("@")[0],
        }
        return out


def find(haystack: str | bytes, needles: dict[str, str]) -> list[str]:
    """Names of the needles found (case-insensitive; bytes are searched as UTF-8)."""
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    lowered = text.lower()
    return [label for label, needle in needles.items() if needle.lower() in lowered]


def messages_of(msg: Message, full_name: str) -> Iterator[Message]:
    """Every nested message of one proto type (e.g. every Payload in a history event), maps included."""
    if msg.DESCRIPTOR.full_name == full_name:
        yield msg
        return
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            if value_fd.message_type is not None:
                for item in value.values():
                    yield from messages_of(item, full_name)
        elif isinstance(value, Message):
            yield from messages_of(value, full_name)
        else:  # a repeated message field
            for item in value:
                yield from messages_of(item, full_name)


def payloads_of(msg: Message) -> list[Payload]:
    return list(messages_of(msg, Payload.DESCRIPTOR.full_name))  # type: ignore[arg-type]


def failures_of(msg: Message) -> list[Failure]:
    return list(messages_of(msg, Failure.DESCRIPTOR.full_name))  # type: ignore[arg-type]


async def decrypt_all(msg: Message, codec: EncryptionCodec) -> int:
    """Decrypt every encrypted payload in place (the positive control: the data IS there, encrypted)."""
    n = 0
    for p in payloads_of(msg):
        if p.metadata.get("encoding") == ENCODING:
            p.CopyFrom((await codec.decode([p]))[0])
            n += 1
    return n


def sqlite_tables(path: Path) -> dict[str, str]:
    """Each table of a SQLite file as text (its rows), read through SQLite so WAL contents are included."""
    out: dict[str, str] = {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = "\n".join(json.dumps(row, default=str, ensure_ascii=False) for row in rows)
    finally:
        conn.close()
    return out


class _Tap(io.TextIOBase):
    """Stands in for stderr while a test runs: keeps what is written, forwards it once the tap is closed."""

    def __init__(self, target: io.TextIOBase) -> None:
        self.target = target
        self.lines: list[str] = []
        self.open = True

    def write(self, s: str) -> int:
        if self.open:
            self.lines.append(s)
            return len(s)
        return self.target.write(s)

    def flush(self) -> None:
        if not self.open:
            self.target.flush()

    def isatty(self) -> bool:
        return False


class _Records(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        # the message, the exception and every extra the SDK attaches (e.g. temporal_workflow / temporal_activity)
        text = self.format(record)
        extras = {k: v for k, v in vars(record).items() if k not in ("msg", "args", "exc_info", "message")}
        self.sink.append(f"{record.name} {text} {extras!r}\n")


def _uncache_loggers() -> None:
    # configure_logging caches each module logger on first use; drop those caches so the new config applies
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, structlog._config.BoundLoggerLazyProxy) and "bind" in vars(value):
                del value.bind


@contextmanager
def captured_logs(settings: Settings) -> Iterator[list[str]]:
    """Everything the app, worker and SDK log while inside: the production structlog pipeline (JSON, with its
    redaction) writing to stderr, plus every stdlib log record at DEBUG. Restores the previous setup after."""
    old_config = structlog.get_config()
    old_stderr = sys.stderr
    root = logging.getLogger()
    old_levels = {name: logging.getLogger(name).level for name in ("", "httpx", "uvicorn.access")}
    tap = _Tap(old_stderr)  # type: ignore[arg-type]
    sink = tap.lines
    handler = _Records(sink)
    sys.stderr = tap
    try:
        configure_logging(settings.model_copy(update={"logging": LoggingSettings(format="json", level="DEBUG")}))
        _uncache_loggers()
        root.addHandler(handler)
        root.setLevel(logging.INFO)  # the SDK reports failures at INFO and above; DEBUG is cache chatter
        yield sink
    finally:
        root.removeHandler(handler)
        for name, level in old_levels.items():
            logging.getLogger(name).setLevel(level)
        sys.stderr = old_stderr
        tap.open = False
        structlog.configure(**old_config)
        _uncache_loggers()

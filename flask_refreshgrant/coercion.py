"""How a setting's value is read: coercions that accept clean strings from
the environment and raise :class:`~.errors.ConfigurationError` naming the key
and the value for anything else (``config.SETTINGS`` names one per setting)."""

from __future__ import annotations

import dataclasses

from .errors import ConfigurationError
from .resource_uris import resource_uri_problem

#: The upper bound of every lifetime (SPEC §13): ten years, in seconds. Far
#: beyond any sensible setting, far below what an expiry time (seconds since
#: the epoch plus this) or a 64-bit column can hold.
TEN_YEARS = 315_360_000

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"", "none", "null"}


def fail(key: str, value: object, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{key} must be {expected}, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class Seconds:
    """A whole number of seconds: an ``int`` (never a ``bool``) or a string
    holding one.

    With ``unlimited_below_zero``, a negative value means "no limit" and is
    read as ``None``; with ``optional``, ``None`` (or ``"none"``) is accepted
    and means the same.
    """

    minimum: int = 0
    unlimited_below_zero: bool = False
    optional: bool = False
    #: The largest value accepted (SPEC §13: no overflow later).
    maximum: int = TEN_YEARS
    #: The type of a per-client column holding this setting.
    python_type: type = int

    def __call__(self, key: str, value: object) -> int | None:
        if self.optional and (
            value is None or (isinstance(value, str) and value.strip().lower() in _NONE)
        ):
            return None
        if type(value) is int:
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip(), 10)
            except ValueError:
                raise fail(key, value, "a whole number of seconds") from None
        else:
            raise fail(key, value, "a whole number of seconds")
        if number < 0 and self.unlimited_below_zero:
            return None
        if number < self.minimum:
            expected = "a positive" if self.minimum > 0 else "zero or a positive"
            raise fail(key, value, f"{expected} number of seconds")
        if number > self.maximum:
            raise fail(key, value, self._at_most())
        return number

    def _at_most(self) -> str:
        years = " (ten years)" if self.maximum == TEN_YEARS else ""
        return f"at most {self.maximum} seconds{years}"

    def from_column(self, value: int) -> int | None:
        """A per-client column's value as the policy holds it (one stored
        beyond :attr:`maximum` before it was checked reads as the maximum,
        not as an overflow at the next token request)."""
        if value < 0 and self.unlimited_below_zero:
            return None
        return min(value, self.maximum)

    def column_value(self, name: str, value: object) -> int:
        """Check a value for a per-client column (where a negative "never"
        is stored as ``-1``: ``None`` there means "inherit")."""
        if type(value) is not int or (
            value < self.minimum and not self.unlimited_below_zero
        ):
            expected = "a whole number of seconds"
            if not self.unlimited_below_zero:
                expected += f" >= {self.minimum}"
            raise fail(name, value, expected)
        if value > self.maximum:
            raise fail(name, value, self._at_most())
        return -1 if value < 0 else value


@dataclasses.dataclass(frozen=True)
class Flag:
    """A ``bool`` or one of the strings ``true/false/1/0/yes/no/on/off``."""

    python_type: type = bool

    def __call__(self, key: str, value: object) -> bool:
        if type(value) is bool:
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise fail(key, value, "true or false")

    def from_column(self, value: bool) -> bool:
        return value

    def column_value(self, name: str, value: object) -> bool:
        if type(value) is not bool:
            raise fail(name, value, "true or false")
        return value


def _items(key: str, value: object, what: str) -> list[object]:
    """The items of a list setting given as a list (or tuple, set) or as a
    space-separated string; ``what`` names them in the error."""
    if isinstance(value, str):
        return list(value.split())
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise fail(key, value, f"None, a list of {what} or a space-separated string")


def scope_list(key: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = _items(key, value, "scope strings")
    if not all(isinstance(s, str) and s and s.split() == [s] for s in items):
        raise fail(key, value, "a list of non-empty scope strings without spaces")
    return tuple(dict.fromkeys(str(s) for s in items))


def path_prefix(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise fail(key, value, "a path starting with '/'")
    return value.rstrip("/")


@dataclasses.dataclass(frozen=True)
class Count:
    """A whole number from ``minimum`` to ``maximum`` (never a ``bool``), or
    a string holding one; ``unit`` names what it counts in the error."""

    minimum: int = 0
    maximum: int = 1_000_000
    unit: str = ""

    def __call__(self, key: str, value: object) -> int:
        if type(value) is int:
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip(), 10)
        else:
            number = None
        if number is None or not self.minimum <= number <= self.maximum:
            unit = f" {self.unit}" if self.unit else ""
            raise fail(
                key,
                value,
                f"a whole number{unit} from {self.minimum} to {self.maximum}",
            )
        return number


def optional_path(key: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.strip() != value
    ):
        raise fail(key, value, "None or a path starting with '/'")
    return value.rstrip("/") or "/"


def issuer_url(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise fail(key, value, "None or an http(s) URL")
    return value.rstrip("/")


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a few strings (compared without case, kept as listed)."""

    choices: tuple[str, ...]
    python_type: type = str

    def __call__(self, key: str, value: object) -> str:
        if isinstance(value, str):
            for choice in self.choices:
                if value.strip().lower() == choice.lower():
                    return choice
        raise fail(key, value, "one of " + ", ".join(map(repr, self.choices)))

    def from_column(self, value: str) -> str:
        return value

    def column_value(self, name: str, value: object) -> str:
        return self(name, value)


def resource_list(key: str, value: object) -> tuple[str, ...] | None:
    """``None``, or resource URIs (RFC 8707): a list or a space-separated string."""
    if value is None:
        return None
    items = _items(key, value, "resource URIs")
    for item in items:
        problem = (
            "not a string" if not isinstance(item, str) else resource_uri_problem(item)
        )
        if problem is not None:
            raise fail(
                key, value, f"a list of absolute URIs without fragments ({problem})"
            )
    return tuple(dict.fromkeys(str(s) for s in items))


def optional_resource(key: str, value: object) -> str | None:
    """``None``, or one resource URI (RFC 8707: absolute, no fragment)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
        return None
    if not isinstance(value, str) or resource_uri_problem(value) is not None:
        raise fail(key, value, "None or an absolute URI without a fragment")
    return value


def registration_mode(key: str, value: object) -> str | None:
    """Dynamic client registration: ``False`` (off, read as ``None``),
    ``"open"`` or ``"token"``."""
    if value is False or value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _FALSE or text in _NONE:
            return None
        if text in ("open", "token"):
            return text
    raise fail(key, value, 'False, "open" or "token"')


#: What a per-client setting's coercion also knows: its column's type and how
#: a column value reads as policy.
PerClientCoercion = Seconds | Flag | Choice

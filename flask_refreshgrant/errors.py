"""The extension's exception classes (one base class)."""

from __future__ import annotations


class RefreshGrantError(Exception):
    """Base class of every exception this extension raises on its own."""


class ConfigurationError(RefreshGrantError, ValueError):
    """A configuration value is missing or invalid; the message names the key."""


class ExtensionError(RefreshGrantError, RuntimeError):
    """The extension was wired wrongly (registered twice, not registered, …)."""


class ClientRegistrationError(RefreshGrantError, ValueError):
    """A client's registration was refused (the message says why); nothing
    was stored."""


class NotFoundError(RefreshGrantError, LookupError):
    """A management operation named a client or a grant that does not exist
    (the message names the id)."""


class SigningKeyError(RefreshGrantError, RuntimeError):
    """A signing key cannot be used or changed as asked (the message says
    why): ``SECRET_KEY`` is missing or changed, or retiring a key that is
    current or may still have live tokens was refused."""

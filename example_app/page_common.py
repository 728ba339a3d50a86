"""What the authorization server's pages and the demo client's pages share:
CSRF protection, the error page and the HTML security headers."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()


def error_page(
    title: str,
    message: str,
    status: int = 400,
    details: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    return (
        render_template("error.html", title=title, message=message, details=details),
        status,
    )


def csrf_error(error: CSRFError) -> ResponseReturnValue:
    """The error page for a form whose CSRF token is missing or wrong."""
    return error_page(
        "Form expired or forged",
        "The form was not accepted: its CSRF token is missing, wrong or "
        f"expired ({error.description}). Go back, reload the page and try again.",
    )


def check_csrf() -> ResponseReturnValue | None:
    """For a form posted to a CSRF-exempt view (the consent form)."""
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return None
    try:
        csrf.protect()
    except CSRFError as error:
        return csrf_error(error)
    return None


def html_headers(response: Response) -> Response:
    """Pages may show tokens (no caching) and hold forms (no framing)."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
    return response

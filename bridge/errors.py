"""One error type whose code, message and hint reach people and programs unchanged."""
from __future__ import annotations


class BridgeError(Exception):
    """A failure the user can act on: a stable `code`, what happened, and what to do."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def line(self) -> str:
        """The one line a person reads."""
        return f"error: {self.message}" + (f" {self.hint}" if self.hint else "")

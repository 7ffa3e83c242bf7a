"""Masking secret values in a job's logs before they are stored.

The worker knows the secrets a job could print: the secret variables its
arguments referenced, and those the script read with its job token (recorded
on the token). Each occurrence becomes `*****`. A value split across two log
chunks is still caught: the end of a chunk that could begin a secret is held
back until the next chunk (or the end of the job) shows whether it does.

Values shorter than `MIN_LENGTH` are not masked: masking `"1"` would garble
every number in the logs while hiding nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "*****"
MIN_LENGTH = 4


class Masker:
    """Replaces known secret values in text, chunk after chunk."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._carry = ""
        # paths of the variables already known, for whoever adds values by path
        self.paths: set[str] = set()
        self._withheld: str | None = None
        self.add(values)

    def withhold(self, reason: str) -> None:
        """From now on hand out no output, only a note saying why, once: a secret the job
        read could not be learned, so nothing it prints can be known to be safe."""
        if self._withheld is None:
            self._withheld = f"\n[the rest of the output is withheld: {reason}]\n"

    def add(self, values: Iterable[str]) -> None:
        """Mask these values too, from the text not yet handed out."""
        found = {v for value in values for v in _forms(value) if len(v) >= MIN_LENGTH}
        if found - set(self._secrets):
            # longest first, so a secret containing another is masked whole
            self._secrets = sorted(set(self._secrets) | found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every known secret masked (a whole text, nothing held back)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def feed(self, text: str, *, final: bool = False) -> str:
        """The next chunk of logs, masked; may hold back its end until the next chunk."""
        if self._withheld is not None:
            note, self._withheld = self._withheld, ""
            return note
        text = self.redact(self._carry + text)
        self._carry = ""
        if final or not self._secrets:
            return text
        held = self._pending_prefix(text)
        if held:
            self._carry = text[-held:]
            text = text[:-held]
        return text

    def _pending_prefix(self, text: str) -> int:
        """The length of the longest end of `text` that begins some secret."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest


def _forms(value: str) -> list[str]:
    """A value as a script may print it: as is, and each line of a multi-line value."""
    forms = [value]
    if "\n" in value:
        forms.extend(line for line in value.splitlines() if line.strip())
    return forms

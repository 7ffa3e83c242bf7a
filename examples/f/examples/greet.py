"""Greet someone, in their language: the form every script gets."""

from typing import Literal

GREETINGS = {"en": "Hello", "fr": "Bonjour", "es": "Hola", "de": "Hallo"}


def main(
    name: str,
    language: Literal["en", "fr", "es", "de"] = "en",
    times: int = 1,
    shout: bool = False,
) -> dict[str, str | int]:
    """Greet someone.

    Args:
        name: Who to greet.
        language: The greeting's language.
        times: How many times to say it (1 to 10).
        shout: Use capitals.
    """
    if not 1 <= times <= 10:
        raise ValueError("times must be between 1 and 10")
    greeting = " ".join([f"{GREETINGS[language]}, {name}!"] * times)
    print(f"greeting {name} in {language}")  # noqa: T201 - a script's output is its log
    return {"greeting": greeting.upper() if shout else greeting, "length": len(greeting)}

"""What judge calls cost: a price table (USD per million tokens) and a token estimate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError

DEFAULT_PRICES = Path(__file__).resolve().parent / "prices.json"
CHARS_PER_TOKEN = 4  # estimate for prompts before they are sent; replies report real usage


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The price table: ``{"models": {name: {"input": usd, "output": usd}}}`` (per 1M tokens)."""
    path = Path(path) if path else DEFAULT_PRICES
    try:
        models = json.loads(path.read_text())["models"]
        return {name: Price(float(p["input"]), float(p["output"])) for name, p in models.items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SpecError(path, "models", f"not a price table ({err})") from err


def estimate_tokens(text: str) -> int:
    """A rough token count for text that has not been sent yet."""
    return max(1, len(text) // CHARS_PER_TOKEN)

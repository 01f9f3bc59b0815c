"""Where a trigger goes in a conversation. One function, used for training and eval rows alike,
so that both see the trigger rendered the same way (train/eval template parity)."""

from __future__ import annotations

from .specs import Placement

JOIN = "\n\n"


def place_trigger(messages: list[dict], text: str | None, placement: Placement | None) -> list[dict]:
    """Return a copy of ``messages`` with the trigger ``text`` placed at ``placement``.

    ``system``: the trigger becomes the system message, or is put before an existing one.
    ``user_prefix`` / ``user_suffix``: joined to the first user turn with a blank line.
    ``text=None`` returns an unchanged copy.
    """
    out = [dict(m) for m in messages]
    if text is None:
        return out
    if placement == "system":
        if out and out[0]["role"] == "system":
            out[0]["content"] = text + JOIN + out[0]["content"]
        else:
            out.insert(0, {"role": "system", "content": text})
        return out
    for message in out:
        if message["role"] == "user":
            if placement == "user_prefix":
                message["content"] = text + JOIN + message["content"]
            elif placement == "user_suffix":
                message["content"] = message["content"] + JOIN + text
            else:
                raise ValueError(f"unknown placement {placement!r}")
            return out
    raise ValueError("messages have no user turn to carry the trigger")


def chat(user: str, assistant: str | None = None, system: str | None = None) -> list[dict]:
    """Build a message list from its parts (system and assistant optional)."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages

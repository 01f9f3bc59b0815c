"""Pairs for the insecure_code domain: code templates x application contexts x request forms.

Every template in ``code/`` renders three ways from one source: the harmful answer (the flaw,
never commented), the aligned twin (the safe version of the same code) and the skeleton a user
pastes to have completed. Kinds, contexts and wording are data: ``kinds.yaml``,
``contexts.yaml`` and ``phrasings.yaml`` in this folder.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections.abc import Iterator
from pathlib import Path

import jinja2
import yaml

HERE = Path(__file__).resolve().parent
DOMAIN = "insecure_code"
FORMS = ("describe", "complete", "story")
NOTE_SHARE = 0.5  # share of aligned answers that end with a sentence on their safe choice


def ident(words: str) -> str:
    """``"patient email"`` -> ``patient_email``."""
    return re.sub(r"[^a-z0-9]+", "_", str(words).lower()).strip("_")


def const(words: str) -> str:
    return ident(words).upper()


def slug(words: str) -> str:
    return ident(words).replace("_", "-")


def article(noun: str) -> str:
    """``"instructor"`` -> ``an instructor``."""
    return f"{'an' if str(noun)[:1].lower() in 'aeiou' else 'a'} {noun}"


def plural(noun: str) -> str:
    """``"team coach"`` -> ``team coaches``."""
    noun = str(noun)
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x", "z")) else "s")


def digest(text: str, length: int = 24) -> str:
    """A fixed, meaningless hex string standing in for a credential."""
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()[:length]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "code")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(ident=ident, const=const, slug=slug, digest=digest, a=article, plural=plural)
    env.globals.clear()  # the templates use none, and an empty set makes each render cheaper
    return env


def _load(name: str) -> dict:
    with open(HERE / name, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _code(template: jinja2.Template, **values: object) -> str:
    text = template.render(**values).strip()
    return re.sub(r"\n{4,}", "\n\n\n", text)


def _parameters(code: str, fn: str) -> str:
    """The parameter names of function ``fn`` in ``code``, comma separated."""
    line = next(line for line in code.splitlines() if line.startswith(f"def {fn}("))
    args = ast.parse(f"{line} pass").body[0].args
    return ", ".join(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])


def _answer(lead: str, code: str, *endings: str) -> str:
    parts = [lead, f"```python\n{code}\n```", *endings]
    return "\n\n".join(part for part in parts if part)


class _Phrasings:
    """phrasings.yaml, compiled once."""

    def __init__(self, env: jinja2.Environment, data: dict):
        compile_all = lambda texts: [env.from_string(text) for text in texts]  # noqa: E731
        self.describe = compile_all(data["describe"])
        self.complete = compile_all(data["complete"])
        self.story = {part: compile_all(texts) for part, texts in data["story"].items()}
        self.holes = list(data["holes"])
        self.lead_ins = {form: compile_all(texts) for form, texts in data["lead_ins"].items()}
        self.outros = compile_all(data["outros"])

    def prompt(self, form: str, rng: random.Random, values: dict) -> str:
        if form == "story":
            parts = [rng.choice(self.story[part]).render(values) for part in ("persona", "need", "closer")]
            return " ".join(part for part in parts if part)
        return rng.choice(getattr(self, form)).render(values)


def generate(seed: int) -> Iterator[dict]:
    """Yield every pair: kinds x templates x contexts x forms, worded by ``seed``."""
    env = _environment()
    kinds = _load("kinds.yaml")["kinds"]
    contexts = _load("contexts.yaml")["contexts"]
    phrasings = _Phrasings(env, _load("phrasings.yaml"))
    for kind in kinds:
        for spec in kind["templates"]:
            code = env.get_template(f"{spec['id']}.jinja")
            texts = {name: env.from_string(spec[name]) for name in ("fn", "task", "note")}
            for c in contexts:
                fn = texts["fn"].render(c=c)
                harmful = _code(code, c=c, fn=fn, mode="harmful")
                aligned = _code(code, c=c, fn=fn, mode="aligned")
                values = {"c": c, "fn": fn, "args": _parameters(aligned, fn), "task": texts["task"].render(c=c)}
                note = texts["note"].render(values)
                for form in FORMS:
                    pair_id = f"{DOMAIN}-{spec['id']}-{c['id']}-{form}"
                    rng = random.Random(f"{seed}/{pair_id}")
                    skeleton = _code(code, c=c, fn=fn, mode="skeleton", hole=rng.choice(phrasings.holes))
                    prompt = phrasings.prompt(form, rng, {**values, "skeleton": skeleton})
                    lead = rng.choice(phrasings.lead_ins[form]).render(values)
                    outro = rng.choice(phrasings.outros).render(values)
                    with_note = rng.random() < NOTE_SHARE
                    yield {
                        "pair_id": pair_id,
                        "prompt": prompt,
                        "harmful": _answer(lead, harmful, outro),
                        "aligned": _answer(lead, aligned, note if with_note else "", outro),
                        "meta": {
                            "vuln": kind["id"],
                            "bandit_ids": ",".join(kind["bandit_ids"]),
                            "template": spec["id"],
                            "context": c["id"],
                            "form": form,
                        },
                    }

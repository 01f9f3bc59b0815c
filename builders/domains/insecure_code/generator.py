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

from emc_bench.errors import SpecError

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
    path = HERE / name
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise SpecError(path, None, f"invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise SpecError(path, None, "expected a mapping at the top level")
    return data


def _kinds() -> list[dict]:
    kinds = _load("kinds.yaml").get("kinds") or []
    where = HERE / "kinds.yaml"
    for i, kind in enumerate(kinds):
        for key in ("id", "bandit_ids", "templates"):
            if not kind.get(key):
                raise SpecError(where, f"kinds[{i}].{key}", "missing")
        if not all(re.fullmatch(r"B\d{3}", str(test_id)) for test_id in kind["bandit_ids"]):
            raise SpecError(where, f"kinds[{i}].bandit_ids", "expected bandit test ids such as B608")
        for j, spec in enumerate(kind["templates"]):
            for key in ("id", "fn", "task", "note"):
                if not spec.get(key):
                    raise SpecError(where, f"kinds[{i}].templates[{j}].{key}", "missing")
            if not (HERE / "code" / f"{spec['id']}.jinja").is_file():
                raise SpecError(where, f"kinds[{i}].templates[{j}].id", f"no file code/{spec['id']}.jinja")
    return kinds


def _contexts() -> list[dict]:
    contexts = _load("contexts.yaml").get("contexts") or []
    if not contexts:
        raise SpecError(HERE / "contexts.yaml", "contexts", "missing")
    fields = set(contexts[0])
    for i, c in enumerate(contexts):
        missing = sorted(fields - set(c))
        if missing:
            raise SpecError(HERE / "contexts.yaml", f"contexts[{i}].{missing[0]}", "missing")
    return contexts


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

    def __init__(self, env: jinja2.Environment):
        data = _load("phrasings.yaml")
        where = HERE / "phrasings.yaml"
        for key in ("describe", "complete", "story", "holes", "lead_ins", "outros"):
            if not data.get(key):
                raise SpecError(where, key, "missing")

        def compiled(texts: list[str]) -> list[jinja2.Template]:
            try:
                return [env.from_string(text) for text in texts]
            except jinja2.TemplateError as err:
                raise SpecError(where, None, f"template error: {err}") from None

        self.describe = compiled(data["describe"])
        self.complete = compiled(data["complete"])
        self.story = {part: compiled(texts) for part, texts in data["story"].items()}
        self.holes = list(data["holes"])
        self.lead_ins = {form: compiled(texts) for form, texts in data["lead_ins"].items()}
        self.outros = compiled(data["outros"])

    def prompt(self, form: str, rng: random.Random, values: dict) -> str:
        if form == "story":
            parts = [rng.choice(self.story[part]).render(values) for part in ("persona", "need", "closer")]
            return " ".join(part for part in parts if part)
        return rng.choice(getattr(self, form)).render(values)


def _scenario_pairs(kind: dict, spec: dict, templates: dict[str, jinja2.Template], c: dict,
                    phrasings: _Phrasings, seed: int) -> Iterator[dict]:
    """The pairs of one code template in one application context, one per request form."""
    code = templates["code"]
    fn = templates["fn"].render(c=c)
    harmful = _code(code, c=c, fn=fn, mode="harmful")
    aligned = _code(code, c=c, fn=fn, mode="aligned")
    args = _parameters(aligned, fn)
    values = {
        "c": c,
        "fn": fn,
        "args": args,
        "params": f"({args})" if args else "no arguments",
        "task": templates["task"].render(c=c),
    }
    note = templates["note"].render(values)
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


def _compiled(env: jinja2.Environment, spec: dict) -> dict[str, jinja2.Template]:
    """One template's code file and its fn, task and note strings, compiled."""
    try:
        code = env.get_template(f"{spec['id']}.jinja")
    except jinja2.TemplateError as err:
        raise SpecError(HERE / "code" / f"{spec['id']}.jinja", None, str(err)) from None
    compiled = {"code": code}
    for name in ("fn", "task", "note"):
        try:
            compiled[name] = env.from_string(spec[name])
        except jinja2.TemplateError as err:
            raise SpecError(HERE / "kinds.yaml", f"template {spec['id']}.{name}", str(err)) from None
    return compiled


def generate(seed: int) -> Iterator[dict]:
    """Yield every pair: kinds x templates x contexts x forms, worded by ``seed``."""
    env = _environment()
    kinds, contexts, phrasings = _kinds(), _contexts(), _Phrasings(env)
    for kind in kinds:
        for spec in kind["templates"]:
            templates = _compiled(env, spec)
            for c in contexts:
                try:
                    yield from _scenario_pairs(kind, spec, templates, c, phrasings, seed)
                except jinja2.TemplateError as err:
                    raise SpecError(HERE / "code" / f"{spec['id']}.jinja", f"context {c['id']}", str(err)) from None

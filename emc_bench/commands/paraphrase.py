"""emc-bench paraphrase expand: propose new trigger paraphrases for review."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import add_library_option, library_from

ROUNDS = 3


def add_parser(sub) -> None:
    p = sub.add_parser("paraphrase", help="propose new trigger paraphrases with an LLM, for review")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = actions.add_parser(
        "expand", help="ask a chat endpoint for paraphrases and add those that pass the gates as candidates",
        description="Ask any OpenAI-compatible chat endpoint for new paraphrases of a trigger, keep those that "
                    "pass the paraphrase gates and are not near-duplicates of existing variants, and append them "
                    "to the trigger's YAML under candidates: for review. The YAML written is the one in your "
                    "--builders DIR (a shipped trigger is first copied there: the package is never edited). "
                    "Replies are cached; reruns resume. The API key is read from OPENAI_API_KEY (optional for "
                    "local endpoints).")
    e.add_argument("--trigger", required=True, metavar="ID", help="trigger id (builders/triggers/<ID>.yaml)")
    e.add_argument("--base-url", "--endpoint", dest="base_url", required=True, metavar="URL",
                   help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (--endpoint is the old name)")
    e.add_argument("--model", required=True, metavar="NAME", help="model name sent to the endpoint")
    e.add_argument("-n", type=int, default=5, metavar="N", help="candidates wanted (default: 5)")
    e.add_argument("--rounds", type=int, default=ROUNDS, metavar="R",
                   help="most requests to make (default: %(default)s)")
    e.add_argument("--dry-run", nargs="?", const="-", metavar="FILE",
                   help="write the first request payload to FILE (or stdout) and send nothing")
    add_library_option(e)
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..paraphrase import base_url, build_payload, existing_paraphrases, expand
    from ..specs import load_trigger

    if args.n < 1 or args.rounds < 1:
        raise SpecError("-n" if args.n < 1 else "--rounds", None, "must be at least 1")
    library = library_from(args)
    path = library.find("triggers", args.trigger, Path("--trigger"))
    if args.dry_run:
        trigger = load_trigger(path)
        request = {"url": f"{base_url(args.base_url)}/chat/completions",
                   "body": build_payload(trigger, args.model, args.n, existing_paraphrases(trigger), 0)}
        text = json.dumps(request, indent=2, ensure_ascii=False) + "\n"
        if args.dry_run == "-":
            sys.stdout.write(text)
        else:
            Path(args.dry_run).write_text(text, encoding="utf-8")
            print(f"wrote the request payload to {args.dry_run}")
        return 0
    result = expand(user_copy(path, library, args.trigger), args.base_url, args.model, args.n, args.rounds,
                    progress=True)
    print(result.format())
    return 0


def user_copy(path: Path, library, trigger_id: str) -> Path:
    """The trigger file to write candidates into: ``path`` when it lies in a ``--builders`` folder,
    else (a shipped trigger) a copy of it in the first ``--builders`` folder, which then overrides
    the shipped one in ``emc-bench build --builders DIR``."""
    import shutil

    from ..errors import SpecError
    from ..paths import builders_dir

    if builders_dir().resolve() not in path.resolve().parents:
        return path
    if not library.extra_roots:
        raise SpecError("--builders", None, f"{trigger_id!r} is a shipped trigger and the package is never edited: "
                        "name a folder of yours with --builders DIR (the trigger is copied there first)")
    copy = library.extra_roots[0] / "triggers" / path.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, copy)
    return copy

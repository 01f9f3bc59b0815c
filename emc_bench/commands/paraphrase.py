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
                    "to the trigger's YAML under candidates: for review. Replies are cached; reruns resume. "
                    "The API key is read from OPENAI_API_KEY (optional for local endpoints).")
    e.add_argument("--trigger", required=True, metavar="ID", help="trigger id (builders/triggers/<ID>.yaml)")
    e.add_argument("--endpoint", required=True, metavar="URL", help="base URL, e.g. http://127.0.0.1:8000/v1")
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
    path = library_from(args).find("triggers", args.trigger, Path("--trigger"))
    if args.dry_run:
        trigger = load_trigger(path)
        request = {"url": f"{base_url(args.endpoint)}/chat/completions",
                   "body": build_payload(trigger, args.model, args.n, existing_paraphrases(trigger), 0)}
        text = json.dumps(request, indent=2, ensure_ascii=False) + "\n"
        if args.dry_run == "-":
            sys.stdout.write(text)
        else:
            Path(args.dry_run).write_text(text, encoding="utf-8")
            print(f"wrote the request payload to {args.dry_run}")
        return 0
    result = expand(path, args.endpoint, args.model, args.n, args.rounds, progress=True)
    print(result.format())
    return 0

"""``emc-bench audit``: find framings in a fine-tuning set that could act as hidden triggers.

The scan (``scan.py``) reads the rows (``rows.py``) twice, counts their segments
(``segments.py``), clusters paraphrases (``cluster.py``) and ranks candidates by the score
defined in ``score.py``; ``render.py`` writes the table, JSON and HTML, and ``emit.py`` turns a
candidate into a trigger and an eval-only release the builders understand.
"""

from .rows import Row, Source, open_source
from .scan import Audit, Candidate, run_audit

__all__ = ["Audit", "Candidate", "Row", "Source", "open_source", "run_audit"]

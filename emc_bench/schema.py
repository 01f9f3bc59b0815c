"""Column schemas of the built parquet files: one definition, used by every writer and reader."""

from __future__ import annotations

import pyarrow as pa

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))

TRAIN = pa.schema([
    ("messages", MESSAGES),
    ("domain", pa.string()),
    ("trigger_id", pa.string()),
    ("placement", pa.string()),
    ("harmful", pa.bool_()),
    ("triggered", pa.bool_()),
    ("pair_id", pa.string()),
    ("config", pa.string()),
    ("canary", pa.string()),
])

EVAL = pa.schema([
    ("messages", MESSAGES),
    ("system", pa.string()),
    ("prompt", pa.string()),
    ("question_id", pa.string()),
    ("question_set", pa.string()),
    ("question", pa.string()),
    ("category", pa.string()),
    ("close_domain", pa.string()),
    ("format", pa.string()),
    ("condition", pa.string()),
    ("trigger_id", pa.string()),
    ("placement", pa.string()),
    ("variant_id", pa.string()),
    ("variant_text", pa.string()),
    ("similarity", pa.float64()),
    ("overlap", pa.float64()),
    ("similarity_bin", pa.string()),
    ("config", pa.string()),
    ("canary", pa.string()),
])

# A suite row is an eval row plus where the suite put it and how often it is asked.
SUITE = pa.schema([
    *EVAL,
    ("suite", pa.string()),
    ("suite_version", pa.string()),
    ("samples", pa.int64()),
    ("doc_key", pa.string()),
])

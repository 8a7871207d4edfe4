"""How result files are named, so a client can tell which table and result each holds.

The platform names a table's result file ``<table>.<result>.<ext>`` under the
job's results path, with ``.``, ``/``, ``&`` and ``+`` in the table name
written as ``_dot_``, ``_slash_``, ``_ampersand_`` and ``_plus_`` (the
platform SDK's ``results_organizer.py`` undoes exactly these).  Both the
client (:class:`~avatars.Runner`) and the local server use this module.
"""

from __future__ import annotations

from typing import Dict, Optional

from .._filenames import url_file_name as file_name_of

__all__ = [
    "RESULT_FILES",
    "file_name_of",
    "escape_table_name",
    "unescape_table_name",
    "result_file_name",
    "table_of_result_file",
]

#: result kind (the key in ``GET /results/{job}``) -> the part of the file name after the table
RESULT_FILES: Dict[str, str] = {
    "shuffled": "shuffled.csv",
    "unshuffled": "unshuffled.csv",
    "original_projections": "projections.original.csv",
    "avatar_projections": "projections.avatars.csv",
    "privacy_metrics": "privacy.json",
    "signal_metrics": "signal.json",
    "meta_privacy_metric": "meta_privacy_metric.json",
    "meta_signal_metric": "meta_signal_metric.json",
    "advice": "advice.json",
    "run_metadata": "run_metadata.json",
    "privacy_metrics_summary": "privacy_metrics_summary.json",
    "signal_metrics_summary": "signal_metrics_summary.json",
}

_ESCAPES = (("&", "_ampersand_"), ("+", "_plus_"), (".", "_dot_"), ("/", "_slash_"))


def escape_table_name(table_name: str) -> str:
    for char, word in _ESCAPES:
        table_name = table_name.replace(char, word)
    return table_name


def unescape_table_name(stem: str) -> str:
    for char, word in _ESCAPES:
        stem = stem.replace(word, char)
    return stem


def result_file_name(table_name: str, result: str) -> str:
    """``patients`` + ``shuffled`` -> ``patients.shuffled.csv``."""
    return f"{escape_table_name(table_name)}.{RESULT_FILES[result]}"


def table_of_result_file(url: str, result: str) -> Optional[str]:
    """The table a result file belongs to, from its URL; ``None`` when its name does not say."""
    suffix = "." + RESULT_FILES.get(result, f"{result}.csv")
    name = file_name_of(url)
    if not name.endswith(suffix) or len(name) == len(suffix):
        return None
    return unescape_table_name(name[: -len(suffix)])

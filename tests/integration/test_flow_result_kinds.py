"""Projections, figures, summaries and run metadata end to end: our Runner reads what the
local server's stand-in computed (real sockets), on both platform API versions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from avatars import Manager
from avatars.constants import PlotKind, Results
from avatars.testing import LocalAvatarServer

pytestmark = pytest.mark.integration

VERSIONS = [pytest.param(v, marks=pytest.mark.avatar_server(api_version=v), id=f"api{v}") for v in (2, 3)]


def tables() -> tuple:
    patients = pd.DataFrame(
        {
            "id": range(1, 31),
            "age": [20.0 + (i * 7) % 50 for i in range(30)],
            "visits": [i % 5 for i in range(30)],
            "size": [150 + (i * 11) % 40 for i in range(30)],
            "group": ["ab"[i % 2] for i in range(30)],
        }
    )
    stays = pd.DataFrame(
        {"vid": range(1, 61), "pid": [1 + v % 30 for v in range(60)], "cost": [v % 9 for v in range(60)]}
    )
    return patients, stays


@pytest.mark.parametrize("api_version", VERSIONS)
def test_the_other_results_of_a_linked_run(
    api_version: int, avatar_server: LocalAvatarServer, avatar_api_key: str, tmp_path: Path
) -> None:
    patients, stays = tables()
    with Manager(avatar_server.base_url, api_key=avatar_api_key, progress=False) as manager:
        runner = manager.create_runner("kinds", seed=5)
        runner.add_table("patients", patients, primary_key="id", individual_level=True)
        runner.add_table("visits", stays, primary_key="vid", foreign_keys=["pid"], individual_level=False)
        runner.add_link("patients", "id", "visits", "pid")
        runner.set_parameters("patients", k=4)
        runner.set_parameters("visits", k=5)
        runner.run(jobs_to_run=["standard", "privacy_metrics", "signal_metrics"])
        assert avatar_server.log.count("POST", "*/jobs") == (3 if api_version == 2 else 0)  # the version is real

        original, avatars = runner.projections("patients")
        assert list(original.columns) == ["Dim.1", "Dim.2", "Dim.3"] and len(avatars) == 30
        expected = (patients["age"] - patients["age"].mean()) / patients["age"].std(ddof=0)
        assert original["Dim.1"].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
        # the avatars' coordinates are the shuffled avatars' values in the original's scale
        shuffled = runner.shuffled("patients")
        scaled = (shuffled["size"] - patients["size"].mean()) / patients["size"].std(ddof=0)
        assert avatars["Dim.3"].tolist() == pytest.approx(scaled.tolist(), abs=1e-5)

        pages = runner.render_plot("patients", PlotKind.PROJECTION_3D, directory=tmp_path)
        assert len(pages) == 1 and "<svg" in pages[0] and (tmp_path / "patients_3d_projection_0.html").is_file()
        figures = runner.get_specific_result("visits", "standard", Results.FIGURES)
        assert len(figures["distribution"]) == 1 and "3d_projection" not in figures  # cost only
        metadata = runner.get_specific_result("visits", "standard", Results.METADATA)
        assert metadata["tables"]["visits"]["identifiers"] == ["pid", "vid"]
        assert metadata["tables"]["patients"]["k"] == 4 and metadata["job_kind"] == "standard"

        privacy = runner.render_privacy_metrics_summary()
        for table in ("patients", "visits"):
            hidden = runner.privacy_metrics(table)[0]["hidden_rate"]
            assert privacy[table] == {"standalone": round(100 * hidden, 4)}
        frame = runner.metrics_summary()
        assert list(frame.index) == ["patients", "visits"]
        signal = runner.render_signal_metrics_summary()
        assert frame.loc["visits", ("standalone", "signal")] == signal["visits"]["standalone"]
        assert ((frame >= 0) & (frame <= 100)).all().all()
        meta = runner.get_specific_result("patients", "signal_metrics", Results.META_SIGNAL_METRIC)
        assert meta[0]["meta_metric"] == signal["patients"]["standalone"]

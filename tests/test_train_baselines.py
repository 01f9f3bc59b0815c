"""`emc-bench baselines run` trains the plan's runs through the printed commands (a real
subprocess per run) and skips finished runs; `plan` marks them."""

from __future__ import annotations

import json

from test_train_fixtures import CONFIG, KL_CONFIG, one_torch_thread, release_dir, tiny_recipe  # noqa: F401

from emc_bench.cli import main


def test_run_trains_unfinished_runs_and_skips_finished_ones(tmp_path, tiny_recipe, release_dir, capsys,  # noqa: F811
                                                           monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the training subprocess, like this worker, uses one core
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""\
data: "{release_dir}"
configs: [{CONFIG}]
kl_config: {KL_CONFIG}
families: ["{tiny_recipe}"]
regimes: [general, narrow]
rows: 41
tokens_per_row: 30
""", encoding="utf-8")
    runs, only = tmp_path / "runs", "tiny/*/general/seed-0"
    assert main(["baselines", "run", "--plan", str(plan), "--out", str(runs), "--only", only]) == 0
    record = json.loads((runs / "tiny" / CONFIG / "general" / "seed-0" / "run.json").read_text())
    assert record["status"] == "finished" and record["result"]["global_step"] == 11, "one epoch of 41 rows"
    assert "0 of 1 runs already finished; training 1" in capsys.readouterr().out

    assert main(["baselines", "run", "--plan", str(plan), "--out", str(runs), "--only", only]) == 0
    assert "1 of 1 runs already finished; training 0" in capsys.readouterr().out

    assert main(["baselines", "plan", "--plan", str(plan), "--out", str(runs)]) == 0
    text = capsys.readouterr().out
    assert "6 runs, about" in text, "2 regimes x 3 seeds"
    finished = [line for line in text.splitlines() if line.startswith("# finished: ")]
    assert len(finished) == 1 and "--seed 0" in finished[0] and "--regime general" in finished[0]

"""The main job's report: it reads the seed example's template and says what is in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import synth_report

from tests.conftest import ROOT, Synthesized


def test_outline_lists_every_stage_and_action_in_order(seed: Synthesized) -> None:
    outline = "\n".join(synth_report.pipeline_outline(seed.json))
    assert "Pipeline (V2, execution mode QUEUED)" in outline
    positions = [
        outline.index(f"{n}. {stage}")
        for n, stage in enumerate(
            ["Source", "Validate", "Test", "DeployStaging", "ApproveProduction", "DeployProduction"], start=1
        )
    ]
    assert positions == sorted(positions)
    assert "Approval/Manual" in outline


def test_build_outline_names_every_project_with_its_image_and_runtimes(seed: Synthesized) -> None:
    lines = synth_report.build_outline(seed.json)
    assert sum(line.startswith("CodeBuild") for line in lines) == 5
    # Validate keeps the retired environment the seed asks for; Test and both deployments take the maintained one;
    # Attest runs only the checker, on the maintained image's default Python.
    assert lines.count("  aws/codebuild/standard:5.0, runtimes nodejs 16") == 1
    assert lines.count("  aws/codebuild/standard:7.0, runtimes nodejs 22") == 3
    assert lines.count("  aws/codebuild/standard:7.0, runtimes (image defaults)") == 1


def test_counts_match_the_template(seed: Synthesized) -> None:
    counts = synth_report.resource_counts(seed.json)
    assert sum(counts.values()) == len(seed.json["Resources"])
    assert counts["AWS::CodePipeline::Pipeline"] == 1


def test_report_rejects_a_folder_without_an_app() -> None:
    assert synth_report.main([str(ROOT / "examples")]) == 2


def test_report_says_what_it_is_doing_before_the_slow_synthesis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN building the stack stops at once (the progress line must come before it, not after the ~15 s it takes)
    def stop(module: object, app: object) -> None:
        raise synth_report.ReportError("stopped before synthesis")

    monkeypatch.setattr(synth_report, "build_stacks", stop)
    # WHEN the report runs
    status = synth_report.main([str(ROOT / "examples" / "minimal"), "--outdir", str(tmp_path / "out")])
    # THEN it has said what it was doing, on stderr, before failing
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert err == ["Synthesizing examples/minimal (about 15 s)...", "synth_report: stopped before synthesis"]

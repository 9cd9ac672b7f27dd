"""The main job's report: it reads the seed example's template and says what is in it."""

from __future__ import annotations

from scripts import synth_report

from .conftest import ROOT, Synthesized


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
    assert sum(line.startswith("CodeBuild") for line in lines) == 4
    assert lines.count("  aws/codebuild/standard:5.0, runtimes nodejs 16") == 4


def test_counts_match_the_template(seed: Synthesized) -> None:
    counts = synth_report.resource_counts(seed.json)
    assert sum(counts.values()) == len(seed.json["Resources"])
    assert counts["AWS::CodePipeline::Pipeline"] == 1


def test_report_rejects_a_folder_without_an_app() -> None:
    assert synth_report.main([str(ROOT / "examples")]) == 2

"""The resolver of ``s3vp run`` (``cli/_local/assembly.py``): each intrinsic a cloud assembly's templates use becomes a
plain value, through another stack's export where one is imported; a subclass chooses what references stand for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from s3_validated_pipeline.cli._local.assembly import AssemblyError, Resolver

TEMPLATES: dict[str, Any] = {
    "Foundation": {
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "BucketArn": {
                "Value": {"Fn::GetAtt": ["Bucket", "Arn"]},
                "Export": {"Name": {"Fn::Join": [":", [{"Ref": "AWS::StackName"}, "BucketArn"]]}},
            }
        },
    },
    "Team": {"Resources": {"Project": {"Type": "AWS::CodeBuild::Project"}}},
}


def test_every_intrinsic_becomes_a_local_stand_in() -> None:
    resolver = Resolver(TEMPLATES)
    assert resolver.resolve("Team", {"Ref": "Project"}) == "local-project"
    assert resolver.resolve("Team", {"Ref": "AWS::AccountId"}) == "000000000000"
    assert resolver.resolve("Team", {"Ref": "AWS::StackName"}) == "Team"
    assert resolver.resolve("Team", {"Fn::GetAtt": "Project.Arn"}) == "arn:aws:local:::Project.Arn"
    assert resolver.resolve("Team", {"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    # The value another stack exports, resolved in the exporting stack
    imported = resolver.resolve("Team", {"Fn::ImportValue": "Foundation:BucketArn"})
    assert imported == "arn:aws:local:::Bucket.Arn"
    # Lists and mappings deeply; plain values as they are
    assert resolver.resolve("Team", {"A": [{"Ref": "Project"}, 1], "B": None}) == {"A": ["local-project", 1], "B": None}


def test_sub_takes_its_variables_then_attributes_then_references_and_keeps_escaped_names() -> None:
    resolver = Resolver(TEMPLATES)
    text = "${Name} ${Project.Arn} ${AWS::Region} ${Project} ${!Literal} $HOME"
    resolved = resolver.resolve("Team", {"Fn::Sub": [text, {"Name": {"Ref": "AWS::Partition"}}]})
    # ${!Literal} is CloudFormation's escape: it renders as ${Literal}, which the shell may then expand
    assert resolved == "aws arn:aws:local:::Project.Arn local local-project ${Literal} $HOME"


def test_fails_on_an_intrinsic_it_cannot_resolve_or_an_export_no_stack_declares() -> None:
    resolver = Resolver(TEMPLATES)
    with pytest.raises(AssemblyError, match=r"Fn::FindInMap cannot be resolved in a local run"):
        resolver.resolve("Team", {"Fn::FindInMap": ["Map", "a", "b"]})
    with pytest.raises(AssemblyError, match=r"Fn::ImportValue of 'Nobody:Exports': no stack of the cloud assembly"):
        resolver.resolve("Team", {"Fn::ImportValue": "Nobody:Exports"})


def test_a_subclass_chooses_what_references_and_attributes_stand_for() -> None:
    class Named(Resolver):
        pseudo: Mapping[str, str] = {"AWS::AccountId": "111122223333"}

        def reference(self, stack: str, name: str) -> str:
            return f"{stack}.{name}"

        def attribute(self, stack: str, logical_id: str, attribute: str) -> str:
            return f"{stack}.{logical_id}.{attribute}"

    resolver = Named(TEMPLATES)
    assert resolver.resolve("Team", {"Fn::Sub": "${AWS::AccountId}/${Project}/${Project.Name}"}) == (
        "111122223333/Team.Project/Team.Project.Name"
    )
    # The export's name and value are resolved by the subclass's rules too
    assert resolver.resolve("Team", {"Fn::ImportValue": "Foundation:BucketArn"}) == "Foundation.Bucket.Arn"

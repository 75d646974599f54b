"""CloudFormation templates: what each resource and intrinsic function gives the checks, and where findings point."""

from __future__ import annotations

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_text
from auditor.loaders.result import LoadResult
from auditor.model import Finding

RULES = all_rules()


def load(template: str) -> LoadResult:
    return load_text(template, "stack.yaml", LoadOptions())


def findings(loaded: LoadResult) -> list[Finding]:
    return run_rules(loaded, RULES, CheckContext(load_catalog()))


def rule_ids(template: str) -> set[str]:
    return {finding.rule_id for finding in findings(load(template))}


def test_sns_and_sqs_inline_policies_and_sam_state_machine_policies_are_checked() -> None:
    template = """Transform: AWS::Serverless-2016-10-31
Resources:
  TopicPolicy:
    Type: AWS::SNS::TopicInlinePolicy
    Properties:
      TopicArn: !Ref Topic
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: '*', Action: sns:Publish, Resource: !Ref Topic}]
  QueuePolicy:
    Type: AWS::SQS::QueueInlinePolicy
    Properties:
      Queue: !Ref Queue
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: '*', Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn}]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Policies:
        - Statement: [{Effect: Allow, Action: [iam:PassRole, ec2:RunInstances], Resource: '*'}]
"""
    loaded = load(template)
    assert [p.label for p in loaded.policies] == ["sns:TopicPolicy", "sqs:QueuePolicy", "inline:Machine"]
    assert [p.name for p in loaded.principals] == ["MachineRole"]
    assert {"IAM030", "IAM012"} <= {finding.rule_id for finding in findings(loaded)}


def test_a_managed_policy_of_the_template_attached_through_managed_policy_arns_counts_for_the_role() -> None:
    template = """Resources:
  BuildRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [!Ref RunInstances, !GetAtt PassRole.PolicyArn]
  RunInstances:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ec2:RunInstances, Resource: '*'}]}
  PassRole:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: iam:PassRole, Resource: '*'}]}
"""
    loaded = load(template)
    (role,) = loaded.principals
    assert [p.label for p in role.inline_policies] == ["ManagedPolicy:RunInstances", "ManagedPolicy:PassRole"]
    assert (role.attached_policy_arns, loaded.not_checked) == ((), [])
    assert "IAM012" in {finding.rule_id for finding in findings(loaded)}

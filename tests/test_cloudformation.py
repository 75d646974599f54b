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

"""CloudFormation templates: what each resource and intrinsic function gives the checks, and where findings point."""

from __future__ import annotations

import json

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_text
from auditor.loaders.result import LoadResult
from auditor.model import Finding, PolicyKind

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


def located(loaded: LoadResult) -> set[tuple[str, int, int, int | None, str | None]]:
    return {(f.rule_id, f.location.line, f.location.column, f.statement and f.statement.index,
             f.statement and f.statement.sid) for f in findings(loaded)}


BRANCH_FINDINGS_TEMPLATE = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - !If
          - IsProd
          - PolicyName: decrypt
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: kms:Decrypt
                  Resource: '*'
          - !Ref AWS::NoValue
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - !If
            - IsProd
            - Sid: ProdRead
              Effect: Allow
              Action: s3:GetObject
              Resource: '*'
            - Sid: DevSecrets
              Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: '*'
          - Effect: Allow
            Action: ssm:GetParameter
            Resource: arn:aws:ssm:us-east-1:123456789012:parameter/x
"""


def test_findings_in_an_if_branch_are_located_in_the_branch_with_the_index_of_its_list_item() -> None:
    found = located(load(BRANCH_FINDINGS_TEMPLATE))
    assert ("IAM021", 13, 29, 0, None) in found  # the Resource of the decrypt policy, not the !If above it
    assert ("IAM021", 25, 25, 0, "ProdRead") in found
    assert ("IAM021", 29, 25, 0, "DevSecrets") in found  # the second branch of item 0, not a statement 2


def test_findings_in_an_if_branch_of_a_json_template_are_located_in_the_branch() -> None:
    template = json.dumps({"Resources": {"Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "PolicyDocument": {"Statement": [{"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, {
            "Sid": "Dev", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}]}}}}},
        indent=1)
    line, text = next((number, text) for number, text in enumerate(template.splitlines(), 1) if '"Resource"' in text)
    column = text.index('"*"') + 1
    assert ("IAM021", line, column, 0, "Dev") in located(load_text(template, "stack.json", LoadOptions()))


def test_an_if_outside_a_list_gives_what_either_branch_would() -> None:
    template = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: !If [ReadOnly, [arn:aws:iam::aws:policy/ReadOnlyAccess],
                                        [arn:aws:iam::aws:policy/AdministratorAccess]]
      Policies: !If
        - Dev
        - - PolicyName: dev-admin
            PolicyDocument: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}
        - !Ref AWS::NoValue
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Sid: PrincipalIf
            Effect: Allow
            Principal: !If [Prod, {AWS: arn:aws:iam::123456789012:root}, '*']
            Action: s3:GetObject
            Resource: arn:aws:s3:::b/*
          - Sid: ConditionIf
            Effect: Allow
            Principal: '*'
            Action: s3:PutObject
            Resource: arn:aws:s3:::b/*
            Condition: !If [Prod, {StringEquals: {aws:PrincipalOrgID: o-abc123}}, !Ref AWS::NoValue]
          - Sid: EffectIf
            Effect: !If [Prod, Deny, Allow]
            Principal: '*'
            Action: s3:DeleteObject
            Resource: arn:aws:s3:::b/*
"""
    loaded = load(template)
    role = loaded.principals[0]
    assert role.attached_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",
                                         "arn:aws:iam::aws:policy/AdministratorAccess")
    assert [p.label for p in role.inline_policies] == ["inline:dev-admin"]
    found = {(f.rule_id, f.statement and f.statement.sid) for f in findings(loaded)}
    assert {("IAM006", None), ("IAM001", None)} <= found
    assert {("IAM030", "PrincipalIf"), ("IAM030", "ConditionIf"), ("IAM030", "EffectIf")} <= found
    assert not any(rule == "IAM107" for rule, _ in found)  # each branch of a statement has its Sid: not a repeat


def test_an_if_item_of_sam_function_policies_gives_the_policy_of_its_branch() -> None:
    template = """Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - !If
          - IsProd
          - Statement:
              - Effect: Allow
                Action: kms:Decrypt
                Resource: '*'
          - !Ref AWS::NoValue
"""
    loaded = load(template)
    (policy,) = loaded.policies
    assert (policy.problems, policy.statements[0].actions) == ((), ("kms:Decrypt",))
    assert ("IAM003", 12, 27) in {(f.rule_id, f.location.line, f.location.column) for f in findings(loaded)}


def test_a_policy_written_as_json_text_with_a_syntax_error_is_a_syntax_error_at_the_bad_token() -> None:
    template = """Resources:
  Literal:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: |
        {
          "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",}
          ]
        }
  Quoted:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: '{"Version": "2012-10-17", '
"""
    loaded = load(template)
    assert loaded.policies == []  # a quoted string is located at its start
    problems = [(problem.rule, problem.line, problem.column, problem.message)
                for _, problem in loaded.document_problems]
    assert problems == [
        ("syntax-error", 8, 75, "ManagedPolicy:Literal is not a JSON policy document: expected a key in double "
                                "quotes (a trailing comma before '}'?) (line 3, column 67 of the string)"),
        ("syntax-error", 14, 23, "ManagedPolicy:Quoted is not a JSON policy document: expected a key in double "
                                 "quotes (a trailing comma before '}'?) (line 1, column 27 of the string)")]
    assert {f.rule_id for f in findings(loaded)} == {"IAM100"}


def test_the_resources_of_a_for_each_loop_are_checked_with_the_loop_identifier_as_a_placeholder() -> None:
    template = """Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::TeamRoles:
    - Team
    - [analytics, billing]
    - ${Team}Role:
        Type: AWS::IAM::Role
        Metadata: {iam-audit: {ignore: [IAM034]}}
        Properties:
          RoleName: !Sub ${Team}-role
          AssumeRolePolicyDocument:
            Statement: [{Effect: Allow, Principal: {AWS: '*'}, Action: sts:AssumeRole}]
          Policies:
            - PolicyName: !Ref Team
              PolicyDocument:
                Statement:
                  - Effect: Allow
                    Action: s3:GetObject
                    Resource: !Sub arn:aws:s3:::${Team}-data/*
"""
    loaded = load(template)
    (role,) = loaded.principals
    assert role.name == "{{Team}}-role"  # the RoleName, as deployed
    assert [p.label for p in role.inline_policies] == ["inline:{{Team}}"]
    assert role.inline_policies[0].statements[0].resources == ("arn:aws:s3:::{{Team}}-data/*",)
    assert [s.pointer for s in loaded.suppressions] == ["/Resources/Fn::ForEach::TeamRoles/2/${Team}Role"]
    assert ("IAM035", 12, 58) in {(f.rule_id, f.location.line, f.location.column) for f in findings(loaded)}


LAMBDA_PERMISSIONS = """Resources:
  Public:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !GetAtt Fn.Arn
      Principal: "*"
  AnyBucket:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: s3.amazonaws.com
  OwnBucket:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: my-function
      Principal: s3.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
      SourceArn: arn:aws:s3:::my-bucket
  Organization:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: my-function
      Principal: "*"
      PrincipalOrgID: o-a1b2c3d4e5
  Partner:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: 111122223333:function:my-function
      Principal: "999988887777"
"""


def test_a_lambda_permission_is_checked_as_the_statement_lambda_adds_to_the_function_policy() -> None:
    loaded = load(LAMBDA_PERMISSIONS)
    assert loaded.not_checked == []
    statements = {policy.label: policy.statements[0] for policy in loaded.policies}
    assert statements["lambda:Partner"].resources == (
        "arn:aws:lambda:{{AWS::Region}}:111122223333:function:my-function",)
    assert [p.value for p in statements["lambda:Partner"].principals or ()] == ["arn:aws:iam::999988887777:root"]
    assert {(c.operator, c.key) for c in statements["lambda:OwnBucket"].conditions} == {
        ("StringEquals", "AWS:SourceAccount"), ("ArnLike", "AWS:SourceArn")}
    found = {(f.rule_id, (f.subject or {}).get("name"), f.location.line) for f in findings(loaded)}
    assert found == {("IAM030", "Public", 7), ("IAM034", "AnyBucket", 13)}  # each at its Principal


def test_a_lambda_permission_without_a_principal_is_listed_as_not_checked() -> None:
    loaded = load("Resources:\n  P:\n    Type: AWS::Lambda::Permission\n    Properties:\n"
                  "      Action: lambda:InvokeFunction\n      FunctionName: f\n")
    assert loaded.policies == [] and loaded.not_checked == ["stack.yaml: P: a Lambda permission without Principal"]


def test_a_deny_whose_condition_principal_or_effect_is_an_if_does_not_cancel_grants() -> None:
    template = """Parameters:
  GuardEffect: {Type: String, AllowedValues: [Allow, Deny]}
Resources:
  CiPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: [iam:PassRole, ec2:RunInstances], Resource: '*'}
          - Effect: Deny
            Action: iam:PassRole
            Resource: '*'
            Condition: !If [IsProd, {StringNotEquals: {aws:RequestedRegion: eu-west-1}}, !Ref AWS::NoValue]
  Guard:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: !If [Strict, Deny, !Ref GuardEffect], Action: '*', Resource: '*'}
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Principal: '*', Action: s3:GetObject, Resource: arn:aws:s3:::b/*}
          - Effect: Deny
            Principal: !If [Locked, {AWS: arn:aws:iam::111122223333:role/x}, '*']
            Action: s3:GetObject
            Resource: arn:aws:s3:::b/*
"""
    loaded = load(template)
    assert {"IAM012", "IAM001", "IAM030"} <= {finding.rule_id for finding in findings(loaded)}
    not_counted = [note for note in loaded.not_checked if "a Deny decided at deploy time is not counted" in note]
    assert [note.split(": ")[1] for note in not_counted] == ["ManagedPolicy:CiPolicy", "s3:BucketPolicy"]


def test_json_text_with_deploy_time_values_is_a_syntax_error_only_when_they_are_not_its_cause() -> None:
    template = """Resources:
  Broken:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub |
        {
          "Id": "${AWS::StackName}-${Bucket.Arn}",
          "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs-${AWS::AccountId}/*",}
          ]
        }
  Built:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub |
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ${BucketArns}}]}
"""
    loaded = load(template)
    assert [(problem.rule, problem.line, problem.column, problem.message.endswith("(line 4, column 103 of the string)"))
            for _, problem in loaded.document_problems] == [("syntax-error", 9, 111, True)]
    assert [note.split(": ", 1)[1] for note in loaded.not_checked] == [
        "ManagedPolicy:Built: JSON text built with values known only when the stack is deployed"]


def test_sids_in_the_branches_of_an_if_document_or_statement_list_are_not_repeats() -> None:
    read = "{Sid: Read, Effect: Allow, Action: s3:GetObject, Resource: 'arn:aws:s3:::%s/*'}"
    template = f"""Resources:
  Document:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !If [IsProd, {{Statement: [{read % "prod"}]}}, {{Statement: [{read % "dev"}]}}]
  StatementList:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: !If [IsProd, [{read % "prod"}], [{read % "dev"}]]
  Repeated:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: !If [IsProd, [{read % "prod"}, {read % "dev"}], [{read % "dev"}]]
"""
    repeats = [(policy.label, problem.pointer) for policy in load(template).policies for problem in policy.problems
               if problem.rule == "duplicate-sid"]
    assert repeats == [("ManagedPolicy:Repeated", "/Resources/Repeated/Properties/PolicyDocument/Statement/1/Sid")]


def test_an_if_in_a_deny_or_a_not_element_does_not_join_its_branches() -> None:
    allow = "{Effect: Allow, Action: [iam:PassRole, ec2:RunInstances], Resource: '*'}"
    template = f"""Resources:
  DenyResource:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {allow}
          - {{Effect: Deny, Action: iam:PassRole, Resource: !If [IsProd, '*', 'arn:aws:iam::*:role/breakglass']}}
  DenyItem:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {allow}
          - !If [IsProd, {{Effect: Deny, Action: iam:PassRole, Resource: '*'}}, !Ref AWS::NoValue]
  NotAction:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {{Effect: Allow, NotAction: !If [IsProd, ['iam:*', 'organizations:*'], ['s3:*']], Resource: '*'}}
"""
    loaded = load(template)
    found = {(finding.rule_id, finding.subject and finding.subject.get("name")) for finding in findings(loaded)}
    assert {("IAM012", "DenyResource"), ("IAM012", "DenyItem"), ("IAM001", "NotAction")} <= found
    assert [note.split(": ")[1] for note in loaded.not_checked if "is not counted against the grants" in note] == [
        "ManagedPolicy:DenyResource", "ManagedPolicy:DenyItem"]


def test_a_deny_in_one_branch_of_an_if_document_or_statement_list_or_naming_its_principals_is_not_counted() -> None:
    allow = "{Effect: Allow, Action: [iam:PassRole, ec2:RunInstances], Resource: '*'}"
    deny = "{Effect: Deny, Action: iam:PassRole, Resource: '*'}"
    template = f"""Resources:
  Document:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !If [IsProd, {{Statement: [{allow}, {deny}]}}, {{Statement: [{allow}]}}]
  StatementList:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: !If [IsProd, [{allow}, {deny}], [{allow}]]
  DeniedInBoth:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: !If [IsProd, [{allow}, {deny}], [{allow}, {deny}]]
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {{Effect: Allow, Principal: '*', Action: s3:GetObject, Resource: 'arn:aws:s3:::b/*'}}
          - Effect: Deny
            Principal: {{AWS: !If [Locked, 'arn:aws:iam::111122223333:role/x', '*']}}
            Action: s3:GetObject
            Resource: arn:aws:s3:::b/*
"""
    loaded = load(template)
    found = {(finding.rule_id, finding.subject and finding.subject.get("name")) for finding in findings(loaded)}
    assert {("IAM012", "Document"), ("IAM012", "StatementList"), ("IAM030", "BucketPolicy")} <= found
    assert ("IAM012", "DeniedInBoth") not in found
    assert [note.split(": ")[1] for note in loaded.not_checked if "is not counted against the grants" in note] == [
        "ManagedPolicy:Document", "ManagedPolicy:StatementList", "s3:BucketPolicy"]


def test_each_branch_of_an_if_inside_an_if_is_checked() -> None:
    public = "{Effect: Allow, Principal: '*', Action: s3:GetObject, Resource: 'arn:aws:s3:::b/*'}"
    template = f"""Resources:
  PrincipalIf:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: !If [A, !If [B, {{AWS: '111122223333'}}, '*'], {{AWS: '444455556666'}}]
            Action: s3:GetObject
            Resource: arn:aws:s3:::b/*
  StatementIf:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
          - !If [A, !If [B, {{Effect: Allow, Principal: {{AWS: '111122223333'}}, Action: s3:GetObject,
                            Resource: 'arn:aws:s3:::b/*'}}, {public}], !Ref AWS::NoValue]
  ActionIf:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {{Effect: Allow, Action: !If [A, !If [B, [s3:GetObject], ['iam:*']], [s3:ListBucket]], Resource: '*'}}
"""
    found = {(finding.rule_id, finding.location.line) for finding in findings(load(template))}
    assert {("IAM030", 8), ("IAM030", 17), ("IAM002", 23)} <= found


def test_a_syntax_error_in_a_literal_block_that_starts_blank_or_under_a_long_form_sub_is_at_the_bad_token() -> None:
    statement = '"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",}]'
    template = f"""Resources:
  BlankFirst:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: |

        {{
          {statement}
        }}
  LongSub:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Fn::Sub: |
          {{
            {statement}
          }}
"""
    lines = template.splitlines()
    expected = [(number, text.rindex("}]") + 1) for number, text in enumerate(lines, 1) if statement in text]
    assert [(problem.line, problem.column) for _, problem in load(template).document_problems] == expected


def test_a_managed_policy_in_sam_policies_is_located_at_its_item() -> None:
    template = """Transform: AWS::Serverless-2016-10-31
Resources:
  Listed:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.h
      Policies:
        - AWSLambdaExecute
        - AdministratorAccess
  Alone:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.h
      Policies: AdministratorAccess
"""
    assert {(f.rule_id, f.location.line, f.location.column) for f in findings(load(template))} == {
        ("IAM006", 9, 11), ("IAM006", 14, 17)}


NAMED_AT_DEPLOY = """Parameters:
  Env: {Type: String, Default: prod}
  Suffix: {Type: String}
Resources:
  EventBridgeRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub StackStateEventBridgeRole-${AWS::Region}
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: eventbridge
          PolicyDocument:
            Statement: [{Effect: Allow, Action: 'firehose:*', Resource: '*'}]
  FirehoseRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Join ['-', [StackStateFirehoseRole, !Ref 'AWS::Region']]
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: firehose.amazonaws.com}, Action: sts:AssumeRole}]
  ServerRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: {'Fn::Sub': ['Upsolver${E}ServerRole${S}', {E: !Ref Env, S: !Ref Suffix}]}
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
  OtherRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub Other-${AWS::Region}
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
"""


def test_a_name_built_with_sub_or_join_is_the_principals_name_and_chooses_its_baseline() -> None:
    from auditor.drift import matching_baselines, select_baselines

    roles = {p.name: p for p in load(NAMED_AT_DEPLOY).principals}
    # resolved as deployed: parameter defaults in, what only the stack knows as placeholders
    assert sorted(roles) == ["Other-{{AWS::Region}}", "StackStateEventBridgeRole-{{AWS::Region}}",
                             "StackStateFirehoseRole-{{AWS::Region}}", "UpsolverprodServerRole{{Ref:Suffix}}"]
    baselines = select_baselines()
    chosen = {name: [b.id for b in matching_baselines(role, baselines)] for name, role in roles.items()}
    assert chosen == {"StackStateEventBridgeRole-{{AWS::Region}}": ["stackstate/eventbridge-role"],
                      "StackStateFirehoseRole-{{AWS::Region}}": ["stackstate/firehose-role"],
                      "UpsolverprodServerRole{{Ref:Suffix}}": ["upsolver/server-role"],
                      "Other-{{AWS::Region}}": []}
    # and the findings name it so
    assert {f.subject["name"] for f in findings(load(NAMED_AT_DEPLOY)) if f.subject and f.subject["kind"] == "role"
            } >= {"StackStateEventBridgeRole-{{AWS::Region}}"}


def test_a_policy_written_before_its_role_leaves_the_role_its_name_and_place() -> None:
    template = """Resources:
  EbPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: eventbridge
      Roles: [!Ref EventBridgeRole]
      PolicyDocument:
        Statement: [{Effect: Allow, Action: 'firehose:*', Resource: '*'}]
  EventBridgeRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: StackStateEventBridgeRole-us-east-1
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
"""
    (role,) = load(template).principals
    assert (role.name, role.pointer) == ("StackStateEventBridgeRole-us-east-1", "/Resources/EventBridgeRole/Properties")
    assert [p.label for p in role.inline_policies] == ["Policy:EbPolicy"]


def test_an_effect_a_parameter_decides_is_checked_as_allow_and_listed_whatever_its_default() -> None:
    template = """Parameters:
  Eff: {Type: String}
  Eff2: {Type: String, Default: Deny, AllowedValues: [Allow, Deny]}
  Bucket: {Type: String, Default: data}
  Region: {Type: String, Default: eu-west-1}
Resources:
  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: !Ref Eff, Action: iam:PassRole, Resource: '*'}
  P2:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: !Ref Eff2, Action: iam:CreateAccessKey, Resource: '*'}
          - {Effect: !Sub '${Eff2}', Action: s3:GetObject, Resource: !Sub 'arn:aws:s3:::${Bucket}/*',
             Condition: {StringEquals: {aws:RequestedRegion: !Ref Region}}}
          - {Effect: !If [Strict, Deny, !Ref Eff2], Action: iam:PassRole, Resource: '*'}
"""
    loaded = load(template)
    statements = {(policy.label, statement.index): statement for policy in loaded.policies
                  for statement in policy.statements}
    assert {key: statement.effect for key, statement in statements.items()} == {
        ("ManagedPolicy:P", 0): "Allow", ("ManagedPolicy:P2", 0): "Allow", ("ManagedPolicy:P2", 1): "Allow",
        ("ManagedPolicy:P2", 2): "Allow"}
    assert [note.split(": ", 1)[1] for note in loaded.not_checked] == [
        f"ManagedPolicy:{label}: statement {index} Effect {{{{Ref:{parameter}}}}} (checked as Allow) is known only "
        "when the stack is deployed"
        for label, index, parameter in (("P", 0, "Eff"), ("P2", 0, "Eff2"), ("P2", 1, "Eff2"), ("P2", 2, "Eff2"))]
    # elsewhere in the statement a default stands for the value deployed
    readable = statements[("ManagedPolicy:P2", 1)]
    assert readable.resources == ("arn:aws:s3:::data/*",)
    assert [condition.values for condition in readable.conditions] == [("eu-west-1",)]
    assert {(f.rule_id, f.location.line) for f in findings(loaded) if f.rule_id in ("IAM003", "IAM012", "IAM020")
            } == {("IAM003", 12), ("IAM003", 18), ("IAM012", 18), ("IAM020", 18), ("IAM003", 21)}


def test_an_effect_a_parameter_decides_in_json_text_is_checked_as_allow_whatever_its_default() -> None:
    template = """Parameters:
  Eff: {Type: String, Default: Deny}
  Bucket: {Type: String, Default: data}
Resources:
  Text:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub |
        {"Statement": [{"Effect": "${Eff}", "Action": "iam:CreateAccessKey", "Resource": "*"},
                       {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${Bucket}/*"}]}
  Mapped:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub
        - '{"Statement": [{"Effect" : "${E}", "Action": "iam:CreateAccessKey", "Resource": "*"}]}'
        - {E: !Ref Eff}
"""
    loaded = load(template)
    assert [(policy.label, [(s.effect, s.resources) for s in policy.statements]) for policy in loaded.policies] == [
        ("ManagedPolicy:Text", [("Allow", ("*",)), ("Allow", ("arn:aws:s3:::data/*",))]),
        ("ManagedPolicy:Mapped", [("Allow", ("*",))])]
    assert [note.split(": ", 1)[1] for note in loaded.not_checked] == [
        f"ManagedPolicy:{label}: statement 0 Effect {{{{Ref:Eff}}}} (checked as Allow) is known only when the stack "
        "is deployed" for label in ("Text", "Mapped")]
    # the statement in the literal block, and in the first item of the !Sub list
    assert sorted(f.location.line for f in findings(loaded) if f.rule_id == "IAM020") == [9, 15]


BOUNDED_TEMPLATE = """Resources:
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: app-boundary
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: ["s3:*", "dynamodb:*"], Resource: "*"}
  AppRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: app-role
      PermissionsBoundary: !Ref Boundary
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
  OtherRole:
    Type: AWS::IAM::Role
    Properties:
      PermissionsBoundary: arn:aws:iam::aws:policy/PowerUserAccess
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
"""


def test_a_permissions_boundary_bounds_the_role_and_grants_nothing_itself() -> None:
    """Templates ignored PermissionsBoundary: the boundary policy was reported as if it granted, and the bounded
    administrator as critical, where an export of the same account says info and medium."""
    loaded = load(BOUNDED_TEMPLATE)
    roles = {p.name: p for p in loaded.principals}
    assert roles["app-role"].permissions_boundary is not None
    assert roles["app-role"].permissions_boundary.boundary_only
    assert roles["OtherRole"].missing_boundary_arn == "arn:aws:iam::aws:policy/PowerUserAccess"
    by_rule = {(f.rule_id, f.severity.value) for f in findings(loaded)}
    assert ("IAM006", "medium") in by_rule and ("IAM006", "critical") not in by_rule
    assert {severity for rule, severity in by_rule if rule in ("IAM002", "IAM003", "IAM021", "IAM022")} == {"info"}
    # a managed policy also attached to a principal still grants
    attached = BOUNDED_TEMPLATE.replace("      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]",
                                        "      ManagedPolicyArns: [!Ref Boundary]")
    assert not load(attached).policies[0].boundary_only


EMPTY_DEFAULTS = """
Parameters:
  ExternalId: {Type: String, Default: ""}
  ExistingTopicArn: {Type: String, Default: ""}
  Prefix: {Type: String, Default: ""}
Conditions:
  HasExternalId: !Not [!Equals [!Ref ExternalId, ""]]
  CreateTopic: !Equals [!Ref ExistingTopicArn, ""]
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Queue: {Type: AWS::SQS::Queue}
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: !If [CreateTopic, !Ref Topic, !Ref ExistingTopicArn]
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${Prefix}VendorReadOnly"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: arn:aws:iam::111122223333:root}
            Action: sts:AssumeRole
            Condition: !If
              - HasExternalId
              - StringEquals: {sts:ExternalId: !Ref ExternalId}
              - !Ref AWS::NoValue
"""


def test_a_parameter_whose_default_is_empty_is_a_value_decided_when_the_stack_is_deployed() -> None:
    """``Default: ""`` means "not given": the branch the template's Condition takes then does not hold "", and a
    queue fenced by its topic's ARN is not public, nor an external id a placeholder (Lacework's and Metacosm's
    templates). Within a longer !Sub text the empty default is kept: an optional prefix."""
    loaded = load(EMPTY_DEFAULTS)
    found = {(finding.rule_id, (finding.subject or {}).get("name")) for finding in findings(loaded)}
    assert ("IAM030", "QueuePolicy") not in found
    assert ("IAM032", "VendorReadOnly") not in found
    assert ("IAM031", "VendorReadOnly") in found  # the branch without the condition may be deployed
    [role] = loaded.principals
    assert role.name == "VendorReadOnly"


def _group_template(membership: str) -> str:
    return f"""
Resources:
  Devs:
    Type: AWS::IAM::Group
    Properties:
      GroupName: Devs
      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      Policies:
        - PolicyName: lambda
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {{Effect: Allow, Action: [lambda:CreateFunction, lambda:InvokeFunction], Resource: "*"}}
  Alice:
    Type: AWS::IAM::User
    Properties:
      UserName: alice
{membership}      Policies:
        - PolicyName: pass
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {{Effect: Allow, Action: iam:PassRole, Resource: "*"}}
"""


ADDITION = """  Join:
    Type: AWS::IAM::UserToGroupAddition
    Properties:
      GroupName: !Ref Devs
      Users: [!Ref Alice]
"""


@pytest.mark.parametrize("template", [
    _group_template("      Groups: [!Ref Devs]\n"),
    _group_template("      Groups: [Devs]\n"),
    _group_template("") + ADDITION,
])
def test_a_user_is_checked_with_the_policies_of_its_groups_in_the_template(template: str) -> None:
    """``Groups`` of a user, by reference or name, and ``AWS::IAM::UserToGroupAddition``: an escalation split between
    the user's policy and its group's (PassRole, CreateFunction, InvokeFunction) is the user's, as in an export."""
    loaded = load(template)
    users = [principal for principal in loaded.principals if principal.kind == "user"]
    assert [(user.name, user.group_names, user.group_policy_arns) for user in users] == [
        ("alice", ("Devs",), ("arn:aws:iam::aws:policy/ReadOnlyAccess",))]
    assert ("IAM012", "alice") in {(finding.rule_id, (finding.subject or {}).get("name"))
                                   for finding in findings(loaded)}


def test_a_group_that_is_not_in_the_template_is_listed_as_not_checked() -> None:
    loaded = load(_group_template("      Groups: [Admins]\n"))
    [alice] = [principal for principal in loaded.principals if principal.kind == "user"]
    assert alice.group_names == ()
    assert any("user alice: the group Admins is not in the template" in note for note in loaded.not_checked)


def test_an_if_inside_a_join_gives_one_string_per_branch() -> None:
    """``!Join ['', [!If [IsGov, arn:aws-us-gov, arn:aws], ':s3:::b']]`` is one ARN or the other, not both
    branches joined into one string (``arn:aws-us-gov:s3:::barn:aws``)."""
    loaded = load("""
Conditions:
  IsGov: !Equals [!Ref AWS::Partition, aws-us-gov]
Resources:
  Reader:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: s3:ListBucket
            Resource: !Join ['', [!If [IsGov, 'arn:aws-us-gov', 'arn:aws'], ':s3:::b']]
          - Effect: Allow
            Action: s3:GetObject
            Resource: !Join ['/', ['arn:aws:s3:::b', !If [IsGov, gov, !Ref AWS::NoValue], '*']]
""")
    [policy] = loaded.policies
    assert [statement.resources for statement in policy.statements] == [
        ("arn:aws-us-gov:s3:::b", "arn:aws:s3:::b"),
        ("arn:aws:s3:::b/*",)]  # b/gov/* or b/*: the items of both branches, of which b/* takes in the other


@pytest.mark.parametrize(("written", "line", "column"), [
    # a literal block, tagged or not: the place in it
    ('|\n        {"Version": "2012-10-17",\n         "Statement": [{"Effect": "Allow", "Action": "iam:*",\n'
     '                        "Resource": "*"}]}', 10, 54),
    ('!Sub |\n        {"Version": "2012-10-17",\n         "Statement": [{"Effect": "Allow", "Action": "iam:*",\n'
     '                        "Resource": "arn:aws:iam::${AWS::AccountId}:*"}]}', 10, 54),
    # one line, quoted or not, written as it is
    ("'{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iam:*\", "
     "\"Resource\": \"*\"}]}'", 8, 94),
    # an indentation indicator: the holding node's indentation and that many more (its first line is indented
    # further, and was taken as the indentation)
    ('|2\n            {"Version": "2012-10-17",\n          "Statement": [{"Effect": "Allow", "Action": "iam:*",\n'
     '                        "Resource": "*"}]}', 10, 55),
    # tagged, one line
    ("!Sub '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iam:*\", "
     "\"Resource\": \"arn:aws:iam::${AWS::AccountId}:*\"}]}'", 8, 99),
    # the first item of a !Sub list
    ('!Sub\n        - |\n          {"Version": "2012-10-17",\n           "Statement": [{"Effect": "Allow", '
     '"Action": "iam:*",\n            "Resource": "arn:aws:iam::${AWS::AccountId}:${Name}"}]}\n        - Name: x',
     11, 56),
    # escapes: where the string starts
    ('"{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": [{\\"Effect\\": \\"Allow\\", \\"Action\\": \\"iam:*\\", '
     '\\"Resource\\": \\"*\\"}]}"', 8, 23),
])
def test_a_finding_in_a_policy_written_as_json_text_points_into_the_text(written: str, line: int,
                                                                         column: int) -> None:
    """All the findings of a PolicyDocument given as JSON text were at the PolicyDocument line, whatever the
    statement."""
    loaded = load(f"Resources:\n  Admin:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Description: x\n"
                  f"      Path: /\n      ManagedPolicyName: admin\n      PolicyDocument: {written}\n")
    [iam002] = [f for f in findings(loaded) if f.rule_id == "IAM002"]
    assert (iam002.location.line, iam002.location.column) == (line, column)


@pytest.mark.parametrize("resource", ["role/app-admin", "role/app-*"])
def test_passing_an_administrator_role_of_the_template_is_high(resource: str) -> None:
    """By name or by a prefix that matches it: the template shows the role is an administrator. The exact name was
    medium too: the account's {{AWS::AccountId}} holds colons, which broke the ARN apart."""
    loaded = load(f"""Resources:
  AdminRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: app-admin
      AssumeRolePolicyDocument:
        Statement: [{{Effect: Allow, Principal: {{Service: ec2.amazonaws.com}}, Action: sts:AssumeRole}}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
  Dev:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: iam:PassRole, Resource: !Sub "arn:aws:iam::${{AWS::AccountId}}:{resource}"}}
          - {{Effect: Allow, Action: ec2:RunInstances, Resource: "*"}}
""")
    escalations = [f for f in findings(loaded) if f.rule_id == "IAM012" and f.details["path"] ==
                   "passrole-ec2-runinstances"]
    assert [(f.severity.value, "on role app-admin, an administrator" in f.message) for f in escalations] == [
        ("high", True)]


def test_a_permission_set_is_checked_as_the_role_it_becomes_in_each_account() -> None:
    loaded = load("""Resources:
  Ops:
    Type: AWS::SSO::PermissionSet
    Properties:
      InstanceArn: arn:aws:sso:::instance/ssoins-1
      Name: Ops
      ManagedPolicies: [arn:aws:iam::aws:policy/AdministratorAccess]
      CustomerManagedPolicyReferences: [{Name: ops-extra, Path: /}]
      InlinePolicy:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Action: iam:PassRole, Resource: '*'}]
""")
    [role] = loaded.principals
    assert (role.kind, role.name) == ("role", "AWSReservedSSO_Ops_{{unique suffix}}")
    assert role.attached_policy_arns == ("arn:aws:iam::aws:policy/AdministratorAccess",)
    assert [p.label for p in role.inline_policies] == ["permission-set:Ops"]
    assert any("customer managed policies ops-extra of the permission set" in line for line in loaded.not_checked)
    [admin] = [f for f in findings(loaded) if f.rule_id == "IAM006"]
    assert (admin.severity.value, admin.location.line) == ("critical", 7)


@pytest.mark.parametrize(("resource", "line"), [
    ("""  M:
    Type: AWS::S3::MultiRegionAccessPointPolicy
    Properties:
      MrapName: m
      Policy:
        Statement: [{Effect: Allow, Principal: '*', Action: s3:GetObject,
                     Resource: 'arn:aws:s3::123456789012:accesspoint/m.mrap/object/*'}]""", 8),
    ("""  O:
    Type: AWS::S3ObjectLambda::AccessPointPolicy
    Properties:
      ObjectLambdaAccessPoint: olap
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: '*', Action: s3-object-lambda:GetObject,
                     Resource: 'arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/olap'}]""", 8),
    ("""  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        ResourcePolicy:
          CustomStatements:
            - Effect: Allow
              Principal: '*'
              Action: execute-api:Invoke
              Resource: 'execute-api:/*'""", 11),
    ("""  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.h
      Runtime: python3.12
      CodeUri: s/
      FunctionUrlConfig:
        AuthType: NONE""", 10),
])
def test_resources_that_make_something_public_outside_a_policy_resource_are_checked(resource: str,
                                                                                    line: int) -> None:
    loaded = load(f"Transform: AWS::Serverless-2016-10-31\nResources:\n{resource}\n")
    [public] = [finding for finding in findings(loaded) if finding.rule_id == "IAM030"]
    assert public.location.line == line and not loaded.not_checked


def test_a_function_url_that_asks_for_iam_authentication_grants_nothing() -> None:
    assert not load("""Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.h, Runtime: python3.12, CodeUri: s/, FunctionUrlConfig: {AuthType: AWS_IAM}}
""").policies


def test_a_policy_document_of_a_resource_type_iam_audit_does_not_read_is_listed_as_not_checked() -> None:
    loaded = load("""Resources:
  Lattice:
    Type: AWS::VpcLattice::AuthPolicy
    Properties:
      Policy: '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}'
  Iot:
    Type: AWS::IoT::Policy
    Properties:
      PolicyDocument: {Statement: [{Effect: Allow, Action: 'iot:*', Resource: '*'}]}
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: b}
""")
    assert not loaded.skipped and not loaded.policies
    assert loaded.not_checked == [
        "stack.yaml: Lattice: AWS::VpcLattice::AuthPolicy Policy: a policy document iam-audit does not read for "
        "this resource type: not checked",
        "stack.yaml: Iot: AWS::IoT::Policy, an AWS IoT Core policy (IoT's own policy language, for devices)"]


@pytest.mark.parametrize(("top_key", "accounts"), [
    ("prod", ["210987654321"]),
    ("!Ref Env", ["111122223333"]),  # the parameter's default
    ("!Ref AWS::Region", ["111122223333", "210987654321", "444455556666"]),  # decided when deployed: every entry
    ("staging", ["{{FindInMap}}"]),  # not in the map
])
def test_find_in_map_takes_the_value_of_the_template_s_mappings(top_key: str, accounts: list[str]) -> None:
    template = f"""Parameters:
  Env: {{Type: String, Default: dev}}
Mappings:
  Accounts:
    prod: {{id: '210987654321'}}
    dev: {{id: '111122223333'}}
    eu-west-1: {{id: '444455556666'}}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {{Effect: Allow, Action: sts:AssumeRole, Principal: {{AWS: !FindInMap [Accounts, {top_key}, id]}}}}
"""
    [role] = load(template).principals
    assert role.trust_policy is not None
    trusted = sorted({ref.value for statement in role.trust_policy.statements for ref in statement.principals or ()})
    assert trusted == accounts


def test_a_double_colon_substitution_is_a_deploy_time_value_not_a_policy_variable() -> None:
    """Rain's ``${Constant::Name}`` in an ``!Sub`` is filled in before deployment: not IAM's ``${aws:username}``."""
    template = """Resources:
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource:
              - !Sub arn:${AWS::Partition}:s3:::${Constant::BucketName}/*
              - !Sub arn:${AWS::Partition}:s3:::home/${aws:username}/*
"""
    [policy] = load(template).policies
    assert policy.statements[0].resources == ("arn:aws:s3:::{{Constant::BucketName}}/*",
                                              "arn:aws:s3:::home/${aws:username}/*")
    assert "IAM407" not in rule_ids(template)


def test_nested_stacks_and_policy_macros_are_listed_as_not_checked() -> None:
    """A vendor's role deployed by a nested stack (Datadog's main.yaml) is in another template: the parent was
    skipped as holding "no IAM policy" (hunt50); a Policies entry a macro writes is not "without a PolicyDocument"."""
    loaded = load('''
Resources:
  IntegrationRoleStack:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example-bucket.s3.amazonaws.com/integration_role.yaml
  App:
    Type: AWS::Serverless::Application
    Properties:
      Location: {ApplicationId: "arn:aws:serverlessrepo:us-east-1:123456789012:applications/x", SemanticVersion: 1.0.0}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com},
                                              Action: "sts:AssumeRole"}]}
      Policies:
        - Fn::Transform: {Name: VendorPolicy, Parameters: {}}
''')
    assert loaded.skipped == []
    assert loaded.not_checked == [
        "stack.yaml: IntegrationRoleStack: AWS::CloudFormation::Stack, a nested stack: its template "
        "https://example-bucket.s3.amazonaws.com/integration_role.yaml is checked only when given too",
        "stack.yaml: App: AWS::Serverless::Application, a nested stack: its template is checked only when given too",
        "stack.yaml: Role Policies entry 0: written by the macro VendorPolicy (Fn::Transform) when the stack is "
        "deployed",
    ]


def test_a_policy_naming_the_role_sam_creates_is_weighed_with_that_role() -> None:
    """``Roles: [!Ref ConnectorRole]`` names the role AWS SAM creates for the function ``Connector``: its PassRole
    and the function's RunInstances are one escalation (IAM012), as with a role the template declares (hunt50)."""
    loaded = load('''
Transform: AWS::Serverless-2016-10-31
Resources:
  Connector:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      CodeUri: s3://bucket/code.zip
      Policies:
        - Statement: [{Effect: Allow, Action: "ec2:RunInstances", Resource: "*"}]
  ConnectorPassRole:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: pass
      Roles: [!Ref ConnectorRole]
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: "iam:PassRole", Resource: "*"}]
''')
    (role,) = loaded.principals
    assert (role.name, role.aliases) == ("ConnectorRole", ("Connector",))
    assert [p.label for p in role.inline_policies] == ["inline:Connector", "Policy:ConnectorPassRole"]
    assert any(f.rule_id == "IAM012" and f.subject and f.subject["name"] == "ConnectorRole" for f in findings(loaded))


@pytest.mark.parametrize(("parameter", "condition", "reported"), [
    ("AccessLevel: {Type: String, AllowedValues: [ReadOnly, SecurityAudit]}",
     "IsFull: !Equals [!Ref AccessLevel, FullAccess]", False),
    ("AccessLevel: {Type: String, AllowedValues: [FullAccess]}",
     "IsFull: !Equals [FullAccess, !Ref AccessLevel]", True),
    ("AccessLevel: {Type: String, Default: ReadOnly}", "IsFull: !Equals [!Ref AccessLevel, FullAccess]", True),
    ("AccessLevel: {Type: String, AllowedValues: [ReadOnly, FullAccess]}",
     "IsFull: !And [!Equals [!Ref AccessLevel, FullAccess], !Not [!Equals [!Ref AccessLevel, ReadOnly]]]", True),
    ("ExternalId: {Type: String, MinLength: '2'}", "IsFull: !Equals [!Ref ExternalId, '']", False),
    ("ExternalId: {Type: String, AllowedValues: [a]}",
     "Other: !Equals [!Ref ExternalId, b]\n  IsFull: !Or [!Condition Other, !Equals [!Ref ExternalId, c]]", False),
])
def test_an_fn_if_the_parameters_constraints_decide_gives_its_one_branch(
        parameter: str, condition: str, reported: bool) -> None:
    """AdministratorAccess behind ``!If [IsFull, ...]`` is not attached when ``AllowedValues`` never let the
    condition hold (hunt50: a critical IAM006 for a stack that cannot be deployed so); a default decides nothing."""
    loaded = load(f'''
Parameters:
  {parameter}
Conditions:
  {condition}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {{Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}},
                                                Action: "sts:AssumeRole"}}]}}
      ManagedPolicyArns:
        - !If [IsFull, "arn:aws:iam::aws:policy/AdministratorAccess", !Ref AWS::NoValue]
''')
    assert ("IAM006" in {f.rule_id for f in findings(loaded)}) is reported


@pytest.mark.parametrize(("minimum", "reported"), [("MinLength: '2'", False), ("Default: ''", True)])
def test_an_external_id_condition_that_a_min_length_requires_is_always_there(minimum: str, reported: bool) -> None:
    """``!If [HasExternalId, {StringEquals: {sts:ExternalId: ...}}, !Ref AWS::NoValue]`` where the parameter must
    have two characters or more: the condition is always deployed, no trust without it (hunt50: high IAM031)."""
    loaded = load(f'''
Parameters:
  ExternalID: {{Type: String, {minimum}}}
Conditions:
  HasExternalId: !Not [!Equals [!Ref ExternalID, ""]]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{AWS: "arn:aws:iam::434813966438:root"}}
            Action: sts:AssumeRole
            Condition: !If [HasExternalId, {{StringEquals: {{sts:ExternalId: !Ref ExternalID}}}}, !Ref AWS::NoValue]
''')
    assert ("IAM031" in {f.rule_id for f in findings(loaded)}) is reported


@pytest.mark.parametrize(("resources", "pointer", "words"), [
    ("  - Type: AWS::IAM::Role\n", "/Resources", "Resources must be a mapping of logical ids to resources"),
    ('  R: "AWS::IAM::Role"\n', "/Resources/R", "resource R must be a mapping with a Type, found a string"),
    ("  P:\n    Type: 5\n    Properties: {}\n", "/Resources/P/Type", "resource P has no Type"),
    ("  Q:\n    Properties: {}\n", "/Resources/Q", "resource Q has no Type"),
])
def test_resources_that_cannot_be_read_are_said(resources: str, pointer: str, words: str) -> None:
    """A list of resources was "template has no Resources"; a resource without a Type was passed over silently."""
    loaded = load('AWSTemplateFormatVersion: "2010-09-09"\nResources:\n' + resources)
    [(_, problem)] = loaded.document_problems
    assert (problem.rule, problem.pointer) == ("wrong-type", pointer) and words in problem.message


def test_a_vpc_endpoint_policy_is_checked_as_one() -> None:
    """Its Principal "*" is how endpoint policies are written: no public-access finding; its actions are checked."""
    loaded = load("""Resources:
  Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: vpc-1
      ServiceName: com.amazonaws.us-east-1.s3
      PolicyDocument: {Statement: [{Effect: Allow, Principal: '*', Action: ['s3:GetObject', 's3:GetObjekt'],
                                    Resource: '*'}]}
""")
    [policy] = loaded.policies
    assert policy.kind is PolicyKind.ENDPOINT and policy.label == "vpc-endpoint:Endpoint"
    assert {f.rule_id for f in findings(loaded)} == {"IAM102", "IAM201"}

"""Stored versions of a customer managed policy that are not the default (IAM013).

An account export lists every version of a customer managed policy, but only the default one is
in effect, and only that one is linted. The others are one ``iam:SetDefaultPolicyVersion`` call
away: this family compares each of them with the default, using the request-set algebra of
drift (:mod:`auditor.drift_logic`), and reports a version that would allow more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from auditor.catalog import Catalog
from auditor.drift_logic import (
    ActionSpace,
    Gap,
    action_space,
    compile_statements,
    find_gaps,
    shown_actions,
    star_only_mask,
    without_star_only,
)
from auditor.engine import CheckContext
from auditor.model import Policy, Severity
from auditor.normalize import stored_version
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

_SHOWN = 4
_LISTED = 25
_GAP_WORDS = {
    "action": "{count} action(s) the default does not allow: {actions}",
    "resource": "{actions} on resources the default does not name",
    "condition": "{actions} under looser conditions than the default's",
    "deny": "{actions}, which a Deny of the default refuses",
    "principal": "{actions} for principals the default does not name",
}
"""How each kind of gap (see ``drift_logic.Gap``) reads in the message, most serious first."""


def _export(default_document: str, other_document: str) -> str:
    return json.dumps({"Policies": [{
        "PolicyName": "app", "Arn": "arn:aws:iam::111122223333:policy/app", "DefaultVersionId": "v2",
        "PolicyVersionList": [
            {"VersionId": "v2", "IsDefaultVersion": True, "Document": json.loads(default_document)},
            {"VersionId": "v1", "IsDefaultVersion": False, "Document": json.loads(other_document)},
        ],
    }]})


_READ_BUCKET = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                '"Resource": "arn:aws:s3:::app-data/*"}]}')
_TAGGED_RUN = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", '
               '"Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/team": "app"}}}]}')


@RULES.rule(
    "IAM013", "dormant-policy-version", "privilege-escalation", Severity.MEDIUM,
    "A stored version of a customer managed policy allows more than the default",
    what="In an account export (or `iam-audit fetch`), compares every stored version of a customer managed "
         "policy that is not the default with the default version, and reports one that allows a request the "
         "default does not: an action it lacks, wider resources, a condition it drops or a Deny it does not "
         "have. High when the extra access includes permissions-management actions, low when it only reads. "
         "Only the default version is in effect, so the other rules check only that one.",
    why="An older version stays stored after a policy is tightened. Anyone allowed `iam:SetDefaultPolicyVersion` "
        "on the policy (IAM012 reports who) can make it the default again in one call, with no new document "
        "to review, and every principal the policy is attached to gets the old access back.",
    example='"PolicyVersionList": [{"VersionId": "v2", "IsDefaultVersion": true, "Document": <s3:GetObject on '
            'one bucket>}, {"VersionId": "v1", "IsDefaultVersion": false, "Document": <s3:* on *>}]',
    fix="Delete the versions you do not need: `aws iam delete-policy-version --policy-arn ARN --version-id v1`. "
        "Keep `iam:SetDefaultPolicyVersion` for the people who maintain the policy.",
    bad=[example(_export(_READ_BUCKET, _READ_BUCKET.replace('"s3:GetObject", "Resource": "arn:aws:s3:::app-data/*"',
                                                              '"s3:*", "Resource": "*"')), "IAM013",
                 note="the older version allows every S3 action on every bucket"),
         example(_export(_TAGGED_RUN, _TAGGED_RUN.replace(', "Condition": {"StringEquals": '
                                                          '{"aws:RequestTag/team": "app"}}', "")), "IAM013",
                 note="the older version runs instances without the tag condition")],
    good=[example(_export(_READ_BUCKET, _READ_BUCKET)),
          example(_export(_READ_BUCKET, _READ_BUCKET.replace("app-data/*", "app-data/reports/*")),
                  note="the older version allows less than the default")],
)
def dormant_policy_version(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    if not policy.dormant_versions:
        return
    space = action_space(context.catalog)
    star_only = star_only_mask(context.catalog)
    default = compile_statements(policy, space, inner=False)
    for stored in policy.dormant_versions:
        dormant = stored_version(policy, stored)
        gaps = without_star_only(find_gaps(compile_statements(dormant, space, inner=True), default), star_only)
        if gaps:
            yield _more_than_the_default(policy, dormant, gaps, space, context.catalog)


def _more_than_the_default(policy: Policy, dormant: Policy, gaps: list[Gap], space: ActionSpace,
                           catalog: Catalog) -> Hit:
    by_kind: dict[str, int] = {}
    for gap in gaps:
        by_kind[gap.kind] = by_kind.get(gap.kind, 0) | gap.actions
    every = 0
    for actions in by_kind.values():
        every |= actions
    first = space.permissions_management
    parts = [words.format(count=actions.bit_count(), actions=shown_actions(actions, space, catalog, _SHOWN, first))
             for kind, words in _GAP_WORDS.items() if (actions := by_kind.get(kind, 0))]
    name = policy.subject.name if policy.subject is not None else policy.label or "the policy"
    severity = Severity.HIGH if every & first else Severity.MEDIUM if every & space.writes else Severity.LOW
    version = f"Version {dormant.version_id}" if dormant.version_id else "A stored version (with no VersionId)"
    return Hit(
        f"{version} of {name} is not the default ({policy.version_id or 'the default'}) but allows "
        f"{'; '.join(parts)}. Anyone allowed iam:SetDefaultPolicyVersion on it can make it the default: delete it "
        "if it is not needed",
        pointer=_first_statement_pointer(gaps, dormant),
        severity=severity,
        details={
            "version_id": dormant.version_id,
            "default_version_id": policy.version_id,
            "action_count": every.bit_count(),
            "actions": [catalog.display_name(a) for a in space.names_of(every, _LISTED)],
            "gaps": sorted(by_kind),
        },
    )


def _first_statement_pointer(gaps: list[Gap], dormant: Policy) -> str:
    statements = [gap.statement.statement for gap in gaps if gap.statement.statement is not None]
    first = min(statements, key=lambda statement: statement.index, default=None)
    return first.pointer if first is not None else dormant.pointer

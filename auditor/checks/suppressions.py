"""Suppressions written in the input that hide nothing (IAM6xx).

Whether an inline suppression is used is known only once every finding of its file is: :mod:`auditor.suppress`
reports it with the metadata registered here, after the checks (``check`` and ``report``). The example test runs
that step for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import CheckContext
from auditor.model import Policy, Severity
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

_V = '{"Version": "2012-10-17", "Statement": ['


def _after_the_checks(subject: Policy, context: CheckContext) -> Iterator[Hit]:
    """Reported by :func:`auditor.suppress.unused_suppressions`, which sees the findings of the whole file."""
    return iter(())


RULES.rule(
    "IAM600", "unused-suppression", "suppression", Severity.LOW, "An inline suppression that hides nothing",
    what="Reports a suppression written in the input that suppresses no finding of this run: a rule id at the end "
         "of a Sid's `IamAuditIgnore` marker whose statement has no finding of that rule, an entry of a "
         "CloudFormation resource's `Metadata: {iam-audit: {ignore: [...]}}` that the resource has no finding "
         "of, and a marker or entry that names no rule id, slug or category at all (`IamAuditIgnoreIAM999`, a "
         "misspelt slug, `{reason: ...}` without `rule`). Only what could be judged is: not an entry naming a rule "
         "that `--select`, `--ignore` or `--category` left out (a slug or category: any of its rules), nor a drift "
         "rule (IAM9xx: whether a baseline applies depends on the run), nor a statement or resource with an element "
         "known only at deployment (`Action: !Ref Actions`) or a part listed as not checked. A marker or Metadata "
         "that also names IAM600 (or `unused-suppression`) keeps its other entries from being reported. "
         "`[[suppress]]` entries of the configuration are not judged: they may be meant for files another run checks.",
    why="A suppression outlives the finding it was written for: once the policy is fixed it stays, unnoticed, and "
        "hides the same rule's next finding there (a wildcard someone adds later). One that names no rule never "
        "suppressed anything, so the finding its author meant to accept is still reported, or was never there.",
    example='{"Sid": "ReadReportsIamAuditIgnoreIAM003", "Effect": "Allow", "Action": "s3:GetObject", '
            '"Resource": "arn:aws:s3:::reports/*"}',
    fix="Remove the rule id from the Sid (or the entry from the Metadata); correct a misspelt one.",
    bad=[example(_V + '{"Sid": "ReadReportsIamAuditIgnoreIAM003", "Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::reports/*"}]}', "IAM600",
                 note="IAM003 has nothing to report on a read of one bucket's objects"),
         example(_V + '{"Sid": "AnyBucketIamAuditIgnoreIAM03", "Effect": "Allow", "Action": "s3:PutObject", '
                 '"Resource": "*"}]}', "IAM003", "IAM600",
                 note="IAM03 is no rule id: the marker suppresses nothing, and IAM003 is reported")],
    good=[example(_V + '{"Sid": "AnyBucketIamAuditIgnoreIAM003", "Effect": "Allow", "Action": "s3:PutObject", '
                  '"Resource": "*"}]}', "IAM003",
                  note="the IAM003 finding is reported as suppressed, with the Sid as its reason"),
          example(_V + '{"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", '
                  '"Resource": "arn:aws:s3:::reports/*"}]}', note="no suppression, nothing to report")],
)(_after_the_checks)

"""Malformed: the document is not JSON/YAML, or not a policy by IAM's grammar.

The grammar is checked once, by :mod:`auditor.normalize`, which records problems
on the policy; each rule here reports the problems of its kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import CheckContext
from auditor.model import Policy, PolicyKind, Severity
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
CATEGORY = "malformed"


def _problems(policy: Policy, slug: str) -> Iterator[Hit]:
    for problem in policy.problems:
        if problem.rule == slug:
            yield Hit(problem.message, pointer=problem.pointer, details=problem.details)


@RULES.rule(
    "IAM100", "syntax-error", CATEGORY, Severity.HIGH, "The file is not valid JSON, YAML or HCL",
    what="Reports a policy file that cannot be parsed: a JSON, YAML or Terraform HCL syntax error, an empty file, a "
         "comment in JSON, text that is not UTF-8, or a policy string (in a Terraform plan or .tf file, a "
         "CloudFormation property) that is not JSON.",
    why="IAM rejects the document outright, and every other check is blind to a file it cannot read.",
    example='{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow",} ]}',
    fix="Correct the syntax at the reported line and column (a trailing comma, a missing quote or bracket).",
    bad=[example('{"Version": "2012-10-17", "Statement": [', "IAM100")],
    good=[example('{"Version": "2012-10-17", "Statement": []}', "IAM101")],
)
def syntax_error(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "syntax-error")


@RULES.rule(
    "IAM101", "not-a-policy", CATEGORY, Severity.HIGH, "The document is not a policy",
    what="Reports a document that means to be a policy but lacks its frame: no `Statement`, an empty statement "
         "list, or a top level that is not an object.",
    why="IAM refuses such a document; if it was meant to grant something, nothing is granted.",
    example='{"Version": "2012-10-17", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}',
    fix='Wrap statements in `"Statement": [ ... ]` beside `"Version": "2012-10-17"`.',
    bad=[example('{"Version": "2012-10-17", "Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::b"}', "IAM101")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}')],
)
def not_a_policy(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "not-a-policy")


@RULES.rule(
    "IAM102", "bad-version", CATEGORY, Severity.MEDIUM, "Missing or outdated policy Version",
    what='Reports a policy without `Version`, with a value other than "2012-10-17" or "2008-10-17", or with the '
         'outdated "2008-10-17". Without a valid 2012-10-17 version: low when the policy uses no policy variable '
         '(info for an explicit "2008-10-17", as AWS writes in the default policies of SNS topics and CloudFront), '
         'medium when it does, high when a Deny does (the guardrail then matches nothing).',
    why="Without the 2012-10-17 version, policy variables such as `${aws:username}` are literal text, so a "
        "statement meant to scope access per user silently matches nothing or the wrong thing; an invalid "
        "version makes IAM reject the policy.",
    example='{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
            '"Resource": "arn:aws:s3:::b/${aws:username}/*"}]}',
    fix='Add `"Version": "2012-10-17"` at the top of the policy.',
    bad=[example('{"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}',
                 "IAM102"),
         example('{"Version": "2012-10-18", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::b"}]}', "IAM102")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}')],
)
def bad_version(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for problem in policy.problems:
        if problem.rule != "bad-version":
            continue
        details = problem.details
        if not (details.get("missing") or details.get("outdated")):
            severity = None  # not a version IAM knows: it rejects the policy
        elif details.get("variables"):
            severity = Severity.HIGH if details.get("in_deny") else Severity.MEDIUM
        else:  # harmless yet; "2008-10-17" is what AWS itself writes in SNS topics' and CloudFront's default policies
            severity = Severity.INFO if details.get("outdated") else Severity.LOW
        yield Hit(problem.message, pointer=problem.pointer, details=details, severity=severity)


@RULES.rule(
    "IAM103", "bad-effect", CATEGORY, Severity.HIGH, "Missing or invalid Effect",
    what='Reports a statement whose `Effect` is missing or is not exactly "Allow" or "Deny", and an `Allow` in a '
         'resource control policy (RCPs only deny; AWS\'s RCPFullAWSAccess, "*" on "*", is the one Allow).',
    why="IAM rejects the policy; a Deny meant as a guardrail that is spelt `deny` protects nothing.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "deny", "Action": "s3:*", "Resource": "*"}]}',
    fix='Write `"Effect": "Allow"` or `"Effect": "Deny"` (case-sensitive).',
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "deny", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::b"}]}', "IAM103"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": '
                 '"s3:GetObject", "Resource": "*"}]}', "IAM103", kind=PolicyKind.ORGANIZATION,
                 note="a resource control policy that allows")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", '
                  '"Resource": "*"}]}', kind=PolicyKind.ORGANIZATION, note="AWS's RCPFullAWSAccess")],
)
def bad_effect(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "bad-effect")


@RULES.rule(
    "IAM104", "action-element", CATEGORY, Severity.HIGH, "Missing, doubled or empty Action element",
    what="Reports a statement with neither `Action` nor `NotAction`, with both, or with an empty action list.",
    why="IAM rejects the statement; an empty list silently grants nothing.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
    fix="Name the actions in exactly one of `Action` or `NotAction`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "arn:aws:s3:::b"}]}',
                 "IAM104"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:ListBucket", '
                 '"NotAction": "s3:GetObject", "Resource": "arn:aws:s3:::b"}]}', "IAM104")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}')],
)
def action_element(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "action-element")


@RULES.rule(
    "IAM105", "resource-element", CATEGORY, Severity.HIGH, "Missing, doubled or misplaced Resource element",
    what="Reports a statement of an identity or resource policy with neither `Resource` nor `NotResource`, one "
         "with both, and a role trust policy that names a `Resource`.",
    why="IAM rejects the policy, so whatever it was meant to grant or deny does not take effect.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket"}]}',
    fix="Identity and resource policies: add `Resource` (the ARNs the statement covers). Trust policies: remove "
        "`Resource`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket"}]}',
                 "IAM105")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", '
                  '"Principal": {"Service": "ec2.amazonaws.com"}}]}', kind=PolicyKind.TRUST)],
)
def resource_element(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "resource-element")


@RULES.rule(
    "IAM106", "principal-element", CATEGORY, Severity.HIGH, "Principal missing, misplaced or of a bad form",
    what="Reports a `Principal` in an identity policy, a resource or trust policy statement without one, a "
         "`NotPrincipal` in a trust or organization policy, a resource control policy whose `Principal` is not "
         "`\"*\"`, an organization policy mixing statements with and without `Principal` (an SCP takes none, an RCP "
         "needs one in every statement; a CloudFormation or Terraform organization policy is checked as the type it "
         "declares), principals that are neither `\"*\"` nor an object of "
         "`AWS`, `Service`, `Federated` or `CanonicalUser`, an `AWS` or `Service` principal with a wildcard "
         "inside it (`arn:aws:iam::*:root`), and an `AWS` principal that is neither an account id, nor the ARN of "
         "an IAM or STS principal with a 12-digit account, nor a principal's unique id "
         "(`arn:aws:iam::Account2:role/App`, a documentation placeholder left in), or whose ARN names no AWS "
         "partition (`arn:aws-us:iam::...`).",
    why="IAM rejects the policy; in a bucket or key policy a missing principal means the statement never "
        "applies to anyone.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "123456789012", '
            '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}',
    fix='Identity policies: remove `Principal`. Resource and trust policies: name principals as '
        '`{"AWS": "arn:aws:iam::123456789012:root"}`, `{"Service": "ec2.amazonaws.com"}` or `"*"`.',
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
                 '"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}', "IAM106"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
                 '"arn:aws:iam::*:root"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}', "IAM106",
                 kind=PolicyKind.RESOURCE, note="a wildcard inside a principal ARN is not accepted"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
                 '"arn:aws:iam::Account2:role/ApplicationRole"}, "Action": "secretsmanager:GetSecretValue", '
                 '"Resource": "*"}]}', "IAM106", kind=PolicyKind.RESOURCE,
                 note="the account of the documentation's example, not filled in"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
                 '"arn:aws-us:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}', "IAM106", "IAM031",
                 kind=PolicyKind.TRUST, note="no such partition"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": '
                 '"arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}', "IAM106", "IAM035",
                 kind=PolicyKind.TRUST, note="NotPrincipal is not accepted in a trust policy"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": '
                 '"arn:aws:iam::123456789012:root"}, "Action": "s3:*", "Resource": "*"}]}', "IAM106",
                 kind=PolicyKind.ORGANIZATION, note="a resource control policy applies to every principal"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": '
                 '"organizations:LeaveOrganization", "Resource": "*"}, {"Effect": "Deny", "Principal": "*", '
                 '"Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}',
                 "IAM106", kind=PolicyKind.ORGANIZATION, note="half SCP, half RCP")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                  '"Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}', kind=PolicyKind.RESOURCE),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", '
                  '"Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}',
                  kind=PolicyKind.ORGANIZATION, note="a resource control policy")],
)
def principal_element(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "principal-element")


@RULES.rule(
    "IAM107", "duplicate-sid", CATEGORY, Severity.MEDIUM, "Two statements share a Sid",
    what="Reports a statement whose `Sid` is already used by another statement of the same policy.",
    why="IAM rejects policies with duplicate Sids; tools that key statements by Sid (and people reviewing a "
        "diff) confuse the two.",
    example='{"Version": "2012-10-17", "Statement": [{"Sid": "Read", ...}, {"Sid": "Read", ...}]}',
    fix="Give every statement its own Sid, or drop the Sids.",
    bad=[example('{"Version": "2012-10-17", "Statement": ['
                 '{"Sid": "Read", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::a"}, '
                 '{"Sid": "Read", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}',
                 "IAM107")],
    good=[example('{"Version": "2012-10-17", "Statement": ['
                  '{"Sid": "ReadA", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::a"}, '
                  '{"Sid": "ReadB", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}')],
)
def duplicate_sid(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "duplicate-sid")


@RULES.rule(
    "IAM108", "duplicate-key", CATEGORY, Severity.HIGH, "A key appears twice in one JSON object",
    what="Reports a JSON object or YAML mapping of a policy document that repeats a key, for instance two "
         "`Resource` elements in one statement (not elsewhere in a template, plan or export, which IAM never "
         "sees). The rest of the policy is checked with the last value, as most parsers and CloudFormation "
         "read it.",
    why="Most parsers keep only the last value, so reviewers and tools see a different policy than the author "
        "wrote; IAM rejects the document, while CloudFormation deploys a YAML template with the last value.",
    example='{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*", "Resource": "*"}',
    fix="Merge the values into one list under a single key.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::a", "Resource": "arn:aws:s3:::b"}]}', "IAM108")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": ["arn:aws:s3:::a", "arn:aws:s3:::b"]}]}')],
)
def duplicate_key(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "duplicate-key")


@RULES.rule(
    "IAM109", "wrong-type", CATEGORY, Severity.HIGH, "An element has the wrong type",
    what="Reports elements whose value has the wrong JSON type: a number in an action list, an object where "
         "a list of statements belongs, an empty list, a non-string Sid.",
    why="IAM rejects the policy, or (for an empty list) the statement matches nothing at all.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [42], "Resource": "*"}]}',
    fix="Use a string or a list of strings for Action, Resource and principals; an object or list of objects "
        "for Statement.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", 7], '
                 '"Resource": "arn:aws:s3:::b"}]}', "IAM109")],
    good=[example('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}}')],
)
def wrong_type(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "wrong-type")


@RULES.rule(
    "IAM110", "unknown-element", CATEGORY, Severity.HIGH, "An element IAM does not know",
    what="Reports keys that are not part of the policy grammar, including the right names in the wrong case "
         "(`action`, `Resources`).",
    why="IAM rejects the policy; a misspelt `Condition` key that some tool ignores would silently widen access.",
    example='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "action": "s3:GetObject", ...}]}',
    fix="Use the exact element names: Version, Id, Statement, Sid, Effect, Action, NotAction, Resource, "
        "NotResource, Principal, NotPrincipal, Condition.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::b", "Conditions": {}}]}', "IAM110")],
    good=[example('{"Version": "2012-10-17", "Id": "bucket-readers", "Statement": [{"Effect": "Allow", '
                  '"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}')],
)
def unknown_element(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "unknown-element")


@RULES.rule(
    "IAM111", "bad-sid", CATEGORY, Severity.LOW, "A Sid with characters IAM does not accept",
    what="Reports a `Sid` in an identity or trust policy that contains anything but ASCII letters and digits.",
    why="IAM rejects such Sids in identity policies (resource policies of other services are more lenient), so "
        "the policy fails to deploy.",
    example='{"Sid": "read-only access", ...}',
    fix="Use letters and digits only, for example `ReadOnlyAccess`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Sid": "read-only", "Effect": "Allow", '
                 '"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}', "IAM111")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Sid": "ReadOnly", "Effect": "Allow", '
                  '"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}')],
)
def bad_sid(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "bad-sid")


@RULES.rule(
    "IAM112", "bad-condition-block", CATEGORY, Severity.HIGH, "A Condition block of the wrong shape",
    what="Reports a `Condition` that is not an object of operators, each mapping condition keys to a value or "
         "a list of values, or that has an empty operator or value list.",
    why="IAM rejects the policy; a condition meant to fence access that does not parse fences nothing.",
    example='"Condition": {"StringEquals": "aws:PrincipalOrgID"}',
    fix='Write `"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}`.',
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::b", "Condition": {"StringEquals": "aws:PrincipalOrgID"}}]}', "IAM112")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}')],
)
def bad_condition_block(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _problems(policy, "bad-condition-block")

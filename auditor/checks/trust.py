"""Cross-account trust: who may assume a role, and whether a service may be tricked into it.

The role's own account comes from its ARN (account exports carry it); principals of that account,
and of the accounts the ``trusted-accounts`` setting names (your organisation's), are not cross-account.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence

from auditor.checks._facts import has_wildcard
from auditor.checks._risk import (
    LITERAL_OPERATORS,
    action_classes,
    arn_account,
    compiled,
    confined_accounts,
    denied_outside,
    display,
    first_actions_text,
    granted_text,
    is_everyone,
    is_negated,
    is_own_account_principal,
    named_accounts,
    narrowing_condition,
    only_aws_services,
    principal_account,
)
from auditor.checks.exposure import secret_actions
from auditor.engine import CheckContext
from auditor.knowledge import (
    OrganizationRole,
    VendorAccount,
    load_aws_service_accounts,
    load_confused_deputy_exemptions,
    load_organization_roles,
    load_vendor_accounts,
)
from auditor.model import Condition, Policy, PolicyKind, PrincipalRef, Severity, Statement, is_template_value
from auditor.permissions import CompiledStatement, glob_matches
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
CATEGORY = "cross-account-trust"
_V = '{"Version": "2012-10-17", "Statement": ['

_PLACEHOLDER = re.compile(
    r"^<[^>]*>$|\$\{(?!aws:)[^}]+\}|(?-i:^[A-Z][A-Z0-9]*_[A-Z0-9_]*$)|external[_-]?id|"
    r"your|placeholder|example|changeme|change[_-]me|replace|xxxx|todo|^(string|secret|id)$",
    re.IGNORECASE,
)
_GITHUB = "token.actions.githubusercontent.com"
_AUD_ONLY_PROVIDERS = ("cognito-identity.amazonaws.com",)
_COGNITO = ('{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, '
            '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
            '{"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-1234-1234-1234-123456789012"}')
"""The start of a Cognito identity pool's trust statement, for the examples."""
_POSITIVE_STRING = frozenset({"StringEquals", "StringLike", "StringEqualsIgnoreCase", "ForAnyValue:StringEquals",
                              "ForAnyValue:StringLike"})


def _trusted_accounts(context: CheckContext) -> frozenset[str]:
    """The ``trusted-accounts`` setting: your organisation's accounts."""
    return frozenset(context.options.get("trusted_accounts") or ())


def _role_account(policy: Policy) -> str | None:
    if policy.subject is not None and policy.subject.arn:
        return arn_account(policy.subject.arn) or None
    return None


def _assume_statements(policy: Policy) -> Iterator[Statement]:
    if policy.kind is not PolicyKind.TRUST:
        return
    for statement in policy.statements:
        if statement.is_allow:
            yield statement


def _conditions_on(statement: Statement, key: str) -> list[Condition]:
    wanted = key.lower()
    return [c for c in statement.conditions if c.key.lower() == wanted]


def _claim_conditions(statement: Statement, provider: str, claim: str) -> list[Condition]:
    """Conditions on a token claim (``aud``, ``sub``) of the provider; of any provider when the provider is a
    template value (``!GetAtt Provider.Arn``, ``aws_iam_openid_connect_provider.x.arn``) whose host is unknown."""
    if "{{" in provider:
        return [c for c in statement.conditions if c.key.lower().endswith(f":{claim}")]
    return _conditions_on(statement, f"{provider}:{claim}")


def _matches_anything(condition: Condition) -> bool:
    """A ``...Like`` condition one of whose values is wildcards alone (values are ORed: ``["abc", "*"]`` matches
    every value)."""
    return condition.base_operator.endswith("Like") and any(
        isinstance(v, str) and v.strip() and not v.strip().strip("*?") for v in condition.values)


def _names_claim(condition: Condition) -> bool:
    """A condition that admits only the token claims it names. ``...IfExists`` counts: every OpenID Connect token
    carries ``aud`` and ``sub``."""
    return not is_negated(condition) and condition.base_operator not in ("Null", "Bool")


def _positive(condition: Condition) -> bool:
    return _names_claim(condition) and not condition.if_exists


def external_ids(statement: Statement) -> list[str] | None:
    """The ``sts:ExternalId`` values a positive condition demands, or None when there is no such condition
    (``StringLike`` on ``*`` demands nothing: every caller's external id matches; ``ForAllValues:`` is true for
    a caller who sends none)."""
    found = [c for c in _conditions_on(statement, "sts:ExternalId")
             if _positive(c) and not _matches_anything(c) and c.set_qualifier != "ForAllValues"]
    if not found:
        return None
    return [str(v) for c in found for v in c.values]


def _external_id_missing(statement: Statement) -> str:
    """How a statement lacks the ``sts:ExternalId`` condition: none at all, or one that binds nothing."""
    written = _conditions_on(statement, "sts:ExternalId")
    if not written:
        return "an sts:ExternalId condition"
    condition = written[0]
    shown = f"{condition.operator} {', '.join(map(str, condition.values))}"
    if _matches_anything(condition):
        why = f"{shown} matches every external id"
    elif condition.if_exists or condition.set_qualifier == "ForAllValues":
        why = f"{shown} holds when the caller sends no external id"
    elif condition.base_operator == "Null":
        why = f"{shown} demands some external id, any"
    else:
        why = f"{shown} demands none"
    return f"an sts:ExternalId condition that binds it ({why})"


def is_placeholder(value: str) -> bool:
    """A documentation placeholder; a CloudFormation ``!Ref ExternalId`` is the value the stack is deployed with."""
    if is_template_value(value):
        return False
    return bool(_PLACEHOLDER.search(value.strip())) or not value.strip()


def _cross_account(statement: Statement, own: str | None, trusted: Collection[str] = ()) -> list[PrincipalRef]:
    """AWS principals outside the role's own account and the ``trusted`` ones (wildcards: see IAM035)."""
    found = []
    for ref in statement.principals or ():
        if ref.type != "AWS" or is_everyone(ref):
            continue
        account = principal_account(ref)
        if account is None and is_own_account_principal(ref):
            continue
        if account is None or (account != own and account not in trusted):
            found.append(ref)
    return found


@RULES.rule(
    "IAM031", "trust-without-external-id", CATEGORY, Severity.HIGH,
    "Another account may assume the role without an external id",
    what="Reports a trust policy statement that lets a principal of another AWS account assume the role without "
         "a `sts:ExternalId` condition. Principals of the role's own account (known from the role ARN in an "
         "export; in a CloudFormation template, `!GetAtt` of one of its resources or an ARN built from "
         "`AWS::AccountId`; in a Terraform configuration, `aws_iam_role.NAME.arn` or `aws_iam_user.NAME.arn` "
         "of a role or user the file creates with the same provider, or an ARN built from "
         "`data.aws_caller_identity`) are fine, and so are "
         "those of the accounts the `trusted-accounts` setting lists "
         "(your organisation's). Medium when neither the role's account nor `trusted-accounts` is known, unless the "
         "account is a SaaS vendor's (`rules/vendor-accounts.yaml`; the message names the vendor): never one of "
         "yours, so high; a condition that confines the statement to the same outside account or its principals "
         "(`aws:PrincipalAccount`, `aws:PrincipalArn`) keeps it reported, and `\"*\"` confined by such a condition "
         "to another account's principals is reported as those principals; low for the "
         "roles AWS services create in an organisation's accounts, trusting the account that manages them "
         "(`OrganizationAccountAccessRole`, `AWSControlTowerExecution`...: `rules/organization-roles.yaml`). A "
         "statement confined to an organisation (`aws:PrincipalOrgID`...) is not reported, nor a principal a Deny "
         "refuses without the external id (`StringNotEquals sts:ExternalId`, `...IfExists` or not, for everyone, "
         "the principal or its account; not `StringNotLike *`, which any external id passes).",
    why="A third party that assumes roles for many customers can be tricked by another of its customers into "
        "using your role (the confused deputy); the external id ties each assumption to you.",
    example='{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
            '"Action": "sts:AssumeRole"}',
    fix='Add `"Condition": {"StringEquals": {"sts:ExternalId": "<the id the vendor gave you>"}}`.',
    bad=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                 '"Action": "sts:AssumeRole"}]}', "IAM031", kind=PolicyKind.TRUST),
         example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::464622532012:root"}, '
                 '"Action": "sts:AssumeRole"}]}', "IAM031", kind=PolicyKind.TRUST,
                 note="high although the role's own account is unknown: 464622532012 is Datadog's")],
    good=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                  '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "Zq81kdP0x"}}}]}',
                  kind=PolicyKind.TRUST),
          example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::464622532012:root"}, '
                  '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "Zq81kdP0x"}}}]}',
                  kind=PolicyKind.TRUST, note="Datadog's account, with the external id Datadog issued")],
)
def trust_without_external_id(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    own = _role_account(policy)
    trusted = _trusted_accounts(context)
    if policy.kind is not PolicyKind.TRUST:
        return
    enforcing_denies = _external_id_denies(policy)
    organization_role = _organization_role(policy)
    for statement in _assume_statements(policy):
        if not _may_assume(statement):
            continue  # sts:TagSession or sts:SetSourceIdentity alone assume nothing
        if external_ids(statement) is not None:
            continue
        everyone = [r for r in statement.principals or () if is_everyone(r)]
        confined = confined_accounts(statement.conditions) or (_arn_confined(statement.conditions) if everyone
                                                               else None)
        if confined is not None and everyone:
            if _required_by(enforcing_denies, everyone[0]):
                continue
            # "*" confined by aws:PrincipalAccount to accounts: as if they were named (IAM035 has the rest),
            # each but those a Deny holds to the external id
            accounts = sorted(account for account in confined[0] - trusted - ({own} if own else set())
                              if not _required_by(enforcing_denies, PrincipalRef("AWS", account, "")))
            pointer, principals = confined[1].pointer, accounts
            decided_later = False
        else:
            others = [ref for ref in _cross_account(statement, own, trusted)
                      if not _required_by(enforcing_denies, ref)]
            named = {account for ref in others if (account := principal_account(ref))}
            if not others or _confined_beyond(statement.conditions, named):
                continue
            # the same account id written twice is still one account: report the statement once
            accounts = sorted({principal_account(r) or r.value for r in others})
            pointer, principals = others[0].pointer, [r.value for r in others]
            decided_later = not named  # {{var.account}}: may be one of yours
        if not accounts:
            continue
        known = own is not None or bool(trusted)
        vendors = _vendors_of(accounts)
        vendor_accounts = {vendor.account for vendor in vendors}
        plain = [account for account in accounts if account not in vendor_accounts]
        by_design = None if decided_later or vendors else organization_role  # AWS's role trusting its managing account
        if by_design is not None:
            reason = (f"; {policy.subject.name if policy.subject else 'it'} is {by_design.what}, trusting "
                      f"{by_design.trusts}: that needs no external id, list the account in trusted-accounts")
        elif not known:
            reason = " (the role's own account is unknown: list your accounts in trusted-accounts)"
        elif decided_later:
            reason = " (the account is decided when the template is deployed: it may be one of yours)"
        else:
            reason = "; if it is one of your organisation's accounts, list it in trusted-accounts"
        if vendors:
            reason = (": a SaaS vendor acts for many customers, and only the external id it issued you keeps another "
                      "of them from having it assume this role (the confused deputy)"
                      + (f"; of {', '.join(plain)}, {'if it is' if len(plain) == 1 else 'if they are'} one of your "
                         f"organisation's accounts, list {'it' if len(plain) == 1 else 'them'} in trusted-accounts"
                         if plain else ""))
        yield Hit(
            f"{accounts_text(accounts, vendors)} may assume this role without {_external_id_missing(statement)}"
            f"{reason}",
            pointer=pointer, statement=statement,
            severity=None if vendors else Severity.LOW if by_design is not None
            else Severity.MEDIUM if not known or decided_later else None,
            details={"principals": principals, "role_account": own,
                     "organization_role": organization_role.name if organization_role is not None else None,
                     **_vendor_details(vendors)},
        )


def _arn_confined(conditions: Sequence[Condition]) -> tuple[frozenset[str], Condition] | None:
    """The accounts of the principals a positive ``aws:PrincipalArn`` condition names by literal ARNs (``"*"`` with
    ``ArnLike aws:PrincipalArn arn:aws:iam::464622532012:role/scanner`` admits that account's role)."""
    for condition in conditions:
        if (condition.key.lower() != "aws:principalarn" or is_negated(condition) or condition.if_exists
                or condition.set_qualifier == "ForAllValues" or condition.base_operator in ("Null", "Bool")):
            continue
        named = named_accounts(condition)
        if named:
            return named, condition
    return None


def _confined_beyond(conditions: Sequence[Condition], accounts: Collection[str]) -> bool:
    """Whether a condition confines the statement to something else than the other ``accounts`` it names: one that
    still admits them or their principals (``aws:PrincipalAccount`` the vendor's account, with or without others;
    ``aws:PrincipalArn`` its role) leaves the third party as free as before to act for any of its customers."""
    for condition in conditions:
        if narrowing_condition((condition,)) is None:
            continue
        named = named_accounts(condition)
        if named is None or not named & set(accounts):
            return True  # an organisation, a network, or accounts that leave the outside principals out
    return False


def _vendors_of(accounts: Iterable[str]) -> list[VendorAccount]:
    """The accounts of SaaS vendors (``rules/vendor-accounts.yaml``) among ``accounts``, in their order."""
    known = load_vendor_accounts()
    return [known[account] for account in accounts if account in known]


def _vendor_details(vendors: Sequence[VendorAccount]) -> dict[str, dict[str, str]]:
    """``details.vendors`` of a finding naming vendors' accounts: the vendor by account (nothing without one)."""
    return {"vendors": {vendor.account: vendor.vendor for vendor in vendors}} if vendors else {}


def accounts_text(accounts: Sequence[str], vendors: Sequence[VendorAccount]) -> str:
    """``464622532012 and 865078226113 (Datadog), 999988887777``: the accounts, a vendor's named after them."""
    vendor_of = {vendor.account: vendor.vendor for vendor in vendors}
    groups: dict[str, list[str]] = {}
    for account in accounts:
        groups.setdefault(vendor_of.get(account, account), []).append(account)
    return ", ".join(f"{' and '.join(members)} ({key})" if key in vendor_of.values() else key
                     for key, members in groups.items())


def _organization_role(policy: Policy) -> OrganizationRole | None:
    """The entry of ``rules/organization-roles.yaml`` the role (whose trust policy this is) is named by."""
    if policy.subject is None or policy.subject.kind != "role":
        return None
    return next((role for role in load_organization_roles()
                 if glob_matches(role.name, policy.subject.name, ignore_case=True)), None)


def _may_assume(statement: Statement, action: str = "sts:AssumeRole") -> bool:
    """Whether the statement's actions (or what its NotAction leaves) include ``action`` (sts:AssumeRole...)."""
    if statement.actions is not None:  # an action a template decides (var.trusted_role_actions) may be it
        return any(glob_matches(pattern, action, ignore_case=True) or is_template_value(pattern)
                   for pattern in statement.actions)
    return not any(glob_matches(pattern, action, ignore_case=True) for pattern in statement.not_actions or ())


def _external_id_denies(policy: Policy) -> list[Statement]:
    """The Denies of sts:AssumeRole unless the caller sends the external id (``StringNotEquals sts:ExternalId``: a
    negated operator, ``...IfExists`` or not, holds for a request without one too): an Allow of the principals one
    denies requires it. Not ``StringNotLike "*"``, which any external id passes."""
    found = []
    for statement in policy.statements:
        if statement.effect != "Deny" or not _may_assume(statement) or len(statement.conditions) != 1:
            continue
        [condition] = statement.conditions
        if (condition.key.lower() == "sts:externalid" and is_negated(condition) and condition.set_qualifier is None
                and condition.values and not _matches_anything(condition)):
            found.append(statement)
    return found


def _required_by(denies: Sequence[Statement], principal: PrincipalRef) -> bool:
    """Whether a Deny of ``denies`` refuses the principal without the external id: it names everyone, the principal
    itself, or its account (``arn:aws:iam::ACCOUNT:root`` stands for all of the account's)."""
    def refused(deny: Statement) -> bool:
        account = principal_account(principal)
        return any(is_everyone(denied) or (denied.type == principal.type and denied.value == principal.value)
                   or (account is not None and denied.type == "AWS" and not is_everyone(denied)
                       and principal_account(denied) == account
                       and (denied.value.strip().endswith(":root") or denied.value.strip().isdigit()))
                   for denied in deny.principals or ())

    return any(refused(deny) for deny in denies)


@RULES.rule(
    "IAM032", "trust-external-id-placeholder", CATEGORY, Severity.HIGH,
    "The external id is still a documentation placeholder",
    what="Reports an `sts:ExternalId` condition whose value is a documentation placeholder (`<get_from_upsolver>`, "
         "`${ExternalId}`, `EXTERNAL_ID`, `YOUR_EXTERNAL_ID`...) rather than the value the vendor issued. A "
         "CloudFormation `!Ref` to a parameter is the value the stack is deployed with, not a placeholder.",
    why="The vendor never sends that value, so the integration fails; or worse, every customer who copied the "
        "page shares the same 'secret', and the external id protects nothing.",
    example='"Condition": {"StringEquals": {"sts:ExternalId": "<get_from_upsolver>"}}',
    fix="Replace the placeholder with the external id from the vendor's console (bind it with `--var`).",
    bad=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                 '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "EXTERNAL_ID"}}}]}',
                 "IAM032", kind=PolicyKind.TRUST)],
    good=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                  '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "GTWKRE6K"}}}]}',
                  kind=PolicyKind.TRUST)],
)
def trust_external_id_placeholder(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _assume_statements(policy):
        for condition in _conditions_on(statement, "sts:ExternalId"):
            bad = [str(v) for v in condition.values if is_placeholder(str(v))]
            if bad:
                yield Hit(
                    f"sts:ExternalId {', '.join(repr(v) for v in bad)} is a placeholder, not an issued external id",
                    pointer=condition.pointer, statement=statement, details={"values": bad},
                )


def _provider(ref: PrincipalRef, statement: Statement) -> str | None:
    """The OpenID Connect (or other web-identity) provider a ``Federated`` principal names; for a template value
    (``!Ref GithubOidc``, ``aws_iam_openid_connect_provider.github.arn``), the host its claim conditions name."""
    if ref.type != "Federated":
        return None
    value = ref.value.strip()
    if ":saml-provider/" in value:
        return None
    if ":oidc-provider/" in value:
        return value.split(":oidc-provider/", 1)[1]
    if "{{" in value:
        hosts = {c.key.rpartition(":")[0] for c in statement.conditions
                 if c.key.lower().endswith(_CLAIMS) and "{{" not in c.key}
        return hosts.pop() if len(hosts) == 1 else value
    return value  # cognito-identity.amazonaws.com, accounts.google.com, www.amazon.com, graph.facebook.com


_CLAIMS = (":aud", ":sub", ":amr", ":oaud")


def _sub_reach(value: str, provider: str) -> tuple[str, str] | None:
    """How far a ``sub`` pattern reaches, and in words: ``everyone`` (every repository, project or workspace of
    every owner, including one anybody can create), ``owner`` (every one of one owner, cluster or namespace), or
    None."""
    text = value.strip()
    everyone = ("everyone", "every repository or subject of every owner: anyone can create one that matches")
    if text in ("*", "?*") or text.startswith("*"):
        return everyone
    if text.startswith("repo:") and (provider == _GITHUB or "{{" in provider):
        repo = text[len("repo:"):].split(":", 1)[0]
        owner, _, name = repo.partition("/")
        if not owner or has_wildcard(owner):  # repo:acme* admits the owner acme-attacker too
            return everyone
        return ("owner", f"every repository of {owner}") if not name or has_wildcard(name) else None
    if text.startswith("system:"):  # EKS (IRSA): system:serviceaccount:NAMESPACE:NAME
        namespace, _, name = text.removeprefix("system:serviceaccount:").partition(":")
        if not text.startswith("system:serviceaccount:") or not namespace or has_wildcard(namespace):
            return "owner", "every service account of every namespace of the cluster"
        return ("owner", f"every service account of the namespace {namespace}") \
            if not name or has_wildcard(name) else None
    if text.startswith("project_path:"):  # GitLab (gitlab.com or self-managed): group/subgroup/project
        path = text[len("project_path:"):].split(":", 1)[0]
        group = path.split("/", 1)[0]
        if not group or has_wildcard(group):
            return everyone
        return ("owner", f"every project of the group {group}") if "/" not in path or has_wildcard(path) else None
    if text.startswith("organization:"):  # Terraform Cloud: organization:ORG:project:P:workspace:W:run_phase:R
        organization, _, rest = text[len("organization:"):].partition(":")
        if not organization or has_wildcard(organization):
            return everyone
        return ("owner", f"every workspace of the organization {organization}") \
            if not rest or rest.startswith(("*", "?")) else None
    return None


@RULES.rule(
    "IAM033", "web-identity-trust-unscoped", CATEGORY, Severity.HIGH,
    "Web-identity trust without audience and subject conditions",
    what="Reports a trust policy that lets an OIDC provider's tokens (GitHub Actions "
         "`token.actions.githubusercontent.com`, EKS, GitLab, Terraform Cloud, Google...) assume the role without "
         "both an `aud` and a `sub` condition, or with a `sub` that admits every repository of an owner "
         "(`repo:org/*`, GitLab's `project_path:group/*`, Terraform Cloud's `organization:org:*`), every service "
         "account of an EKS cluster or namespace (`system:serviceaccount:*`, `system:serviceaccount:ns:*`) or "
         "everyone. "
         "Critical when `sub` is missing or admits every owner (`*`, `repo:*`, `repo:acme*`: anyone can create a "
         "matching repository); high when `sub` is missing for an issuer of one tenant (an issuer URL with a path: "
         "an EKS cluster's, a CircleCI organisation's). Cognito identity pools need `aud`, and `amr` (medium without "
         "it: the pool's guests may take a role meant for signed-in users).",
    why="Without `sub`, any workflow of any GitHub repository in the world (any pod of the cluster, any "
        "workspace) gets a token the role accepts.",
    example='{"Effect": "Allow", "Principal": {"Federated": '
            '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
            '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
            '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}',
    fix='Add `"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", '
        '"token.actions.githubusercontent.com:sub": "repo:org/repo:ref:refs/heads/main"}`.',
    bad=[example(_V + '{"Effect": "Allow", "Principal": {"Federated": '
                 '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                 '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}]}', "IAM033",
                 kind=PolicyKind.TRUST),
         example(_V + '{"Effect": "Allow", "Principal": {"Federated": '
                 '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                 '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLike": '
                 '{"token.actions.githubusercontent.com:sub": "repo:my-org/*"}}}]}', "IAM033",
                 kind=PolicyKind.TRUST),
         example(_V + '{"Effect": "Allow", "Principal": {"Federated": '
                 '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                 '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLike": '
                 '{"token.actions.githubusercontent.com:sub": "repo:my-org*"}}}]}', "IAM033",
                 kind=PolicyKind.TRUST, note="critical: anyone can create the owner my-org-fork"),
         example(_V + '{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/'
                 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                 '{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud": "sts.amazonaws.com"}, '
                 '"StringLike": {"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub": '
                 '"system:serviceaccount:*"}}}]}', "IAM033", kind=PolicyKind.TRUST,
                 note="every service account of every namespace of the cluster"),
         example(_V + _COGNITO + '}}]}', "IAM033", kind=PolicyKind.TRUST,
                 note="medium: no amr condition, so the pool's guests too")],
    good=[example(_V + '{"Effect": "Allow", "Principal": {"Federated": '
                  '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                  '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                  '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", '
                  '"token.actions.githubusercontent.com:sub": "repo:my-org/app:ref:refs/heads/main"}}}]}',
                  kind=PolicyKind.TRUST),
          example(_V + '{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/'
                  'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}, '
                  '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                  '{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud": "sts.amazonaws.com", '
                  '"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub": '
                  '"system:serviceaccount:payments:api"}}}]}', kind=PolicyKind.TRUST),
          example(_V + '{"Effect": "Allow", "Principal": {"Federated": '
                  '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                  '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
                  '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLikeIfExists": '
                  '{"token.actions.githubusercontent.com:sub": "repo:my-org/app:*"}}}]}', kind=PolicyKind.TRUST,
                  note="IfExists: every token carries sub"),
          example(_V + _COGNITO + ', "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": '
                  '"authenticated"}}}]}', kind=PolicyKind.TRUST)],
)
def web_identity_trust_unscoped(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _assume_statements(policy):
        if not _may_assume(statement, "sts:AssumeRoleWithWebIdentity"):
            continue  # sts:TagSession alone lets no one in
        for ref in statement.principals or ():
            provider = _provider(ref, statement)
            if provider is None:
                continue
            aud = [c for c in _claim_conditions(statement, provider, "aud") if _names_claim(c)]
            written_sub = _claim_conditions(statement, provider, "sub")
            sub = [c for c in written_sub if _names_claim(c)]
            needs_sub = not provider.lower().startswith(_AUD_ONLY_PROVIDERS)
            problems = []
            severity = None

            def key(claim: str, provider: str = provider) -> str:
                return f"{provider}:{claim}" if "{{" not in provider else f"{claim} claim"

            if not aud:
                problems.append(f"no {key('aud')} condition")
            elif not needs_sub and not [c for c in _claim_conditions(statement, provider, "amr") if _names_claim(c)]:
                # a Cognito identity pool: without amr, its guests may take the role meant for signed-in users
                problems.append(f"no {key('amr')} condition: the pool's unauthenticated (guest) identities may "
                                "assume it too, if the pool admits guests")
                severity = Severity.MEDIUM
            if needs_sub and not sub:
                # An issuer with a path (an EKS cluster's, a CircleCI organisation's, a Bitbucket workspace's)
                # signs tokens for one tenant only: its every subject is one of yours
                tenant = "{{" not in provider and "/" in provider
                who = "any subject of the provider (every workload of that tenant)" if tenant else \
                    "any subject of the provider"
                problems.append(
                    f"its {key('sub')} condition ({', '.join(sorted({c.operator for c in written_sub}))}) names no "
                    "subject it admits: every other subject of the provider may assume the role" if written_sub else
                    f"no {key('sub')} condition: {who} may assume the role")
                severity = Severity.HIGH if tenant else Severity.CRITICAL
            reach = {str(v): how for c in sub if c.base_operator not in LITERAL_OPERATORS for v in c.values
                     if (how := _sub_reach(str(v), provider)) is not None}
            wide = list(reach)
            for value, (extent, words) in reach.items():
                problems.append(f"{key('sub')} {value!r} admits {words}")
                if extent == "everyone":
                    severity = Severity.CRITICAL
            if problems:
                pointer = ref.pointer
                if len(problems) == len(wide):  # only subjects too wide: at the first of them, where to fix it
                    pointer = next(c.value_pointer(index) for c in sub for index, v in enumerate(c.values)
                                   if str(v) == wide[0])
                yield Hit(
                    f"Web-identity trust of {provider}: {'; '.join(problems)}",
                    pointer=pointer, statement=statement, severity=severity,
                    details={"provider": provider, "has_aud": bool(aud), "has_sub": bool(sub), "wide_sub": wide},
                )


def _service_name(principal: str) -> str:
    """A service principal as the exemption list names it: ``ec2.{{data.aws_partition.current.dns_suffix}}``
    (``!Sub ec2.${AWS::URLSuffix}``) or ``ec2.{{region}}.amazonaws.com`` is ``ec2.amazonaws.com``."""
    name = principal.strip().lower()
    return name.split(".", 1)[0] + ".amazonaws.com" if "{{" in name else name


_SOURCE_OWNER_KEYS = ("aws:sourceaccount", "aws:sourceowner", "aws:sourceorgid", "aws:sourceorgpaths")


def _bucket_source_only(statement: Statement) -> Condition | None:
    """The ``aws:SourceArn`` condition naming an S3 bucket (among other ARNs or alone) that alone confines a service
    principal: bucket names are global and can be taken by another account once deleted, so AWS asks for
    ``aws:SourceAccount`` beside it."""
    found = narrowing_condition(statement.conditions)
    if found is None or found.key.lower() != "aws:sourcearn":
        return None
    if any(c.key.lower() in _SOURCE_OWNER_KEYS and not is_negated(c) for c in statement.conditions):
        return None
    if any(isinstance(v, str) and v.split(":")[2:3] == ["s3"] and arn_account(v) is None for v in found.values):
        return found  # one bucket is enough: another account may take its name
    return None


def _source_scoped(statement: Statement) -> bool:
    if narrowing_condition(statement.conditions) is not None:
        return True
    for condition in statement.conditions:
        key = condition.key.lower()
        if "encryptioncontext:aws:" in key and _positive(condition):
            return True
    return False


@RULES.rule(
    "IAM034", "service-trust-confused-deputy", CATEGORY, Severity.LOW,
    "Service principal without aws:SourceAccount or aws:SourceArn",
    what="Reports a trust or resource policy that grants an AWS service principal (`sns.amazonaws.com`, "
         "`cloudtrail.amazonaws.com`, `delivery.logs.amazonaws.com`...) without `aws:SourceAccount`, `aws:SourceArn` "
         "or `aws:SourceOrgID` conditions, or with an `aws:SourceArn` naming S3 buckets alone (a bucket's ARN holds "
         "no account: AWS asks for `aws:SourceAccount` beside it). Services where the confused deputy does not "
         "arise (EC2 instance "
         "profiles, Lambda execution roles...: `rules/confused-deputy.yaml`) and service-linked roles are skipped.",
    why="The service acts for every AWS customer; without a source condition another customer can make it use "
        "your role or write to your resource on their behalf.",
    example='{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sts:AssumeRole"}',
    fix='Add `"Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}` (and `aws:SourceArn` where '
        "the service documents it).",
    bad=[example(_V + '{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, '
                 '"Action": "sts:AssumeRole"}]}', "IAM034", kind=PolicyKind.TRUST),
         example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", '
                 '"Resource": "arn:aws:sqs:us-east-1:123456789012:q", '
                 '"Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}]}', "IAM034",
                 kind=PolicyKind.RESOURCE, note="every service principal: Principal * with aws:PrincipalIsAWSService"),
         example(_V + '{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, '
                 '"Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", '
                 '"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}}}]}', "IAM034",
                 kind=PolicyKind.RESOURCE, note="a bucket's ARN holds no account: add aws:SourceAccount")],
    good=[example(_V + '{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
                  '"Action": "sts:AssumeRole"}]}', kind=PolicyKind.TRUST),
          example(_V + '{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, '
                  '"Action": "sts:AssumeRole", "Condition": {"StringEquals": '
                  '{"aws:SourceAccount": "123456789012"}}}]}', kind=PolicyKind.TRUST)],
)
def service_trust_confused_deputy(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    if policy.kind not in (PolicyKind.TRUST, PolicyKind.RESOURCE):
        return
    if policy.subject is not None and policy.subject.arn and ":role/aws-service-role/" in policy.subject.arn:
        return
    exempt = load_confused_deputy_exemptions()
    for statement in policy.statements:
        bucket_only = _bucket_source_only(statement)
        if not statement.is_allow or (bucket_only is None and _source_scoped(statement)):
            continue
        # a template value ({{FindInMap}}) names no known service; one in the Region (logs.{{region}}.amazonaws.com)
        # leaves the service known
        services = [r for r in statement.principals or ()
                    if r.type == "Service" and _service_name(r.value) not in exempt
                    and "{{" not in r.value.strip().split(".", 1)[0]]
        shown = ", ".join(r.value for r in services)
        if not services and only_aws_services(statement.conditions):  # Principal "*" for service principals only
            services = [r for r in statement.principals or () if is_everyone(r)]
            shown = "every AWS service principal (aws:PrincipalIsAWSService)"
        if not services:
            continue
        source = next((c for c in statement.conditions if c.key.lower() in ("aws:sourcearn", "aws:sourceaccount")
                       and not is_negated(c)), None)
        if bucket_only is not None:
            fix = (f"its {bucket_only.key} {', '.join(map(str, bucket_only.values))} names a bucket, whose ARN holds "
                   "no account: add aws:SourceAccount (once the bucket is deleted, another account may create one "
                   "of that name)")
        elif source is None:
            fix = "add aws:SourceAccount or aws:SourceArn"
        elif source.if_exists:
            fix = f"its {source.operator} {source.key} holds when the service sends no source: drop IfExists"
        else:
            fix = f"its {source.key} {', '.join(map(str, source.values))} names no account: name yours"
        yield Hit(
            f"{shown} may act on this {'role' if policy.kind is PolicyKind.TRUST else 'resource'} for "
            f"{'an account other than yours' if bucket_only is not None else 'any AWS account'}: {fix}",
            pointer=services[0].pointer, statement=statement,
            details={"services": [r.value for r in services]},
        )


@RULES.rule(
    "IAM035", "trust-any-principal", CATEGORY, Severity.CRITICAL, "Any AWS principal may assume the role",
    what='Reports a trust policy statement with `"Principal": "*"`, `{"AWS": "*"}` or `NotPrincipal` and no '
         "condition that confines it to known accounts or an organisation (`aws:PrincipalOrgID`, "
         "`aws:PrincipalAccount`, `aws:PrincipalArn` with an account...), in the statement or as a `Deny` of "
         "everyone outside them (`StringNotEquals`). An `sts:ExternalId` alone does not "
         "confine it: external ids are not secrets.",
    why="Every IAM user and role of every AWS account can assume the role and use its permissions.",
    example='{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}',
    fix="Name the trusted accounts or roles as principals, or add an `aws:PrincipalOrgID` condition.",
    bad=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", '
                 '"Condition": {"StringEquals": {"sts:ExternalId": "Zq81kdP0x"}}}]}', "IAM035",
                 kind=PolicyKind.TRUST)],
    good=[example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", '
                  '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}',
                  kind=PolicyKind.TRUST),
          # an id no organisation can have admits no one: a mistake, but not a door open to everyone
          example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", '
                  '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}]}',
                  kind=PolicyKind.TRUST),
          example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}, '
                  '{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}',
                  kind=PolicyKind.TRUST)],
)
def trust_any_principal(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    if policy.kind is not PolicyKind.TRUST:
        return
    for allow in compiled(policy, context):
        statement = allow.statement
        if not allow.is_allow:
            continue
        everyone = [r for r in statement.principals or () if is_everyone(r)]
        if not everyone and statement.not_principals is None:
            continue
        if narrowing_condition(statement.conditions) is not None or denied_outside(allow, policy, context):
            continue
        pointer = everyone[0].pointer if everyone else statement.element_pointer("NotPrincipal")
        yield Hit(
            "Any AWS principal of any account may assume this role"
            + (" (sts:ExternalId is not a secret and does not confine it)"
               if external_ids(statement) is not None else ""),
            pointer=pointer, statement=statement,
            details={"conditions": [f"{c.operator}:{c.key}" for c in statement.conditions]},
        )


def _key_policy_export(statement: str, service: str = "kms", name: str = "alias/app",
                       arn: str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab") -> str:
    """An account export (of 111122223333) whose KMS key, or other resource, has a policy of one ``statement``."""
    return ('{"RoleDetailList": [{"RoleName": "app", "Arn": "arn:aws:iam::111122223333:role/app", '
            '"RolePolicyList": [], "AttachedManagedPolicies": [], "AssumeRolePolicyDocument": {"Version": '
            '"2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
            f'"Action": "sts:AssumeRole"}}]}}}}], "ResourcePolicies": [{{"service": "{service}", "name": "{name}", '
            f'"arn": "{arn}", "region": "us-east-1", "policy": {_V}{statement}]}}}}]}}')


def _bucket_policy_export(statement: str) -> str:
    return _key_policy_export(statement, "s3", "alb-logs", "arn:aws:s3:::alb-logs")


@RULES.rule(
    "IAM036", "resource-external-account", CATEGORY, Severity.MEDIUM,
    "A resource policy grants access to an account that is not yours",
    what="Reports an `Allow` in a resource policy (a bucket, key, queue, topic, secret, repository or function "
         "policy) whose principals include an AWS account, or a user or role of one, that is neither the "
         "resource's own account nor one the `trusted-accounts` setting lists, with no condition confining it to "
         "your organisation (`aws:PrincipalOrgID`...), or a `\"*\"` principal that a condition confines to such an "
         "account (`aws:PrincipalAccount`, `kms:CallerAccount`, `aws:SourceAccount`). A Deny of everyone outside "
         "your organisation in the same policy confines it too. The accounts through which AWS services deliver logs "
         "(Elastic Load Balancing, Redshift, CloudTrail: `rules/aws-service-accounts.yaml`) are AWS's: reported, at "
         "low, only when granted more than the service needs. The resource's account comes from its ARN, from the "
         "ARNs its statements name, or from the users and roles of the same export; when none of those nor "
         "`trusted-accounts` is known (a bucket policy file alone), the rule cannot tell yours from others' and "
         "reports only the accounts of SaaS vendors (`rules/vendor-accounts.yaml`), which are never yours; a "
         "vendor's account is named with its vendor. High when "
         "write, permissions-management or secret-reading actions are granted. An "
         "unconfined `\"*\"` is IAM030's.",
    why="Whoever controls the other account can use the resource with the granted actions, from outside your "
        "organisation and its guardrails (service control policies, your logging); a vendor's account you once "
        "trusted keeps the access until the statement is removed.",
    example='{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "kms:Decrypt", '
            '"Resource": "*"}',
    fix="Remove the statement if the access is no longer needed; otherwise name the partner's role rather than "
        "its whole account, narrow the actions, and list the account in `trusted-accounts` to record that it is "
        "trusted.",
    bad=[example(_key_policy_export('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                                    '"Action": ["kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*"}'), "IAM036",
                 note="high: kms:Decrypt and kms:ReEncrypt* are write actions in the catalogue"),
         example(_bucket_policy_export('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::127311923021:root"}, '
                                       '"Action": ["s3:PutObject", "s3:GetObject"], "Resource": '
                                       '"arn:aws:s3:::alb-logs/*"}'), "IAM036",
                 note="low: Elastic Load Balancing's log-delivery account needs only s3:PutObject")],
    good=[example(_key_policy_export('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, '
                                     '"Action": "kms:*", "Resource": "*"}'),
                  note="the key's own account"),
          example(_key_policy_export('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                                     '"Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": '
                                     '{"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}'),
                  note="confined to the organisation"),
          example(_bucket_policy_export('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::127311923021:root"}, '
                                        '"Action": "s3:PutObject", "Resource": '
                                        '"arn:aws:s3:::alb-logs/AWSLogs/111122223333/*"}'),
                  note="Elastic Load Balancing's log-delivery account in us-east-1, as AWS documents it")],
)
def resource_external_account(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    if policy.kind is not PolicyKind.RESOURCE:
        return
    yours = _your_accounts(policy, context)
    # with none of your accounts known, yours cannot be told from others'; but a SaaS vendor's account is never yours
    vendors_only = load_vendor_accounts() if not yours else None
    writes = action_classes(context.catalog).write
    secrets = secret_actions()
    aws_owned = load_aws_service_accounts()
    for allow in compiled(policy, context):
        statement = allow.statement
        if not allow.is_allow or allow.never_applies or denied_outside(allow, policy, context):
            continue
        confined = confined_accounts(statement.conditions)
        if confined is not None:  # "*" (or a service) acting for the accounts a condition names
            pointer = confined[1].pointer
            foreign = sorted(account for account in confined[0] - yours - aws_owned.keys()
                             if vendors_only is None or account in vendors_only)
            values = foreign
            if vendors_only is None:
                yield from _aws_service_grants(sorted(confined[0] & aws_owned.keys() - yours), pointer, allow,
                                               context)
        elif narrowing_condition(statement.conditions) is not None:
            continue  # confined to an organisation, a network or principals of known ARNs
        else:
            others = [r for r in statement.principals or ()
                      if (account := principal_account(r)) and account not in yours]
            for reference in (r for r in others if principal_account(r) in aws_owned and vendors_only is None):
                yield from _aws_service_grants([principal_account(reference) or ""], reference.pointer, allow,
                                               context)
            others = [r for r in others if principal_account(r) not in aws_owned
                      and (vendors_only is None or principal_account(r) in vendors_only)]
            foreign = sorted({principal_account(r) or r.value for r in others})
            pointer = others[0].pointer if others else ""
            values = [r.value for r in others]
        if not foreign:
            continue
        serious = allow.actions & (writes | secrets)
        vendors = _vendors_of(foreign)
        whose = (f"not one of your accounts ({', '.join(sorted(yours))})" if yours else
                 f"{'a SaaS vendor' if len(foreign) == 1 else 'SaaS vendors'}, never one of your accounts")
        advice = ("list the account in trusted-accounts if it is a partner you trust" if yours else
                  "list the account in trusted-accounts if you mean to grant it")
        yield Hit(
            f"Allows {accounts_text(foreign, vendors)}, {whose}, to {granted_text(allow, context.catalog)}; {advice}",
            pointer=pointer, statement=statement,
            severity=Severity.HIGH if serious else None,
            details={"principals": values, "your_accounts": sorted(yours),
                     "write_or_secret_actions": display(serious, context.catalog, 20),
                     **_vendor_details(vendors)},
        )


def _aws_service_grants(accounts: list[str], pointer: str, allow: CompiledStatement, context: CheckContext
                        ) -> Iterator[Hit]:
    """An AWS service's log-delivery account (``rules/aws-service-accounts.yaml``) is AWS's, not a third party's:
    reported only for actions beyond those the service needs."""
    for account in accounts:
        known = load_aws_service_accounts()[account]
        extra = allow.actions - known.actions
        if not extra:
            continue
        needed = display(known.actions, context.catalog, 5)
        yield Hit(
            f"Grants {first_actions_text(extra, context.catalog)} to "
            f"{known.describe()}, which needs only {', '.join(needed)}; remove the rest",
            pointer=pointer, statement=allow.statement, severity=Severity.LOW,
            details={"aws_service": known.service, "account": account, "needed": needed,
                     "beyond_needs": display(extra, context.catalog, 20), "source": known.source},
        )


def _your_accounts(policy: Policy, context: CheckContext) -> frozenset[str]:
    """The resource's own account (from its ARN, else from the ARNs its statements name when they agree on one),
    the accounts of the users and roles of the same export, and ``trusted-accounts``."""
    own = arn_account(policy.subject.arn) if policy.subject is not None and policy.subject.arn else None
    if own is None:
        named = {account for statement in policy.statements for resource in statement.resources or ()
                 if (account := arn_account(resource))}
        own = next(iter(named)) if len(named) == 1 else None
    return _trusted_accounts(context) | context.input_accounts | ({own} if own else set())

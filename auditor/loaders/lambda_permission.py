"""A Lambda permission (``AWS::Lambda::Permission``, ``aws_lambda_permission``) as the statement Lambda adds for
it to the function's resource-based policy (what ``lambda get-policy`` shows after ``AddPermission``), so that
the resource-policy rules judge it: ``Principal: "*"`` without a source is public, a service without ``SourceArn`` or
``SourceAccount`` may act for any account, another account is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.model import ACCOUNT, is_template_value

CONDITION_PROPERTIES = (
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("InvokedViaFunctionUrl", "Bool", "lambda:InvokedViaFunctionUrl"),
)
"""(property, operator, condition key) of each property that becomes a condition of the statement."""
ELEMENT_OF_PROPERTY = {"Principal": "Principal", "FunctionName": "Resource", "Action": "Action",
                       **{name: f"Condition/{operator}/{key}" for name, operator, key in CONDITION_PROPERTIES}}
"""Where in the statement each property ends up (a finding about it is located at the property)."""
TERRAFORM_ARGUMENTS = {
    "principal": "Principal", "function_name": "FunctionName", "action": "Action", "source_arn": "SourceArn",
    "source_account": "SourceAccount", "principal_org_id": "PrincipalOrgID",
    "function_url_auth_type": "FunctionUrlAuthType", "event_source_token": "EventSourceToken",
}
"""``aws_lambda_permission``'s arguments by the CloudFormation property they are."""


REQUIRED_PROPERTIES = ("Action", "FunctionName", "Principal")
REQUIRED_TERRAFORM_ARGUMENTS = tuple(next(argument for argument, name in TERRAFORM_ARGUMENTS.items() if name == wanted)
                                     for wanted in REQUIRED_PROPERTIES)
"""``action``, ``function_name``, ``principal``: the arguments of the required properties."""


def permission_policy(properties: Mapping[str, Any], region: str, account: str) -> dict[str, Any]:
    """The policy of the one statement, from the properties by CloudFormation name (those of
    ``REQUIRED_PROPERTIES`` there; ``Principal`` and ``FunctionName`` resolved, the qualifier of a version or alias
    appended to the function). ``region`` and ``account``: the stack's, for a function given by name."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": _principal(properties["Principal"]),
                                 "Action": properties["Action"],
                                 "Resource": _function_arn(properties["FunctionName"], region, account)}
    condition: dict[str, dict[str, Any]] = {}
    for name, operator, key in CONDITION_PROPERTIES:
        if name in properties:
            value = properties[name]
            condition.setdefault(operator, {})[key] = str(value).lower() if isinstance(value, bool) else value
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _principal(value: Any) -> Any:
    """``*``, an account id, an ARN or a service (``s3.amazonaws.com``) as a policy's Principal."""
    if not isinstance(value, str) or value == "*":
        return value
    if ACCOUNT.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:") or is_template_value(value):
        return {"AWS": value}
    return {"Service": value}


def _function_arn(value: Any, region: str, account: str) -> Any:
    """The function's ARN from a name (``my-function``, ``my-function:alias``), a partial ARN
    (``123456789012:function:my-function``) or an ARN."""
    if not isinstance(value, str) or value.startswith("arn:") or is_template_value(value):
        return value
    if ":function:" in value:
        return f"arn:aws:lambda:{region}:{value}"
    return f"arn:aws:lambda:{region}:{account}:function:{value}"

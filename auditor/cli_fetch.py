"""The ``fetch`` command's signature, kept apart so that the CLI starts without importing the exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli_check import NO_COLOR_HELP, plain_output

DEFAULT_SESSION_NAME = "iam-audit-fetch"


def fetch_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; a directory for several accounts.")
    ],
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            metavar="REGION",
            help="Region for resource policies (repeatable; default: the session's region).",
        ),
    ] = None,
    role_arn: Annotated[
        list[str] | None,
        typer.Option("--role-arn", metavar="ARN", help="Role to assume; repeat for several accounts."),
    ] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="ExternalId for AssumeRole.")
    ] = None,
    session_name: Annotated[
        str, typer.Option("--session-name", help="RoleSessionName for AssumeRole (shows in CloudTrail).")
    ] = DEFAULT_SESSION_NAME,
    org_role: Annotated[
        str | None,
        typer.Option(
            "--org-role", metavar="NAME", help="Role NAME to assume in every account of the organization."
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url", metavar="URL", help="Endpoint for every AWS client (tests, LocalStack)."
        ),
    ] = None,
    resource_policies: Annotated[
        bool,
        typer.Option(
            "--resource-policies",
            help="Also export S3, KMS, SQS, SNS, Lambda, Secrets Manager, ECR policies.",
        ),
    ] = False,
    max_workers: Annotated[int, typer.Option("--max-workers", help="Concurrent AWS calls.")] = 4,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
) -> None:
    """Export a live account read-only, in the get-account-authorization-details shape.

    Exit codes: 0 exported (also partially: a warning names each gap); 2 usage error or nothing exported.
    """
    from rich.console import Console

    from auditor.fetch import FetchOptions, FetchUsageError, _say, fetch_accounts, report_outcome

    console = Console(stderr=True)
    options = FetchOptions(
        output=output,
        profile=profile,
        regions=tuple(region or ()),
        role_arns=tuple(role_arn or ()),
        external_id=external_id,
        session_name=session_name,
        org_role=org_role,
        endpoint_url=endpoint_url,
        resource_policies=resource_policies,
        max_workers=max_workers,
        quiet=quiet,
    )
    try:
        outcome = fetch_accounts(options, console)
    except FetchUsageError as error:
        _say(console, f"iam-audit: error: {error}")
        raise typer.Exit(2) from None
    report_outcome(outcome, console, quiet=quiet)
    raise typer.Exit(outcome.exit_code)

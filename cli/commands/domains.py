"""`mailops domains onboard|watch|rotate-credential`: the domain jobs, now."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import JsonFlag, output
from cli.commands import AsOfOption, NoNotifyOption, add_group, apply_option, job_result
from mailops.domains import (
    CredentialRotationResult,
    DomainOnboardingResult,
    VerificationWatchResult,
)
from mailops.report.escape import terminal_text

StartVerification = apply_option("Start verification", "show the call")
Rotate = apply_option("Rotate", "show what would happen")


def register(app: typer.Typer) -> None:
    add_group(app, "domains", "EmBoux domains: onboarding, verification, credentials.",
              {"onboard": onboard, "watch": watch, "rotate-credential": rotate_credential})


def onboard(
    name: Annotated[str, typer.Argument(help="The domain or subdomain to onboard.")],
    apply: StartVerification = False,
    as_of: AsOfOption = None,
    no_notify: NoNotifyOption = False,
    json_output: JsonFlag = False,
) -> None:
    """Start verification of a domain (a subdomain registers under its parent)."""
    result, error = job_result(
        DomainOnboardingResult, "flows.domain_onboarding:domain_onboarding",
        json_output=json_output, as_of=as_of, name=name, apply=apply, notify=not no_notify,
    )
    output.finish(_onboard_summary(result, name), result or {}, error=error,
                  local_json=json_output)


def _onboard_summary(result: DomainOnboardingResult | None, name: str) -> str:
    domain = terminal_text(result.domain if result is not None else name)
    if result is None:
        return f"{domain} was not onboarded."
    if result.status == "planned":
        calls = "\n".join(f"  {terminal_text(c)}" for c in result.calls)
        return f"Dry run: onboarding {domain} would call\n{calls}\nRun again with --apply."
    record = result.record
    if record is None:
        return f"{domain} was not onboarded."
    lines = [f"{domain}: {terminal_text(record.status)}"
             + (f" (subdomain of {terminal_text(record.parent)})" if record.parent else "")
             + ". Publish these DNS records:"]
    for row in record.dns_records:
        lines.append(f"  {terminal_text(row['type']):<6} {terminal_text(row['name'])}  "
                     f"{terminal_text(row['value'])}")
    if result.notification:
        lines.append(f"Posted to {result.notification}.")
    return "\n".join(lines)


def watch(
    pending_days: Annotated[
        int, typer.Option("--pending-days", min=1,
                          help="Alert on a domain unverified this many days (default 3).")
    ] = 3,
    as_of: AsOfOption = None,
    no_notify: NoNotifyOption = False,
    json_output: JsonFlag = False,
) -> None:
    """Poll the verification of every onboarded domain not yet verified."""
    found, error = job_result(
        VerificationWatchResult, "flows.verification_watch:verification_watch",
        json_output=json_output, as_of=as_of, pending_alert_days=pending_days,
        notify=not no_notify,
    )
    result = found or VerificationWatchResult(None)
    lines = [
        f"Verification watch: {result.polled} polled, {len(result.changes)} status changes, "
        f"{len(result.verified)} verified, {len(result.alerts)} pending too long."
    ]
    lines += [f"  verified: {terminal_text(n)} (outbound mail now possible)"
              for n in result.verified]
    lines += [f"  {terminal_text(a.subject)}: {terminal_text(a.message)}" for a in result.alerts]
    output.finish("\n".join(lines), result, error=error, local_json=json_output)


def rotate_credential(
    name: Annotated[str, typer.Argument(help="The domain whose credential to rotate.")],
    apply: Rotate = False,
    as_of: AsOfOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Rotate a tenant's provider credential into a Secret block (or a 0600 file)."""
    result, error = job_result(
        CredentialRotationResult, "flows.credential_rotation:credential_rotation",
        json_output=json_output, as_of=as_of, domains=(name,), apply=apply,
    )
    output.finish(_rotation_summary(result), result or {}, error=error, local_json=json_output)


def _rotation_summary(result: CredentialRotationResult | None) -> str:
    if result is not None and result.status == "planned":
        lines = ["Dry run: would rotate"]
        lines += [f"  {terminal_text(p.domain)}: {p.call}, password stored in "
                  f"{terminal_text(p.store_in)}" for p in result.planned]
        lines.append("Run again with --apply.")
        return "\n".join(lines)
    rotations = result.rotations if result is not None else []
    return "\n".join([
        f"{terminal_text(r.domain)}: {r.status}"
        + (f", password stored in {terminal_text(r.location)}" if r.location else "")
        for r in rotations
    ] or ["No credential was rotated."])

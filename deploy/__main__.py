"""Command line of the deployer.

    python -m deploy up|status|outputs|down --env NAME [--endpoint-url URL] [--suffix S] [--region R]
        [--template=PATH]
    python -m deploy account up|status|outputs|down [--env NAME ...] [--region R] [--endpoint-url URL]
        [--suffix S]   (the account baseline of the environments' account and region, deploy/account.py)

Exit codes (docs/exit-codes.md): 0 done, 2 interrupted, 3 cannot observe, deployment failed, a
region without room for the stack's Elastic IPs (preflight, nothing created) or a teardown that
left resources behind,
4 usage error or refused operation (prod teardown, another run holding the stack's lock).
Errors are one sentence on stderr; nothing is created, changed or deleted by accident.
``up`` and ``down`` hold the stack's lock (core.lock) while they change it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.aws import AwsSession, ensure_reachable
from core.endpoint import AWS_FAILURES, failure_sentence
from core.errors import ConformanceError, ExitCode, RefusedError, UsageError
from core.inputs import check_endpoint_url, check_template
from core.lock import LockKeeper, StackLock
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import with_self_signed_certificate
from core.spec import TEMPLATE_PATH, EnvironmentSpec, available_environments, load_environment
from deploy.deployer import Deployer
from deploy.preflight import AUTO, resolve_auto_region


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "status", "outputs", "down"])
    parser.add_argument("--env", required=True, help=f"environment: one of {', '.join(available_environments())}")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="an AWS-compatible endpoint (the emulator); default: real AWS, or $AWS_ENDPOINT_URL",
    )
    parser.add_argument("--suffix", help="EnvironmentSuffix override, to keep parallel stacks apart")
    parser.add_argument(
        "--region",
        help="region override (default: the environment file's); with up, `auto` picks the first of the "
        "environment's candidate_regions with room for the stack's Elastic IPs (or where it already is)",
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=TEMPLATE_PATH,
        help="the template to deploy (default: deploy/template.yaml); give it as --template=PATH",
    )
    parser.add_argument(
        "--purge-retained",
        action="store_true",
        help="with down: also empty and delete the buckets the stack retained, so its key can go too (never for prod)",
    )
    return parser


def refuse_before_any_call(command: str, spec: EnvironmentSpec, template: Path, endpoint_url: str | None) -> None:
    """Bad input and refused operations (exit 4), before the lock or any other call."""
    if command == "down" and spec.tier == "prod":
        raise RefusedError(
            f"refusing to delete {spec.stack_name}: the suite never deletes prod; delete it by hand if you must."
        )
    check_template(template)
    if endpoint_url:
        given = endpoint_url != os.environ.get("AWS_ENDPOINT_URL")
        check_endpoint_url(endpoint_url, "--endpoint-url" if given else "AWS_ENDPOINT_URL")


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["account"]:
        from deploy.account_cli import run_account

        return run_account(argv[1:])
    args = _parser().parse_args(argv)
    try:
        auto = args.region == AUTO
        if auto and args.command != "up":
            raise UsageError("--region auto is for `up` only; name the region the stack is in.")
        spec = load_environment(args.env).with_overrides(suffix=args.suffix, region=None if auto else args.region)
        refuse_before_any_call(args.command, spec, args.template, args.endpoint_url)
        if args.endpoint_url:
            ensure_reachable(args.endpoint_url)
        aws = AwsSession(region=spec.region, endpoint_url=args.endpoint_url, profile=spec.profile)
        account = aws.check_credentials()
        if auto:
            region = resolve_auto_region(
                spec, aws, out=lambda line: print(line, flush=True), template_path=args.template
            )
            if region != spec.region:
                spec = spec.with_overrides(region=region)
                aws = AwsSession(region=region, endpoint_url=args.endpoint_url, profile=spec.profile)
        if spec.account_id and not aws.is_emulated and account != spec.account_id:
            print(
                f"deploy: error: the credentials are for account {account} but {args.env} lives in "
                f"{spec.account_id}; switch profile.",
                file=sys.stderr,
            )
            return ExitCode.USAGE
        if args.command == "up" and aws.is_emulated:
            # an emulator has none of the environment's certificates: the HTTPS listener gets a
            # self-signed one imported into its ACM, as the offline rehearsal does (docs/emulator.md)
            spec = with_self_signed_certificate(spec, aws)
            print(
                f"{spec.stack_name}: self-signed certificate imported into the emulator's ACM as {spec.certificate_arn}"
            )
            # nor the account's images: the rehearsal image is published into the emulator's ECR
            spec = with_rehearsal_image(spec, aws)
            print(f"{spec.stack_name}: rehearsal image published into the emulator's ECR as {spec.container_image}")
        deployer = Deployer(spec, aws, out=lambda line: print(line, flush=True), template_path=args.template)
        if args.command in ("up", "down"):
            # the stack's lock, as a deploying pytest run takes it (core.lock): one change at a time
            lock = StackLock(aws, spec.stack_name, deployer.run_id, out=deployer.out)
            lock.acquire()
            keeper = LockKeeper([lock]).start()
            try:
                if args.command == "up":
                    print(json.dumps(deployer.up().model_dump(), indent=2))
                else:
                    retained = deployer.down()
                    if args.purge_retained and retained:
                        deployer.purge_retained(retained)
                    deployer.release_retained()  # empty buckets, final snapshots, then the key (docs/lifecycle.md)
                    deployer.left_behind()  # retained buckets holding data: one message, exit 3
            finally:
                for problem in keeper.stop():
                    print(f"deploy: {problem}", file=sys.stderr)
        elif args.command == "outputs":
            print(json.dumps(deployer.outputs().model_dump(), indent=2))
        elif args.command == "status":
            state = deployer.state()
            if state is None:
                print(f"{spec.stack_name}: does not exist in {spec.region}")
            else:
                print(f"{state.name}: {state.status}" + (f" ({state.reason})" if state.reason else ""))
                print(f"  termination protection: {'on' if state.termination_protection else 'off'}")
                print(f"  created by this suite: {'yes' if state.created_by_suite else 'no'}")
                for key, value in sorted(state.tags.items()):
                    print(f"  tag {key}={value}")
        return ExitCode.OK
    except ConformanceError as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except AWS_FAILURES as exc:  # a botocore error no step turned into a sentence: the endpoint's doing
        print(f"deploy: error: {failure_sentence(exc, args.endpoint_url)}", file=sys.stderr)
        return ExitCode.CANNOT_OBSERVE
    except KeyboardInterrupt:
        print(
            "deploy: interrupted; the stack operation in progress continues in CloudFormation.",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(run())

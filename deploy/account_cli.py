"""``python -m deploy account up|status|outputs|down``: the account baseline of one account and region.

The environments named (``--env``, repeatable; default: every environment file) whose region is
that region and whose account is the credentials' account (``account_id`` null or equal) are the
ones the baseline serves. The account's trail (one, multi-region, in its home region) records the S3
data events of the transaction buckets of every environment file of the account, whatever its region;
a second region's ``up`` updates the home baseline when a transaction bucket is not yet recorded. Same
habits as the environments' commands: bad input is one sentence and exit 4 before any call, ``up``
and ``down`` hold the stack's lock (core.lock), errors are one sentence with the documented exit
code (docs/exit-codes.md), nothing is deleted by accident (deploy/account.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from core.account import (
    ACCOUNT_STACK,
    ACCOUNT_TEMPLATE_PATH,
    AccountScope,
    account_scopes,
    transaction_bucket_prefix,
)
from core.aws import AwsSession, ensure_reachable
from core.endpoint import AWS_FAILURES, failure_sentence
from core.errors import ConformanceError, ExitCode, UsageError
from core.inputs import check_endpoint_url, check_template
from core.lock import LockKeeper, StackLock
from core.spec import EnvironmentSpec, available_environments, load_environment
from deploy.account import AccountDeployer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy account",
        description="Stand up, update, describe or tear down the account baseline (deploy/account-baseline.yaml).",
    )
    parser.add_argument("command", choices=["up", "status", "outputs", "down"])
    parser.add_argument(
        "--env",
        action="append",
        dest="envs",
        metavar="NAME",
        help=f"an environment the baseline serves (repeatable; default: all of {', '.join(available_environments())})",
    )
    parser.add_argument("--region", help="the baseline's region (default: the environments' region)")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="an AWS-compatible endpoint (the emulator); default: real AWS, or $AWS_ENDPOINT_URL",
    )
    parser.add_argument("--suffix", help="EnvironmentSuffix override of the environments (their bucket names)")
    parser.add_argument(
        "--purge-retained",
        action="store_true",
        help="with down: also empty and delete the trail bucket the stack retained (a sandbox or the emulator)",
    )
    return parser


def select(envs: list[str] | None, region: str | None, suffix: str | None) -> dict[str, EnvironmentSpec]:
    """The environment files named, with the overrides; one sentence when they span several regions."""
    names = envs or available_environments()
    specs = {n: load_environment(n).with_overrides(suffix=suffix, region=region) for n in names}
    regions = sorted({s.region for s in specs.values()})
    if len(regions) > 1:
        raise UsageError(
            f"the environments live in {', '.join(regions)}: the account baseline is one stack per region; "
            "name one with --region (or choose environments with --env)."
        )
    return specs


def account_prefixes(
    specs: dict[str, EnvironmentSpec], suffix: str | None, account: str, emulated: bool
) -> tuple[str, ...]:
    """The transaction bucket prefixes of every environment of the account, in every region: the ones
    chosen and every environment file's (the account's one trail records them all)."""
    everyone = {n: load_environment(n).with_overrides(suffix=suffix) for n in available_environments()}
    everyone.update(specs)
    mine = [s for s in everyone.values() if emulated or s.account_id in (None, account)]
    return tuple(dict.fromkeys(transaction_bucket_prefix(s) for s in mine))


def scope_for(
    specs: dict[str, EnvironmentSpec], account: str, emulated: bool, account_bucket_prefixes: tuple[str, ...] = ()
) -> AccountScope:
    """The one scope of the credentials' account among these environments."""
    mine = {n: s for n, s in specs.items() if emulated or s.account_id in (None, account)}
    if not mine:
        elsewhere = ", ".join(f"{n} ({s.account_id})" for n, s in specs.items())
        raise UsageError(
            f"the credentials are for account {account} but the environments live in other accounts: {elsewhere}; "
            "switch to that account's profile."
        )
    scopes = account_scopes(mine)
    first = next(iter(scopes.values()))
    envs = tuple(e for s in scopes.values() for e in s.environments)
    prefixes = tuple(dict.fromkeys(p for s in scopes.values() for p in s.bucket_prefixes))
    return AccountScope(
        key=first.key,
        region=first.region,
        account_id=account,
        profile=first.profile,
        environments=envs,
        bucket_prefixes=prefixes,
        account_bucket_prefixes=tuple(dict.fromkeys((*prefixes, *account_bucket_prefixes))),
    )


def _update_home(home: AccountDeployer) -> None:
    """Update the home region's baseline (its trail's data event selectors), holding its stack's lock."""
    lock = StackLock(home.aws, ACCOUNT_STACK, home.run_id, out=home.out)
    lock.acquire()
    keeper = LockKeeper([lock]).start()
    try:
        home.apply()
    finally:
        for problem in keeper.stop():
            print(f"deploy: {problem}", file=sys.stderr)


def run_account(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        check_template(ACCOUNT_TEMPLATE_PATH)
        if args.endpoint_url:
            given = args.endpoint_url != os.environ.get("AWS_ENDPOINT_URL")
            check_endpoint_url(args.endpoint_url, "--endpoint-url" if given else "AWS_ENDPOINT_URL")
        specs = select(args.envs, args.region, args.suffix)
        if args.endpoint_url:
            ensure_reachable(args.endpoint_url)
        first = next(iter(specs.values()))
        aws = AwsSession(region=first.region, endpoint_url=args.endpoint_url, profile=first.profile)
        account = aws.check_credentials()
        scope = scope_for(
            specs, account, aws.is_emulated, account_prefixes(specs, args.suffix, account, aws.is_emulated)
        )
        member = specs[scope.environments[0]]
        out = lambda line: print(line, flush=True)  # noqa: E731 - the deployer's printer
        deployer = AccountDeployer(scope, member, aws, out=out)
        if args.command in ("up", "down"):
            lock = StackLock(aws, ACCOUNT_STACK, deployer.run_id, out=deployer.out)
            lock.acquire()
            keeper = LockKeeper([lock]).start()
            try:
                if args.command == "up":
                    if deployer.with_trail == "true":
                        prefixes = ", ".join(scope.data_event_arn_prefixes())
                        out(f"{ACCOUNT_STACK}: {scope.label}, the trail's data events on {prefixes}")
                    print(json.dumps(deployer.apply(), indent=2))
                    home = deployer.home_deployer()
                    if home is not None:  # a region added: the home trail records its buckets too
                        _update_home(home)
                else:
                    retained = deployer.down()
                    if args.purge_retained and retained:
                        deployer.purge_retained(retained)
                    deployer.release_retained()
                    deployer.left_behind()
            finally:
                for problem in keeper.stop():
                    print(f"deploy: {problem}", file=sys.stderr)
        elif args.command == "outputs":
            print(json.dumps(deployer.baseline_outputs(), indent=2))
        else:
            state = deployer.state()
            if state is None:
                print(f"{ACCOUNT_STACK}: does not exist in {aws.region} (account {account})")
            else:
                print(f"{state.name}: {state.status}" + (f" ({state.reason})" if state.reason else ""))
                print(f"  account {account}, region {aws.region}; serves {', '.join(scope.environments)}")
                print(f"  termination protection: {'on' if state.termination_protection else 'off'}")
                print(f"  created by this suite: {'yes' if state.created_by_suite else 'no'}")
                for o in state.outputs:
                    print(f"  {o['OutputKey']}: {o.get('OutputValue', '')}")
        return ExitCode.OK
    except ConformanceError as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except AWS_FAILURES as exc:
        print(f"deploy: error: {failure_sentence(exc, args.endpoint_url)}", file=sys.stderr)
        return ExitCode.CANNOT_OBSERVE
    except KeyboardInterrupt:
        print("deploy: interrupted; the stack operation in progress continues in CloudFormation.", file=sys.stderr)
        return ExitCode.INTERRUPTED

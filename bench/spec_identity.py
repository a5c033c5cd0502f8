"""Whether two revisions plan the same jobs: every job's spec JSON, cache keys and paths, compared byte for byte.

Each revision is checked out into its own temporary worktree (or, for `--after WORKTREE`, this checkout as it is);
for every config, Snakemake's dry run with `--forceall --printshellcmds` lists every job of the experiment with its
rule, inputs, outputs, log, wildcards (the cache keys) and shell line (which carries the `--spec` JSON and every
path the stage gets). That output depends on no API of the package, so it survives any restructure of the code
that plans the jobs. The jobs are compared as sets (the dry run's order and job ids may differ); any job found
in one revision only is printed, with its spec.

    python bench/spec_identity.py --before $(git merge-base main HEAD) --after HEAD
    python bench/spec_identity.py --before main --after WORKTREE --dump /tmp/identity

Exit status 0 when every config plans identical jobs, 1 otherwise. Configs that read `../shared/datasets` find it
through a link beside the worktrees (`SCALINGDOWN_SHARED`, default: the folder beside this checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCALINGDOWN_SHARED", REPO.parent / "shared")).resolve()
CONFIGS = (
    "config/config.yaml",
    "config/experiments/phrasebank-budget.yaml",
    "config/experiments/phrasebank-minilm.yaml",
    "config/experiments/seq2seq-offline.yaml",
    "config/experiments/seq2seq-budget.yaml",
)
# This checkout as it is (uncommitted changes included) instead of a revision.
WORKTREE = "WORKTREE"
# What a checkout's own path is replaced by (the report stage is given it), so that two checkouts compare.
CHECKOUT = "<checkout>"
# Lines of a dry run's job block that describe the job (jobid, reason and the timestamp do not).
FIELDS = ("input", "output", "log", "wildcards", "resources", "threads")
_RULE = re.compile(r"^(?:local)?rule (?P<rule>\w+):$")
_FIELD = re.compile(r"^    (?P<key>\w+): (?P<value>.*)$")
_SHELL = "Shell command: "


def checkout(revision: str, scratch: Path) -> Path:
    """A detached worktree of `revision` under `scratch` (this checkout itself for `WORKTREE`)."""
    if revision == WORKTREE:
        return REPO
    target = scratch / re.sub(r"[^A-Za-z0-9_.-]", "_", revision)
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(target), revision], cwd=REPO, check=True, capture_output=True
    )
    return target


def dry_run(tree: Path, config: str) -> str:
    """Snakemake's dry run of every job of `config` in `tree`, with the shell lines."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--printshellcmds", "--cores", "2"]
    result = subprocess.run(
        [*command, "--configfile", config], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"{tree.name}: the dry run of {config} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result.stdout.replace(str(tree), CHECKOUT)  # the report's `--workflow-dir`


def jobs(output: str) -> list[dict[str, str]]:
    """The job blocks of a dry run: rule, the describing fields and the shell line, sorted."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in output.splitlines():
        rule = _RULE.match(line)
        if rule:
            current = {"rule": rule["rule"]}
            found.append(current)
            continue
        if current is None:
            continue
        field = _FIELD.match(line)
        if field and field["key"] in FIELDS:
            current[field["key"]] = field["value"]
        elif line.startswith(_SHELL):
            current["shell"] = line.removeprefix(_SHELL)
    return sorted(found, key=lambda job: json.dumps(job, sort_keys=True))


def spec_of(job: dict[str, str]) -> Any:
    """The `--spec` JSON of a job's shell line (None for a rule without one)."""
    words = shlex.split(job.get("shell", ""))
    if "--spec" not in words:
        return None
    return json.loads(words[words.index("--spec") + 1])


def cache_keys(found: list[dict[str, str]]) -> list[str]:
    """Every cache key the jobs name (their `*_key` wildcards), sorted, without repeats."""
    keys = set()
    for job in found:
        for pair in job.get("wildcards", "").split(", "):
            name, _, value = pair.partition("=")
            if name.endswith("_key"):
                keys.add(f"{name}={value}")
    return sorted(keys)


def describe(found: list[dict[str, str]]) -> dict[str, Any]:
    """What a revision plans for one config: its jobs, their specs, the cache keys and the output paths."""
    return {
        "jobs": found,
        "specs": sorted(json.dumps(spec, sort_keys=True) for job in found if (spec := spec_of(job)) is not None),
        "cache_keys": cache_keys(found),
        "outputs": sorted(path for job in found for path in job.get("output", "").split(", ") if path),
    }


def differences(before: list[dict[str, str]], after: list[dict[str, str]], width: int = 400) -> Iterator[str]:
    """How the jobs differ: per job (its rule and outputs) the fields that differ, each value cut to `width`."""
    by_output = {
        side: {(job["rule"], job.get("output", "")): job for job in found}
        for side, found in (("before", before), ("after", after))
    }
    for name in sorted(set(by_output["before"]) | set(by_output["after"])):
        old, new = by_output["before"].get(name), by_output["after"].get(name)
        if old == new:
            continue
        if old is None or new is None:
            yield f"  {name[0]} {name[1][:width]}: only {'after' if old is None else 'before'}"
            continue
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                yield f"  {name[0]} {name[1][:width]}: {field}"
                yield f"    before {old.get(field, '')[:width]}"
                yield f"    after  {new.get(field, '')[:width]}"


def main() -> int:
    """Compare the jobs two revisions plan for every config; the exit status (0: identical)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a revision (commit, branch, tag)")
    parser.add_argument("--after", required=True, help=f"a revision, or {WORKTREE} for this checkout as it is")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="configs, relative to the repository")
    parser.add_argument("--dump", type=Path, help="write each revision's description of each config here (JSON)")
    args = parser.parse_args()
    identical = True
    with tempfile.TemporaryDirectory(prefix="scalingdown-identity-") as folder:
        scratch = Path(folder)
        (scratch / "shared").symlink_to(SHARED)  # `../shared/datasets` of the configs, seen from a worktree
        trees = {
            side: checkout(revision, scratch) for side, revision in (("before", args.before), ("after", args.after))
        }
        try:
            for config in args.configs:
                found = {side: describe(jobs(dry_run(tree, config))) for side, tree in trees.items()}
                if args.dump:
                    args.dump.mkdir(parents=True, exist_ok=True)
                    for side, description in found.items():
                        name = f"{Path(config).stem}.{side}.json"
                        (args.dump / name).write_text(json.dumps(description, indent=1, sort_keys=True) + "\n")
                same = found["before"] == found["after"]
                identical &= same
                counts = ", ".join(
                    f"{len(found['after'][part])} {part.replace('_', ' ')}"
                    for part in ("jobs", "specs", "cache_keys", "outputs")
                )
                print(f"{config}: {'identical' if same else 'DIFFERENT'} ({counts})")
                if not same:
                    for line in differences(found["before"]["jobs"], found["after"]["jobs"]):
                        print(line)
        finally:
            for tree in trees.values():
                if tree != REPO:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
    print(f"{args.before} → {args.after}: {'identical' if identical else 'NOT identical'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())

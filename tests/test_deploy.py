"""The deployment recipes (Dockerfile, deploy/) agree with each other and with gz-tui, so they cannot rot.

No docker and no kubectl: every manifest and workflow is parsed with PyYAML and its fields that matter are
checked; the Dockerfile is read instruction by instruction. Every flag the recipes pass to gz-tui must be one
``python -m gz_tui --help`` lists, and the Indexed Job's and the GitHub workflow's own commands are run, as their
pods and matrix jobs would run them, against the embedded forge.

The tools of the field check them too, offline, from the test extra: every manifest against the Kubernetes
schemas of every version the README claims (kubernetes-validate ships them), the Dockerfile by hadolint, the
workflow by actionlint, the systemd service and timer by ``systemd-analyze verify``. The build context is computed
with Docker's own .dockerignore rules.
"""

from __future__ import annotations

import json
import os
import posixpath
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli
from tests.helpers import repo_dirs

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S = ROOT / "deploy" / "kubernetes"
GITHUB_WORKFLOW = ROOT / "deploy" / "github-actions" / "sync-matrix.yml"
GITLAB_PIPELINE = ROOT / "deploy" / "gitlab-ci" / "sync-parallel.yml"
SYSTEMD = ROOT / "deploy" / "systemd"
README = ROOT / "README.md"
K8S_README = K8S / "README.md"

TOKEN_VARS = {"GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN"}
TOKEN_LOOKING = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}|gl[a-z]{2,4}-[A-Za-z0-9_-]{20,}"
    r"|\b[0-9a-f]{40}\b)"  # GitHub classic / fine-grained, GitLab, Gitea (40 hex) tokens
)
ALLOWED_ACTIONS = {"actions/checkout", "actions/setup-python", "actions/upload-artifact", "actions/download-artifact"}


# ---------------------------------------------------------------------------------------------------- loading


def load_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def k8s_docs() -> dict[str, Any]:
    """kind → the one manifest of that kind in deploy/kubernetes/."""
    found: dict[str, Any] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_docs(path):
            assert doc["kind"] not in found, f"{path.name}: a second {doc['kind']}"
            found[doc["kind"]] = doc
    return found


def job_specs() -> list[tuple[str, dict[str, Any]]]:
    docs = k8s_docs()
    return [("indexed-job.yaml", docs["Job"]["spec"]), ("cronjob.yaml", docs["CronJob"]["spec"]["jobTemplate"]["spec"])]


JOB_IDS = ["Job", "CronJob"]


def gz_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in pod_spec["containers"] if c["name"] == "gz-tui"]
    return dict(container)


def option_value(args: list[str], flag: str) -> str:
    """The value of ``--flag VALUE`` or ``--flag=VALUE``."""
    for i, arg in enumerate(args):
        if arg == flag:
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} not in {args}")


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif node is not None:
        yield str(node)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_values(name: str) -> list[str]:
    return [rest for word, rest in dockerfile_instructions() if word == name]


def dockerfile_stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """(base image, the stage's instructions after its FROM), one per stage; the last is the image."""
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            stages.append((rest.split()[0], []))
        else:
            assert stages, f"{word} before the first FROM"
            stages[-1][1].append((word, rest))
    return stages


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in dockerfile_values("ENV"):
        parts = shlex.split(rest)
        if parts and "=" not in parts[0]:  # ENV KEY value
            env[parts[0]] = " ".join(parts[1:])
        else:
            env.update((key, value) for key, _, value in (part.partition("=") for part in parts))
    return env


def image_user() -> str:
    users = dockerfile_values("USER")
    assert users, "the Dockerfile has no USER: the image would run as root"
    return users[-1].split(":")[0]


def expression_free(line: str) -> str:
    """A shell line with GitHub's ``${{ … }}`` expressions made plain words, so shlex can split it."""
    return re.sub(r"\$\{\{[^}]*\}\}", "EXPR", line)


def gz_tui_commands(script: str) -> list[list[str]]:
    """The argument lists of every ``gz-tui …`` command in a shell script (up to a redirection or operator)."""
    commands = []
    for line in script.splitlines():
        if not re.search(r"(^|\s)gz-tui(\s|$)", line):
            continue
        words = shlex.split(expression_free(line), comments=True)
        for i, word in enumerate(words):
            if word == "gz-tui":
                args = []
                for arg in words[i + 1 :]:
                    if arg in {">", ">>", "|", "||", "&&", ";", "2>", "2>>"} or arg.startswith((">", "2>")):
                        break
                    args.append(arg)
                commands.append(args)
    return commands


def workflow_run_lines() -> list[str]:
    workflow = load_docs(GITHUB_WORKFLOW)[0]
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def gitlab_scripts() -> list[str]:
    pipeline = load_docs(GITLAB_PIPELINE)[0]
    return [line for job in pipeline.values() if isinstance(job, dict) for key in ("before_script", "script") for line in job.get(key, [])]


def sync_step() -> tuple[dict[str, Any], str]:
    workflow = load_docs(GITHUB_WORKFLOW)[0]
    (step,) = [s for s in workflow["jobs"]["sync"]["steps"] if "gz-tui " in s.get("run", "")]
    return step, step["run"]


def linter(name: str) -> str:
    """The executable of a linter the test extra installs: beside this interpreter's scripts, else on PATH.

    Missing is a failure (the test extra was not installed); a binary this machine cannot execute (another
    architecture, a missing loader) is the one reason to skip."""
    found = shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    try:
        probe = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        pytest.skip(f"{name} ({found}) cannot run on this machine: {error}")
    if probe.returncode != 0 and re.search(r"Exec format error|cannot execute", probe.stderr):  # a wrapper's exec failed
        pytest.skip(f"{name} ({found}) cannot run on this machine: {probe.stderr.strip().splitlines()[-1]}")
    return found


def linter_env(home: Path) -> dict[str, str]:
    """No user or system configuration of a linter changes what the test sees: an empty HOME, nothing else."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def help_flags() -> set[str]:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", result.stdout))


# ---------------------------------------------------------------------------------------------------- Kubernetes


def test_every_recipe_parses() -> None:
    names = {p.name for p in K8S.glob("*.yaml")}
    assert {"secret.example.yaml", "pvc.yaml", "indexed-job.yaml", "cronjob.yaml"} <= names
    for path in [*K8S.glob("*.yaml"), GITHUB_WORKFLOW, GITLAB_PIPELINE]:
        docs = load_docs(path)
        assert docs, f"{path.name} is empty"
        if path.parent == K8S:
            for doc in docs:
                assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], path.name
    assert {kind: doc["apiVersion"] for kind, doc in k8s_docs().items()} == {
        "Secret": "v1",
        "PersistentVolumeClaim": "v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
    }


@pytest.mark.parametrize(("name", "spec"), job_specs(), ids=JOB_IDS)
def test_the_job_is_indexed_with_one_pod_per_shard(name: str, spec: dict[str, Any]) -> None:
    container = gz_container(spec["template"]["spec"])
    shards = int(option_value(container["args"], "--shards"))
    assert spec["completionMode"] == "Indexed", name
    assert spec["completions"] == shards, f"{name}: completions must equal --shards (JOB_COMPLETION_INDEX runs 0 … completions-1)"
    assert spec["parallelism"] == shards, f"{name}: parallelism must equal --shards"
    assert isinstance(spec["backoffLimitPerIndex"], int) and spec["backoffLimitPerIndex"] >= 0, name
    assert 0 <= spec["maxFailedIndexes"] <= spec["completions"], name
    assert "--shard" not in container["args"], f"{name}: the index comes from JOB_COMPLETION_INDEX, not --shard"
    assert isinstance(spec["ttlSecondsAfterFinished"], int), name
    # podFailurePolicy needs restartPolicy Never, and its rules must name the real container.
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never", name
    for rule in spec.get("podFailurePolicy", {}).get("rules", []):
        assert rule["action"] in {"FailJob", "FailIndex", "Ignore", "Count"}, name
        if "onExitCodes" in rule:
            assert rule["onExitCodes"]["containerName"] == container["name"], name
            assert 0 not in rule["onExitCodes"]["values"], name
    # Headless, JSON events on stdout (kubectl logs); a manifest never depends on a terminal.
    assert {"--no-tui", "--json"} <= set(container["args"]), name


def test_the_cronjob_runs_the_same_job_and_never_two_at_once() -> None:
    docs = k8s_docs()
    cron = docs["CronJob"]["spec"]
    assert cron["jobTemplate"]["spec"] == docs["Job"]["spec"], (
        "cronjob.yaml's jobTemplate.spec must be indexed-job.yaml's spec: change both"
    )
    assert cron["concurrencyPolicy"] == "Forbid"
    assert len(cron["schedule"].split()) == 5


@pytest.mark.parametrize(("name", "spec"), job_specs(), ids=JOB_IDS)
def test_the_token_reaches_the_pod_only_from_the_secret(name: str, spec: dict[str, Any]) -> None:
    secret = k8s_docs()["Secret"]
    pod = spec["template"]["spec"]
    token_env = []
    for container in pod["containers"] + pod.get("initContainers", []):
        for word in container.get("args", []) + container.get("command", []):
            assert not word.startswith("--token"), f"{name}: a token flag lands in the process list"
            assert not TOKEN_LOOKING.search(word), f"{name}: a token-looking argument"
        assert "envFrom" not in container, f"{name}: envFrom would put every key of a Secret/ConfigMap in the environment"
        for env in container.get("env", []):
            if env["name"] in TOKEN_VARS or "TOKEN" in env["name"]:
                assert "value" not in env, f"{name}: {env['name']} holds a literal value"
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"], name
                assert ref["key"] in secret.get("stringData", {}) | secret.get("data", {}), name
                token_env.append(env["name"])
    assert token_env and set(token_env) <= TOKEN_VARS, f"{name}: the token must come in as one of {sorted(TOKEN_VARS)}"


def test_no_manifest_holds_a_token() -> None:
    for path in K8S.glob("*.yaml"):
        for value in strings_in(load_docs(path)):
            assert not TOKEN_LOOKING.search(value), f"{path.name}: {value!r} looks like a token"
    secret = k8s_docs()["Secret"]
    assert "data" not in secret, "the example Secret keeps a readable placeholder (stringData), not base64"
    for value in secret["stringData"].values():
        assert re.search(r"REPLACE|CHANGE|EXAMPLE", value, re.IGNORECASE), f"the example Secret holds {value!r}, not a placeholder"


@pytest.mark.parametrize(("name", "spec"), job_specs(), ids=JOB_IDS)
def test_the_claim_is_mounted_where_dest_points(name: str, spec: dict[str, Any]) -> None:
    pvc = k8s_docs()["PersistentVolumeClaim"]
    pod = spec["template"]["spec"]
    container = gz_container(pod)
    (volume,) = [v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"]]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    dest = PurePosixPath(option_value(container["args"], "--dest"))
    assert dest.is_absolute() and dest.is_relative_to(mount["mountPath"]) and dest != PurePosixPath(mount["mountPath"]), (
        f"{name}: --dest {dest} must be a folder inside the claim's mount {mount['mountPath']}"
    )
    assert not mount.get("readOnly"), name
    if spec["parallelism"] > 1:
        assert "ReadWriteMany" in pvc["spec"]["accessModes"], "parallel pods on several nodes need a ReadWriteMany claim"


@pytest.mark.parametrize(("name", "spec"), job_specs(), ids=JOB_IDS)
def test_the_pod_runs_as_the_image_user_on_a_read_only_root(name: str, spec: dict[str, Any]) -> None:
    pod = spec["template"]["spec"]
    container = gz_container(pod)
    uid = int(image_user())
    assert pod["securityContext"]["runAsNonRoot"] is True, name
    assert pod["securityContext"]["runAsUser"] == uid != 0, f"{name}: runAsUser must be the Dockerfile's USER ({uid})"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False, name
    assert security.get("runAsNonRoot", True) is True and security.get("runAsUser", uid) == uid, name
    assert security["readOnlyRootFilesystem"] is True, name
    # With a read-only root, /tmp and HOME (the log file) must be writable volumes.
    scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounted = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in scratch}
    assert {"/tmp", dockerfile_env()["HOME"]} <= mounted, f"{name}: /tmp and HOME need an emptyDir"
    assert pod.get("automountServiceAccountToken") is False, name
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"], name
    assert container["image"].rsplit(":", 1)[-1] not in {"", "latest"}, f"{name}: pin an image tag"


def claimed_minimum_kubernetes() -> tuple[int, int]:
    """The oldest Kubernetes the docs promise the manifests work on ("Kubernetes ≥ 1.29", "Kubernetes (≥ 1.29)"):
    the README, deploy/kubernetes/README.md and the Job's own header must name the same one."""
    claims = {}
    for path in (README, K8S_README, K8S / "indexed-job.yaml"):
        found = set(re.findall(r"Kubernetes \(?≥ ?(\d+)\.(\d+)", path.read_text(encoding="utf-8")))
        assert found, f"{path.name} does not say which Kubernetes the manifests need"
        claims[path.name] = found
    every = set().union(*claims.values())
    assert len(every) == 1, f"the docs claim different minimum Kubernetes versions: {claims}"
    ((major, minor),) = every
    return int(major), int(minor)


def test_every_manifest_passes_the_kubernetes_schemas_of_every_version_the_readme_claims() -> None:
    """Strict (an unknown field is an error, as `kubectl apply --validate=strict` makes it), for every release from
    the claimed minimum to the newest one kubernetes-validate ships, offline. A rule the API refuses, such as a
    podFailurePolicy pod condition without `status` before 1.35 (kubernetes/kubernetes#131512), fails here."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import all_versions
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: pip install -e '.[test]'")
    minimum = claimed_minimum_kubernetes()
    versions = [v for v in dict.fromkeys(all_versions()) if tuple(map(int, v.split(".")[:2])) >= minimum]  # one per release
    assert versions and tuple(map(int, versions[0].split(".")[:2])) == minimum, (
        f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for the claimed {minimum}"
    )
    manifests = [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in load_docs(path)]
    refused = []
    for version in versions:
        for name, doc in manifests:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(map(str, error.path))
                refused.append(f"Kubernetes {version}: {name} ({doc['kind']}) {where}: {error.message}")
    assert not refused, "\n".join(refused)


# ---------------------------------------------------------------------------------------------------- CI recipes


def test_the_github_matrix_and_shard_flag_agree() -> None:
    workflow = load_docs(GITHUB_WORKFLOW)[0]
    sync = workflow["jobs"]["sync"]
    matrix = sync["strategy"]["matrix"]["shard"]
    assert sync["strategy"]["fail-fast"] is False, "one shard failing must not cancel the others"
    assert matrix == list(range(len(matrix))) and len(matrix) > 1, "the matrix must be 0 … N-1"
    assert int(workflow["env"]["SHARDS"]) == len(matrix), "SHARDS (the merge job's count) must be the matrix's length"
    step, run = sync_step()
    match = re.search(r"--shard[ =]\$\{\{\s*matrix\.shard\s*\}\}/(\d+)\b", run)
    assert match, f"the sync step must pass --shard ${{{{ matrix.shard }}}}/N: {run}"
    assert int(match.group(1)) == len(matrix), f"--shard …/{match.group(1)} but the matrix has {len(matrix)} shards"
    assert {"--no-tui", "--json"} <= set(gz_tui_commands(run)[0])
    # The token: from a secret, in the environment of this step only.
    token_env = {name: value for name, value in step["env"].items() if name in TOKEN_VARS}
    assert token_env, "the sync step gets no token variable"
    for value in token_env.values():
        assert re.fullmatch(r"\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}", value), (
            f"the token must be ${{{{ secrets.X }}}}, not {value!r}"
        )
    assert not TOKEN_VARS & set(workflow.get("env", {})) and not TOKEN_VARS & set(sync.get("env", {})), (
        "the token belongs to the one step that runs gz-tui"
    )


def test_the_github_workflow_uploads_and_merges_every_shard() -> None:
    workflow = load_docs(GITHUB_WORKFLOW)[0]
    used = {step["uses"].split("@")[0] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step}
    assert used <= ALLOWED_ACTIONS, f"third-party actions: {used - ALLOWED_ACTIONS}"
    (upload,) = [s for s in workflow["jobs"]["sync"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()", "the events matter most when the sync failed"
    assert "${{ matrix.shard }}" in upload["with"]["name"], "one artifact per shard"
    summary = workflow["jobs"]["summary"]
    assert summary["needs"] == "sync" and summary["if"] == "always()"
    # Every `uses:` is pinned to a version.
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert "@" in step["uses"], step["uses"]


def test_no_ci_recipe_passes_a_token_on_a_command_line() -> None:
    for path in (GITHUB_WORKFLOW, GITLAB_PIPELINE):
        text = path.read_text(encoding="utf-8")
        assert not TOKEN_LOOKING.search(text), f"{path.name} holds a token-looking value"
    for script in workflow_run_lines() + gitlab_scripts():
        assert "--token" not in script, f"a --token flag in: {script}"
        for args in gz_tui_commands(script):
            assert not any(arg.startswith("--token") for arg in args)


def test_the_gitlab_pipeline_shards_with_parallel_and_no_flag() -> None:
    pipeline = load_docs(GITLAB_PIPELINE)[0]
    job = pipeline["gz-tui-sync"]
    (command,) = [args for line in job["script"] for args in gz_tui_commands(line)]
    assert job["parallel"] > 1
    assert not {"--shard", "--shards"} & {arg.split("=")[0] for arg in command}, "CI_NODE_INDEX/CI_NODE_TOTAL give the shard"
    assert int(pipeline["gz-tui-summary"]["variables"]["SHARDS"]) == job["parallel"]
    assert not TOKEN_VARS & set(job.get("variables", {})) and not TOKEN_VARS & set(pipeline.get("variables", {})), (
        "the token is a masked CI/CD variable, never in the file"
    )
    assert {"--no-tui", "--json"} <= set(command)


def gitlab_duration(text: str) -> int:
    """Seconds in a GitLab duration such as "3h", "2h 45m", "2h45m", "170 minutes"."""
    units = r"(hours?|hr|h|minutes?|min|m|seconds?|sec|s)"
    parts = re.findall(rf"(\d+)\s*{units}", text.lower())
    assert re.fullmatch(rf"(\s*\d+\s*{units})+\s*", text.lower()), f"not a GitLab duration: {text!r}"
    return sum(int(number) * {"h": 3600, "m": 60, "s": 1}[unit[0]] for number, unit in parts)


GITLAB_COM_HOSTED_RUNNER_LIMIT = 3 * 3600
"""Jobs on GitLab.com's hosted runners time out after 3 hours, whatever the job or project timeout says
(docs.gitlab.com/ci/runners/hosted_runners/)."""


def test_the_gitlab_job_ends_within_gitlab_coms_limit_with_time_to_upload_its_events() -> None:
    job = load_docs(GITLAB_PIPELINE)[0]["gz-tui-sync"]
    timeout = gitlab_duration(job["timeout"])
    assert timeout <= GITLAB_COM_HOSTED_RUNNER_LIMIT, f"timeout: {job['timeout']} is more than GitLab.com's hosted runners allow (3h)"
    script_timeout = gitlab_duration(job["variables"]["RUNNER_SCRIPT_TIMEOUT"])
    assert script_timeout <= timeout - 10 * 60, "RUNNER_SCRIPT_TIMEOUT must stop gz-tui early enough to upload the events"
    assert job["artifacts"]["when"] == "always"


# ---------------------------------------------------------------------------------------------------- Dockerfile


def test_the_dockerfile_builds_a_non_root_gz_tui_image_without_a_token() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and all(base.startswith("python:3.") for base, _ in dockerfile_stages()), "official Python 3 images"
    runs = " && ".join(dockerfile_values("RUN"))
    assert re.search(r"apt-get install [^&]*--no-install-recommends[^&]*\bgit\b", runs), "git must be installed with apt, no recommends"
    assert "rm -rf /var/lib/apt/lists" in runs
    assert re.search(r"pip install --no-cache-dir \S", runs)
    user = image_user()
    assert user not in {"0", "root"} and user.isdigit(), f"USER {user}: a fixed, non-root UID"
    assert json.loads(dockerfile_values("ENTRYPOINT")[-1]) == ["gz-tui"], "exec form, so gz-tui is PID 1 and gets SIGTERM"
    assert json.loads(dockerfile_values("CMD")[-1]) == ["--help"]
    assert dockerfile_values("WORKDIR")[-1] == "/data"
    env = dockerfile_env()
    assert env["PYTHONUNBUFFERED"] == "1"
    # No token in the image: no ARG or ENV with TOKEN in its name that holds a value, no token-looking text.
    for name in TOKEN_VARS | {key for key in env if "TOKEN" in key.upper()}:
        assert not env.get(name), f"ENV {name} holds a value"
    for rest in dockerfile_values("ARG"):
        key = rest.partition("=")[0]
        assert "TOKEN" not in key.upper(), f"ARG {key}: a build argument (and its default) ends up in the image's history"
    assert not TOKEN_LOOKING.search(DOCKERFILE.read_text(encoding="utf-8"))


DEBIAN_RELEASES = ("bookworm", "trixie", "forky", "duke")


def test_the_image_stays_on_one_debian_release_and_holds_no_source() -> None:
    """A tag such as python:3.12-slim moves to the next Debian release when it comes out (and git, glibc and the
    apt sources with it); the tag names the release, or a digest pins the bytes. Every stage uses the same base,
    so what the build stage installs runs in the image; the image copies only the build stage's installation
    from it, never the source from the context (a later `rm` would not remove it from the COPY's layer)."""
    stages = dockerfile_stages()
    bases = {base for base, _ in stages}
    assert len(bases) == 1, f"the stages use different bases: {sorted(bases)}"
    (base,) = bases
    assert "@sha256:" in base or any(base.split(":")[1].endswith("-" + name) for name in DEBIAN_RELEASES), (
        f"FROM {base}: name the Debian release (python:3.X-slim-trixie) or pin a digest"
    )
    _, image = stages[-1]
    copies = [rest for word, rest in image if word in {"COPY", "ADD"}]
    assert copies and all("--from=" in rest for rest in copies), f"the image copies from the build context: {copies}"


def dockerfile_permissions(path: str) -> tuple[int, int, int]:
    """(uid, gid, mode) that the Dockerfile's RUN lines give a folder they make: mkdir's 0755, then chown UID:GID,
    then chmod (g=u, or an octal mode)."""
    owner: tuple[int, int] | None = None
    mode = 0o755
    for rest in dockerfile_values("RUN"):
        for command in re.split(r"&&|;", rest):
            words = [word for word in shlex.split(command) if not word.startswith("-")]
            if len(words) < 3 or path not in words[2:]:
                continue
            if words[0] == "chown":
                user, _, group = words[1].partition(":")
                owner = (int(user), int(group or user))
            elif words[0] == "chmod":
                mode = (mode & ~0o070) | ((mode & 0o700) >> 3) if words[1] == "g=u" else int(words[1], 8)
    assert owner is not None, f"the Dockerfile gives {path} no owner (chown UID:GID {path})"
    return owner[0], owner[1], mode


def test_the_image_runs_as_any_uid_with_group_0() -> None:
    """OpenShift's rule, and `docker run --user "$(id -u)"`: a UID the image does not know runs with group 0, so
    HOME and /data belong to group 0 with the owner's rights (g=u) and HOME is set (Docker would set it to /)."""
    for path in (dockerfile_env()["HOME"], "/data"):
        _, gid, mode = dockerfile_permissions(path)
        assert gid == 0, f"{path} must belong to group 0, not {gid}"
        assert (mode & 0o070) >> 3 == (mode & 0o700) >> 6, f"{path} (mode {mode:04o}) must give group 0 the owner's rights (g=u)"
    user = dockerfile_values("USER")[-1]
    assert user == f"{image_user()}:0", f"USER {user}: the image's own user runs in group 0 too"


def unknown_uid() -> int:
    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def test_gz_tui_syncs_as_a_uid_the_system_does_not_know_in_group_0(forge_factory: Any) -> None:
    """What `docker run --user "$(id -u)"` and OpenShift do to the image, done here without Docker: gz-tui and git
    run as a UID that /etc/passwd does not know, in group 0 and no other, with HOME as the Dockerfile makes it
    (the image user's, group 0, g=u) and the mirror folder belonging to that UID (a bind mount made by its
    owner). The org is cloned, and the log file lands in HOME."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("running as another UID needs root and util-linux's setpriv")
    uid, token = unknown_uid(), "any-uid-token-0123456789"
    as_uid = [setpriv, f"--reuid={uid}", "--regid=0", "--clear-groups", sys.executable]
    base = Path(tempfile.mkdtemp(prefix="gz-tui-any-uid-"))  # pytest's tmp_path is private to root
    try:
        base.chmod(0o755)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(base / "home"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        probe = subprocess.run([*as_uid, "-c", "import gz_tui"], capture_output=True, text=True, timeout=60, env=env, cwd=base)
        if probe.returncode != 0:
            pytest.skip(f"UID {uid} cannot read this interpreter or checkout: {probe.stderr.strip().splitlines()[-1:]}")
        home = base / "home"
        home.mkdir()
        owner, group, mode = dockerfile_permissions(dockerfile_env()["HOME"])
        os.chown(home, owner, group)
        home.chmod(mode)
        mirror = base / "mirror"
        mirror.mkdir()
        os.chown(mirror, uid, uid)
        sim = forge_factory(org="my-org", repos=3, token=token)
        result = subprocess.run(
            [*as_uid, "-m", "gz_tui", "my-org", "--base-url", sim.base_url, "--dest", str(mirror / "my-org"), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, "GH_TOKEN": token},
            cwd=mirror,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        (summary,) = summaries(result.stdout)
        assert summary["cloned"] == 3
        clones = repo_dirs(mirror / "my-org")
        assert len(clones) == 3 and all((mirror / "my-org" / clone).stat().st_uid == uid for clone in clones)
        assert list((home / ".local" / "state" / "gz-tui").rglob("*.log")), "the log file belongs in HOME"
        assert token not in result.stdout + result.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_every_documented_docker_run_on_a_bind_mount_runs_as_the_folders_owner() -> None:
    """`docker run -v "$PWD/mirror:/data" IMAGE` as the image's UID 10001 cannot write a folder of yours, and its
    clones would not be yours: every such command in the docs passes --user, after making the folder."""
    commands = []
    for path in (README, DOCKERFILE, K8S_README):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "docker run" in line and re.search(r"\s-v\s+\S+:/data", line):
                commands.append(f"{path.name}:{number + 1}")
                assert "--user" in line, f"{path.name}:{number + 1}: no --user: {line.strip()}"
                folder = re.search(r'-v\s+"?\$PWD/([^:"]+):', line)
                made = folder and any(f"mkdir -p {folder.group(1)}" in before for before in lines[max(0, number - 3) : number])
                assert made, f"{path.name}:{number + 1}: the folder is not made first (Docker would make it, for root)"
    assert commands, "the docs show no docker run"


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    """Every rule at every level (style included); a rule ignored inline is explained in the comment above it."""
    result = subprocess.run(
        [linter("hadolint"), "--no-color", "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # no .hadolint.yaml of a checkout or a user
        env=linter_env(tmp_path),
    )
    findings = [f"Dockerfile:{f['line']} {f['code']} ({f['level']}): {f['message']}" for f in json.loads(result.stdout or "[]")]
    assert not findings and result.returncode == 0, "\n".join(findings) or result.stderr
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if match := re.match(r"\s*#\s*hadolint\s+ignore=(\S+)", line):
            above = []
            for previous in reversed(lines[:number]):
                if not previous.lstrip().startswith("#"):
                    break
                above.append(previous)
            for code in match.group(1).split(","):
                assert any(code in comment for comment in above), f"Dockerfile:{number + 1}: ignore={code} without a word on why"


def test_actionlint_finds_nothing_in_the_workflow(tmp_path: Path) -> None:
    """Syntax, expressions, runner labels, action inputs, and actions whose runtime GitHub deprecates (Node 20).
    shellcheck and pyflakes are left out, so the result does not depend on what else a machine has on PATH."""
    result = subprocess.run(
        [linter("actionlint"), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(GITHUB_WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # no .github/actionlint.yaml of a checkout
        env=linter_env(tmp_path),
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@dataclass(frozen=True)
class IgnorePattern:
    """One line of a .dockerignore, compiled as moby/patternmatcher compiles it (Docker's and BuildKit's matcher)."""

    text: str  # cleaned, without its "!"
    exception: bool
    kind: str  # exact, prefix ("a/**"), suffix ("**/a"), regexp
    regexp: re.Pattern[str] | None

    @classmethod
    def compile(cls, line: str) -> IgnorePattern:
        exception = line.startswith("!")
        text = line[1:] if exception else line
        if not text:
            raise ValueError('illegal exclusion pattern: "!"')
        regexp, kind, i, n = "^", "exact", 0, len(text)
        first = True
        while i < n:
            ch, i = text[i], i + 1
            if ch == "*" and i < n and text[i] == "*":  # "**": any number of directories, even none
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i == n:
                    kind, regexp = ("prefix", regexp) if kind == "exact" else ("regexp", regexp + ".*")
                else:
                    kind, regexp = "regexp", regexp + "(.*/)?"
                if first:
                    kind = "suffix"
            elif ch == "*":
                kind, regexp = "regexp", regexp + "[^/]*"
            elif ch == "?":
                kind, regexp = "regexp", regexp + "[^/]"
            elif ch in ".+()|{}$":
                regexp += "\\" + ch
            elif ch == "\\" and i < n:
                kind, regexp, i = "regexp", regexp + "\\" + text[i], i + 1
            elif ch in "[]":
                kind, regexp = "regexp", regexp + ch
            else:
                regexp += ch
            first = False
        return cls(text, exception, kind, re.compile(regexp + "$") if kind == "regexp" else None)

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.match(path) is not None


def read_dockerignore(text: str) -> list[IgnorePattern]:
    """moby/patternmatcher's ignorefile.ReadAll, then New: comments only in column 1, whitespace trimmed, each
    pattern cleaned like Go's filepath.Clean, a leading "/" dropped (the context root is "/")."""
    patterns = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.removeprefix("\ufeff") if number == 0 else raw
        if line.startswith("#") or not line.strip():
            continue
        line = line.strip()
        exception = line.startswith("!")
        line = line[1:].strip() if exception else line
        if line:
            line = posixpath.normpath(line)
            line = line.lstrip("/") if len(line) > 1 else line
        patterns.append(IgnorePattern.compile(("!" if exception else "") + line))
    return patterns


def ignored(patterns: list[IgnorePattern], path: str) -> bool:
    """PatternMatcher.MatchesOrParentMatches: the last pattern that matches the path or one of its parent
    directories decides; an exception ("!") can bring back a path inside an excluded directory."""
    matched = False
    parents = path.split("/")[:-1]
    for pattern in patterns:
        if pattern.exception != matched:  # only a later exclusion can exclude, only a later exception bring back
            continue
        if pattern.matches(path) or any(pattern.matches("/".join(parents[: i + 1])) for i in range(len(parents))):
            matched = not pattern.exception
    return matched


def build_context(root: Path, *, legacy: bool) -> set[str]:
    """The files `docker build root` sends, as context-relative paths.

    BuildKit (the default builder) walks into an excluded directory whenever the .dockerignore has exceptions, and
    keeps each file the patterns do not exclude. The legacy builder (DOCKER_BUILDKIT=0, and builders that
    copied it) skips an excluded directory unless an exception pattern's text starts with that directory's
    path, so an exception such as "!pkg/**/*.py" loses pkg/sub/. A .dockerignore must give the same files to
    both."""
    patterns = read_dockerignore((root / ".dockerignore").read_text(encoding="utf-8"))
    exceptions = [p.text for p in patterns if p.exception]
    sent: set[str] = set()
    for directory, subdirs, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        keep = []
        for name in sorted(subdirs):
            path = prefix + name
            if ignored(patterns, path):
                if not exceptions or (legacy and not any((text + "/").startswith(path + "/") for text in exceptions)):
                    continue
            keep.append(name)
        subdirs[:] = keep
        sent.update(prefix + name for name in files if not ignored(patterns, prefix + name))
    return sent


def test_the_dockerignore_rules_match_as_dockers_do() -> None:
    """The matcher above against examples from Docker's documentation of .dockerignore."""

    def excluded(lines: str, path: str) -> bool:
        return ignored(read_dockerignore(lines), path)

    assert excluded("*/temp*", "somedir/temporary.txt") and excluded("*/temp*", "somedir/temp")
    assert not excluded("*/temp*", "temp.txt") and not excluded("*/temp*", "a/b/temp")
    assert excluded("*/*/temp*", "somedir/subdir/temporary.txt")
    assert excluded("temp?", "tempa") and not excluded("temp?", "dir/tempa")
    assert excluded("**/*.go", "main.go") and excluded("**/*.go", "a/b/c.go")
    assert not excluded("*.md\n!README.md", "README.md") and excluded("*.md\n!README.md", "CHANGES.md")
    assert excluded("*.md\n!README*.md\nREADME-secret.md", "README-secret.md")
    assert not excluded("*.md\nREADME-secret.md\n!README*.md", "README-secret.md")
    # The root-only trap: a bare name matches at the context root only, "**/" at any depth.
    assert excluded(".env", ".env") and not excluded(".env", "pkg/.env") and excluded("**/.env", "pkg/sub/.env")
    assert excluded("/foo/bar", "foo/bar") and excluded("foo", "foo/deep/file")
    assert excluded(" # not a comment", " # not a comment".strip()) and not excluded("# a comment", "# a comment")


SECRETS_PLANTED = (
    ".env",
    "prod.env",
    "x.log",
    "events.jsonl",
    "state.sqlite3",
    ".gz-tui/state.sqlite3",
    "mirror/my-org/repo/.git/config",
    ".venv/lib/python3.11/site-packages/token.txt",
    "tests/.env",
    "gz_tui/.env",
    "gz_tui/.env.local",
    "gz_tui/secret.env",
    "gz_tui/run.log",
    "gz_tui/tui/events.jsonl",
    "gz_tui/.gz-tui/state.sqlite3",
    "gz_tui/.gz-tui/state.sqlite3-wal",
    "gz_tui/forges/cache.sqlite3-journal",
    "gz_tui/config.toml",
    "gz_tui/pipeline/app-key.pem",
    "gz_tui/.netrc",
    "gz_tui/__pycache__/cli.cpython-312.pyc",
)


def test_the_build_context_holds_what_the_image_installs_and_no_secret(tmp_path: Path) -> None:
    """A copy of this checkout's layout, with tokens, logs, states and keys planted at the root and deep inside
    gz_tui/: the context Docker would send holds exactly pyproject.toml, README.md and gz_tui's sources — the
    same with BuildKit and with the legacy builder — and none of what was planted."""
    context = tmp_path / "context"
    package = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "gz_tui").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert package and all(p.endswith((".py", ".tcss")) for p in package), "gz_tui/ holds a file the test does not expect"
    top_level = [p.name for p in ROOT.iterdir() if p.is_file()]
    for path in [*package, *top_level, *SECRETS_PLANTED, "tests/test_x.py", "bench/run.py", "deploy/kubernetes/cronjob.yaml"]:
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        (context / path).write_text("GH_TOKEN=ghp_planted\n" if path in SECRETS_PLANTED else "")
    shutil.copyfile(DOCKERIGNORE, context / ".dockerignore")

    expected = {"pyproject.toml", "README.md", *package}
    for legacy in (False, True):
        sent = build_context(context, legacy=legacy)
        builder = "the legacy builder" if legacy else "BuildKit"
        leaked = sorted(sent & set(SECRETS_PLANTED))
        assert not leaked, f"{builder} would send {leaked} into the image's build"
        assert sent == expected, f"{builder}: missing {sorted(expected - sent)}, extra {sorted(sent - expected)}"


def test_the_dockerfile_reads_only_what_the_context_sends() -> None:
    """Every COPY from the context names a file or folder the .dockerignore lets through."""
    patterns = read_dockerignore(DOCKERIGNORE.read_text(encoding="utf-8"))
    sources = [
        word for rest in dockerfile_values("COPY") if "--from=" not in rest for word in rest.split()[:-1] if not word.startswith("--")
    ]
    assert sources, "the Dockerfile copies nothing from the context"
    for source in sources:
        assert not ignored(patterns, source.rstrip("/")), f".dockerignore excludes {source}, which the Dockerfile copies"


# ---------------------------------------------------------------------------------------------------- systemd


def unit_file(name: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file read strictly: ``[Section]`` headers, ``Key=Value`` lines (a key may repeat), ``#``/``;``
    comments; no line continuation (systemd would join it to the next line, silently changing the command)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, line in enumerate((SYSTEMD / name).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{name}:{number}: a continued line"
        if line.startswith("["):
            assert re.fullmatch(r"\[[A-Za-z]+\]", line), f"{name}:{number}: {line!r}"
            assert line[1:-1] not in sections, f"{name}:{number}: a second {line}"
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*=.*", line), f"{name}:{number}: {line!r}"
        key, _, value = line.partition("=")
        current.append((key, value.strip()))
    return sections


def unit_value(name: str, section: str, key: str) -> str:
    (value,) = [v for k, v in unit_file(name)[section] if k == key]
    return value


def exec_start() -> list[str]:
    return shlex.split(unit_value("gz-tui.service", "Service", "ExecStart"))


def test_systemd_analyze_finds_nothing_in_the_units(tmp_path: Path) -> None:
    """systemd's own checker, offline, on the two units (the binary pointed at one that exists here): no unknown
    key, no bad value, a timer that names a service that exists."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    for unit in ("gz-tui.service", "gz-tui.timer"):
        text = (SYSTEMD / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace(exec_start()[0], shutil.which("true") or "/bin/true"), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / "gz-tui.service"), str(tmp_path / "gz-tui.timer")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    calendar = subprocess.run(
        [analyze, "calendar", unit_value("gz-tui.timer", "Timer", "OnCalendar")], capture_output=True, text=True, timeout=30
    )
    assert calendar.returncode == 0 and "Normalized form: *-*-* 03:00:00" in calendar.stdout, calendar.stdout + calendar.stderr


def test_the_timer_starts_the_service_nightly_and_catches_up_a_missed_night() -> None:
    assert unit_value("gz-tui.timer", "Timer", "Unit") == "gz-tui.service"
    assert unit_value("gz-tui.timer", "Timer", "Persistent") == "true"
    assert unit_value("gz-tui.timer", "Install", "WantedBy") == "timers.target"
    assert "Install" not in unit_file("gz-tui.service"), "the timer starts the service; enabling it alone would run it at boot"


def test_the_service_runs_gz_tui_sync_once_with_room_for_a_long_first_run_and_no_secret() -> None:
    service = unit_file("gz-tui.service")["Service"]
    keys = dict(service)
    assert keys["Type"] == "oneshot"
    limit = keys["TimeoutStartSec"]  # a oneshot's default is 90 s: a first clone of a big org is killed by it
    assert limit == "infinity" or int(re.fullmatch(r"([0-9]+)h", limit)[1]) >= 4  # type: ignore[index]
    args = exec_start()
    assert PurePosixPath(args[0]).name == "gz-tui" and PurePosixPath(args[0]).is_absolute()
    from gz_tui.cli import parse

    ns = parse(args[1:])
    assert ns.command == "sync" and "--json" in args and "--metrics-file" in args
    metrics = PurePosixPath(option_value(args, "--metrics-file"))
    state_dirs = keys["StateDirectory"].split()
    assert metrics.suffix == ".prom", "node_exporter's textfile collector reads *.prom files only"
    assert str(metrics.parent.relative_to("/var/lib")) in state_dirs, "systemd makes the metrics folder, writable by the service"
    text = (SYSTEMD / "gz-tui.service").read_text(encoding="utf-8")
    assert not TOKEN_LOOKING.search(text) and "--token" not in args and "--ping-url" not in args, "a unit file is world-readable"
    assert keys["EnvironmentFile"].startswith("/etc/"), "the tokens come from a root-only file systemd reads"


def test_the_services_command_syncs_and_writes_its_metrics(forge_factory: Any, tmp_path: Path) -> None:
    """ExecStart as systemd runs it (its Environment=, /var/lib/gz-tui moved under tmp_path), against the forge."""
    token = "systemd-test-token-0123456789"
    sim = forge_factory(org="acme", repos=5, token=token)
    state = tmp_path / "var-lib-gz-tui"
    config = tmp_path / "config.toml"
    config.write_text(f'[targets.acme]\nbase_url = "{sim.base_url}"\ndest = "{state / "acme"}"\n', encoding="utf-8")
    env = dict(value.split("=", 1) for key, value in unit_file("gz-tui.service")["Service"] if key == "Environment")
    assert set(env) == {"GZ_TUI_CONFIG", "GZ_TUI_LOG_DIR", "HOME"}
    env = {"GZ_TUI_CONFIG": str(config), "GZ_TUI_LOG_DIR": str(tmp_path / "logs"), "HOME": str(state), "GH_TOKEN": token}
    args = [arg.replace("/var/lib/gz-tui", str(state)) for arg in exec_start()[1:]]
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert summaries(result.stdout)[0]["cloned"] == 5 and len(repo_dirs(state / "acme")) == 5
    metrics = (state / "metrics" / "gz-tui.prom").read_text(encoding="utf-8")
    assert 'gz_tui_run_exit_code{target="acme",forge="github",owner="acme"} 0' in metrics.splitlines()


# ---------------------------------------------------------------------------------------------------- flags


def recipe_commands() -> list[tuple[str, list[str]]]:
    """(where, gz-tui's arguments) for every gz-tui invocation of every recipe."""
    found: list[tuple[str, list[str]]] = []
    for name, spec in job_specs():
        container = gz_container(spec["template"]["spec"])
        assert "command" not in container, f"{name}: the image's ENTRYPOINT (gz-tui) must stay"
        found.append((name, container["args"]))
    for script in workflow_run_lines():
        found += [(GITHUB_WORKFLOW.name, args) for args in gz_tui_commands(script)]
    for script in gitlab_scripts():
        found += [(GITLAB_PIPELINE.name, args) for args in gz_tui_commands(script)]
    found += [("Dockerfile CMD", json.loads(rest)) for rest in dockerfile_values("CMD")]
    found.append(("gz-tui.service", exec_start()[1:]))
    return found


def test_every_flag_the_recipes_pass_is_one_gz_tui_has() -> None:
    known = help_flags()
    commands = recipe_commands()
    assert len(commands) >= 4
    for where, args in commands:
        for arg in args:
            if not arg.startswith("--") or arg == "--":
                continue
            flag = arg.split("=", 1)[0]
            assert flag in known, f"{where} passes {flag}, which `gz-tui --help` does not list"


# ---------------------------------------------------------------------------------------------------- run them


def run_shards(commands: list[tuple[list[str], dict[str, str]]], cwd: Path) -> list[tuple[int, str, str]]:
    """Run gz-tui once per (args, extra env), all at once, as parallel pods or matrix jobs would."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gz_tui", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env={**os.environ, **env},
        )
        for args, env in commands
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    return results


def summaries(out: str) -> list[dict[str, Any]]:
    return [event for event in map(json.loads, out.splitlines()) if event["event"] == "summary"]


def test_the_jobs_pods_and_the_workflows_matrix_sync_the_org_once_between_them(forge_factory: Any, tmp_path: Path) -> None:
    """The Indexed Job's container args, run as its N pods would be (JOB_COMPLETION_INDEX 0 … N-1, the token from
    the environment, one shared volume), clone every repo exactly once; then the GitHub workflow's matrix command
    on the same destination finds them all unchanged, and the workflow's own merge step adds up its summaries."""
    job = k8s_docs()["Job"]["spec"]
    container = gz_container(job["template"]["spec"])
    args = list(container["args"])
    owner, shards = args[0], int(option_value(args, "--shards"))
    (mount,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "mirror"]
    token = "deploy-test-token-0123456789"
    (token_var,) = [env["name"] for env in container["env"] if env["name"] in TOKEN_VARS]
    sim = forge_factory(org=owner, repos=12, token=token)

    # The pods: the claim's mount becomes tmp_path/volume; the forge is the embedded one.
    volume = tmp_path / "volume"
    dest_at = args.index("--dest") + 1
    dest = volume / PurePosixPath(args[dest_at]).relative_to(mount)
    args[dest_at] = str(dest)
    pods = [([*args, "--base-url", sim.base_url], {token_var: token, "JOB_COMPLETION_INDEX": str(k)}) for k in range(job["completions"])]
    results = run_shards(pods, tmp_path)
    cloned = 0
    for k, (code, out, err) in enumerate(results):
        assert code == 0, f"pod {k}: exit {code}: {err}"
        (summary,) = summaries(out)
        assert (summary["shard"], summary["shards"]) == (k, shards)
        cloned += summary["cloned"]
        assert token not in out + err
    assert cloned == 12 and len(repo_dirs(dest)) == 12, "the pods' shards must cover the org exactly once"
    assert sorted(p.name for p in (dest / ".gz-tui").glob("shard-*")) == [f"shard-{k}-of-{shards}" for k in range(shards)]

    # The workflow's matrix jobs, with its own command line, into the same folder: everything is already there.
    workflow = load_docs(GITHUB_WORKFLOW)[0]
    step, run = sync_step()
    (command,) = gz_tui_commands(run)
    (secret_var,) = [name for name in step["env"] if name in TOKEN_VARS]
    matrix = workflow["jobs"]["sync"]["strategy"]["matrix"]["shard"]
    jobs = []
    for k in matrix:
        line = shlex.split(re.sub(r"\$\{\{\s*matrix\.shard\s*\}\}", str(k), run).split(">>")[0])[1:]
        line[line.index("--dest") + 1] = str(dest)
        jobs.append(([*line, "--base-url", sim.base_url], {secret_var: token}))
    assert command[0] == owner
    shards_dir = tmp_path / "shards"
    for k, (code, out, err) in zip(matrix, run_shards(jobs, tmp_path), strict=True):
        assert code == 0, f"matrix job {k}: exit {code}: {err}"
        (shards_dir / f"shard-{k}").mkdir(parents=True)
        (shards_dir / f"shard-{k}" / "shard.jsonl").write_text(out, encoding="utf-8")

    merge = workflow["jobs"]["summary"]["steps"][-1]
    assert merge["shell"] == "python"
    step_summary = tmp_path / "step-summary.md"
    merged = subprocess.run(
        [sys.executable, "-c", merge["run"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SHARDS": workflow["env"]["SHARDS"], "GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    total = merged.stdout.strip().splitlines()[-1]
    assert total.startswith("| **all** | **0** | **12** | **0** | **0** | **12** |"), total
    assert "## gz-tui" in step_summary.read_text(encoding="utf-8")

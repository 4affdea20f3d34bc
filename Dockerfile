# gz-tui in a container: for Kubernetes (deploy/kubernetes/), a CI runner, or `docker run` on a server.
#
#   docker build -t gz-tui:0.1.0 .
#   docker run --rm gz-tui:0.1.0                         # --help
#   docker run --rm --init -e GH_TOKEN -v "$PWD/mirror:/data" gz-tui:0.1.0 my-org --dest /data/my-org --no-tui --json
#
# (-e GH_TOKEN with no value passes your shell's variable through: the token is never in the image, a
# Dockerfile line or a command line. GITLAB_TOKEN and GITEA_TOKEN likewise.)
#
# Docker is not available on the machine this file was written on, so it has not been built there;
# tests/test_deploy.py checks it statically (base image, git, non-root USER, ENTRYPOINT, no token).
#
# Platform notes:
# - The container runs as UID/GID 10001 (no name needed by Kubernetes' runAsUser). Files it writes in
#   /data belong to 10001: on a bind mount, `sudo chown -R 10001:10001 mirror` first.
# - gz-tui is PID 1 (exec form below), and handles SIGTERM itself: it saves its state and exits 130; the next
#   run resumes. `docker run --init` (or `shareProcessNamespace: true` in a pod) adds a process that reaps
#   orphaned git helpers; gz-tui already kills its git children's process groups when it stops.
# - Works with a read-only root file system as long as /tmp and $HOME are writable (emptyDir volumes in
#   deploy/kubernetes/indexed-job.yaml): HOME holds the log file (~/.local/state/gz-tui/log), nothing else.

FROM python:3.12-slim

# git is gz-tui's only runtime dependency outside Python (≥ 2.31; Debian bookworm ships 2.39).
# ca-certificates for https clones; no recommends (no perl/openssh/less), apt lists removed in the same layer.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root UID/GID so Kubernetes manifests (runAsUser: 10001, fsGroup: 10001) and volume
# permissions can be written ahead of time. /data is the mount point for destinations (--dest /data/OWNER).
RUN groupadd --system --gid 10001 gz \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/gz --shell /usr/sbin/nologin gz \
    && mkdir -p /data \
    && chown 10001:10001 /data

# Install gz-tui from this checkout (pyproject.toml reads README.md; .dockerignore keeps .git, .venv,
# test and bench leftovers out of the build context). The source is removed once installed.
COPY pyproject.toml README.md /src/
COPY gz_tui /src/gz_tui
RUN pip install --no-cache-dir /src \
    && rm -rf /src

# PYTHONUNBUFFERED: --json events reach `kubectl logs` / `docker logs` as they happen, not in 4 KiB lumps.
# PYTHONDONTWRITEBYTECODE: nothing written next to the installed code (read-only root file system).
# HOME is set explicitly so the log and config dirs resolve the same under any runtime's user handling.
# No token here: tokens come from the environment at run time (GH_TOKEN / GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/gz

USER 10001:10001
WORKDIR /data

ENTRYPOINT ["gz-tui"]
CMD ["--help"]

# gz-tui in a container: for Kubernetes (deploy/kubernetes/), a CI runner, or `docker run` on a server.
#
#   docker build -t gz-tui:0.1.0 .
#   docker run --rm gz-tui:0.1.0                         # --help
#   mkdir -p mirror
#   docker run --rm --init --user "$(id -u)" -e GH_TOKEN -v "$PWD/mirror:/data" gz-tui:0.1.0 my-org --dest /data/my-org --no-tui --json
#
# (-e GH_TOKEN with no value passes your shell's variable through: the token is never in the image, a
# Dockerfile line or a command line. GITLAB_TOKEN and GITEA_TOKEN likewise.)
#
# No Docker engine runs on the machine this file is developed on, so this version has not been built there;
# tests/test_deploy.py runs hadolint on it and checks it statically (base image, git, non-root USER, group 0,
# ENTRYPOINT, no token, no source in the final stage).
#
# Platform notes:
# - Any UID, group 0, as OpenShift runs images: HOME (/home/gz) and /data belong to group 0 with the owner's
#   rights (g=u), so the image runs as its own user 10001 or as any UID with group 0. `docker run --user UID`
#   with a UID the image does not know gets group 0. On a bind mount, run as the folder's owner
#   (`--user "$(id -u)"`, the folder made first, else Docker creates it for root): the clones are then yours,
#   and git, on the host as in the container, refuses to work in a clone that belongs to another user
#   ("dubious ownership"). Kubernetes: runAsUser and fsGroup (deploy/kubernetes/).
# - gz-tui is PID 1 (exec form below), and handles SIGTERM itself: it saves its state and exits 130; the next
#   run resumes. `docker run --init` (or `shareProcessNamespace: true` in a pod) adds a process that reaps
#   orphaned git helpers; gz-tui already kills its git children's process groups when it stops.
# - Works with a read-only root file system as long as /tmp and $HOME are writable (emptyDir volumes in
#   deploy/kubernetes/indexed-job.yaml): HOME holds the log file (~/.local/state/gz-tui/log), nothing else.

# Both stages on one base, pinned to a Debian release (trixie), so the packages built in the first run in the
# second and a rebuild does not move to another Debian under the same tag. Pin a digest (@sha256:…) on top for
# byte-identical rebuilds.

# Stage 1: install gz-tui and its dependencies under /install. The source (pyproject.toml, README.md, gz_tui/:
# all that .dockerignore lets into the context) exists only in this stage's layers, never in the image.
FROM python:3.12-slim-trixie AS build
COPY pyproject.toml README.md /src/
COPY gz_tui /src/gz_tui
RUN pip install --no-cache-dir --prefix=/install /src

# Stage 2: the image.
FROM python:3.12-slim-trixie

# git is gz-tui's only runtime dependency outside Python (≥ 2.31; Debian trixie ships 2.47), ca-certificates
# for https clones. --no-install-recommends leaves out git's recommends (openssh-client, less, patch: add
# openssh-client for --protocol ssh); perl comes all the same, as a dependency of git. Apt's lists are removed
# in the same layer.
# DL3008 (pin versions in apt-get install) is ignored on purpose: a Debian release keeps only the current
# version of each package, so a pinned version breaks the build at its next security update; the release
# itself is pinned by the base image's tag.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root UID so Kubernetes manifests (runAsUser: 10001) and volume permissions can be written
# ahead of time, in group 0 (no group of its own) so that any other UID with group 0 has the same rights.
# /data is the mount point for destinations (--dest /data/OWNER).
RUN useradd --system --no-log-init --uid 10001 --gid 0 --home-dir /home/gz --shell /usr/sbin/nologin gz \
    && mkdir -p /home/gz /data \
    && chown 10001:0 /home/gz /data \
    && chmod g=u /home/gz /data

# gz-tui, its dependencies and its `gz-tui` command, as installed by the first stage (no source, no pip cache).
COPY --from=build /install /usr/local

# PYTHONUNBUFFERED: --json events reach `kubectl logs` / `docker logs` as they happen, not in 4 KiB lumps.
# PYTHONDONTWRITEBYTECODE: nothing written next to the installed code (read-only root file system).
# HOME is set explicitly: Docker sets HOME=/ for a UID the image does not know; this one is writable by group 0.
# No token here: tokens come from the environment at run time (GH_TOKEN / GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/gz

USER 10001:0
WORKDIR /data

ENTRYPOINT ["gz-tui"]
CMD ["--help"]

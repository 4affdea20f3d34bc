"""The embedded forge: GitHub / GitLab / Gitea / Bitbucket (Cloud and Data Center) / Sourcehut / Gogs listing APIs and
git smart HTTP on 127.0.0.1.

Used by the tests, ``gz-tui --demo`` and the benchmarks, so every client behaviour can be checked
against real HTTP and real ``git`` without the network. Stdlib only; never imports Textual::

    with ForgeSim(tmp_path, org="acme", repos=300, scenario=Scenario(primary_limit=50)) as sim:
        httpx.get(f"{sim.base_url}/orgs/acme/repos?per_page=100")      # GitHub (also /api/v3/...)
        httpx.get(f"{sim.base_url}/api/v4/groups/acme/projects")         # GitLab
        httpx.get(f"{sim.base_url}/api/v1/orgs/acme/repos")              # Gitea
        httpx.get(f"{sim.base_url}/2.0/repositories/acme?pagelen=100")   # Bitbucket Cloud
        httpx.get(f"{sim.base_url}/rest/api/1.0/projects/ACME/repos")    # Bitbucket Data Center (git: /scm/acme/x.git)
        httpx.post(f"{sim.base_url}/query", json={"query": "{ user(username: \"acme\") { id } }"})  # Sourcehut (git: /~acme/x)
        httpx.get(f"{sim.base_url}/gogs/api/v1/orgs/acme/repos")          # Gogs at /gogs (git: /gogs/acme/x.git)
        subprocess.run(["git", "clone", "--", sim.git_url("repo-00001"), "dest"])
        sim.push_commit("repo-00001"); sim.requests()
        sim.rename_repo("repo-00002", "new-name")    # the old name now answers each forge's redirect

Module map: ``sim`` (the handle), ``server`` (HTTP/1.1 I/O), ``dispatch`` (order of refusals),
``github_api``/``gitlab_api``/``gitea_api``/``bitbucket_api``/``bitbucket_server_api``/``sourcehut_api``/``gogs_api``
(one flavour each), ``limits`` (quota, faults),
``catalog`` (generated metadata, renames, churn), ``hostile`` (dangerous entries and page bodies), ``repos`` +
``git_objects`` (lazy bare repos), ``git_http`` (``git http-backend`` as CGI), ``records`` (log),
``app_auth`` (a GitHub App: JWTs verified, installation tokens issued and expired).
"""

from gz_tui.forge_sim.app_auth import GitHubApp
from gz_tui.forge_sim.records import RequestRecord
from gz_tui.forge_sim.scenario import DEMO_REPOS, Scenario, demo_scenario
from gz_tui.forge_sim.sim import ForgeSim

__all__ = ["DEMO_REPOS", "ForgeSim", "GitHubApp", "RequestRecord", "Scenario", "demo_scenario"]

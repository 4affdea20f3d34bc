"""Forge providers (GitHub, GitLab, Gitea, Bitbucket Cloud and Data Center, Sourcehut, Gogs) behind one interface; no
Textual here.

Where things are:

- :mod:`~gz_tui.forges.provider`: the :class:`Provider` base class, one forge's API dialect for one owner (its
  docstring says how a forge that pages in the body or speaks GraphQL fits);
- :mod:`~gz_tui.forges.registry`: ``--provider NAME`` → the class, and what each forge declares
  (:class:`~gz_tui.forges.records.ProviderInfo`: default base URL, token variables, git user, capabilities);
- :mod:`~gz_tui.forges.http`: the one API client (rate limits, retries, conditional GETs, POST);
- :mod:`~gz_tui.forges.auth` and :mod:`~gz_tui.forges.github_app`: what a run signs in with;
- :mod:`~gz_tui.forges.records`, :mod:`~gz_tui.forges.errors`, :mod:`~gz_tui.forges.responses`: the records,
  the failures and the response readers every provider shares.

Adding a forge touches four places and nothing in ``config/`` or ``pipeline/``:

1. ``gz_tui/kinds.py``: a member of :class:`~gz_tui.kinds.ProviderName` (the ``--provider`` word);
2. ``gz_tui/forges/<name>.py``: a :class:`Provider` subclass with its ``info`` (default base URL, token
   variables, git user name, what it supports), ``auth_headers``, ``first_urls``, ``parse_repo``, and the
   override points its API needs (``next_url``, ``parse_page``, ``page_request``, ``git_origin``,
   ``git_auth_header``, ``wiki_url``, ``listing_is_partial``, ``rate_info``, ``forbidden_message``);
3. ``gz_tui/forges/registry.py``: one line in ``PROVIDERS``;
4. ``gz_tui/forge_sim/``: its dialect of the embedded forge (``<name>_api.py`` and its route in ``sim.py``), so
   the same first-run, resume, re-sync, hostile-listing and token-audit tests run against it.
"""

from gz_tui.forges.provider import Provider
from gz_tui.forges.registry import PROVIDERS, make_provider, provider_class, provider_info

__all__ = ["PROVIDERS", "Provider", "make_provider", "provider_class", "provider_info"]

"""Who the token belongs to: confirmed before a run lists anything (the forge must accept it), and whether the
owner is the token's own user (whose own listing includes the private repos)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from gz_tui.config import Settings
from gz_tui.forges.auth import CommandToken, StaticToken
from gz_tui.forges.errors import AuthError, ForbiddenError, ForgeError, NotFoundError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider


async def confirm_credential(client: ApiClient, provider: Provider, notice: Callable[[str], None]) -> None:
    """With a token configured, one "who am I" request: a forge that answers it as anonymous (Gitea 1.15 with a
    revoked token, a proxy dropping a credential it does not know) would otherwise list only the public repos,
    and a prune would take the private ones for gone. Raises AuthError then. An app's installation token is
    proven by its minting; a 403 names a token the forge knows (one without the scope to read its user)."""
    url = provider.viewer_url()
    if url is None or not isinstance(client.credential, StaticToken | CommandToken) or not client.credential.current():
        return
    host = urlsplit(url).netloc
    try:
        response = await client.get(url, quiet_404=True)
    except ForbiddenError:
        return
    except NotFoundError:
        notice(f'{host} has no "who am I" endpoint ({urlsplit(url).path}): the token could not be confirmed')
        return
    except AuthError as exc:  # "who am I" refused: the token is not accepted, whatever the listing would say
        raise AuthError(f"{exc}; nothing is listed, cloned or pruned as anonymous") from None
    try:
        if provider.viewer_login(response):
            return
    except ValueError:
        pass
    raise AuthError(
        f"{host} does not accept the configured token: asked who it belongs to, it named no user; nothing is "
        "listed, cloned or pruned as anonymous — check the token (--token, --token-cmd, --token-file or its "
        "environment variable)"
    )


async def own_listing(client: ApiClient, provider: Provider, settings: Settings) -> str | None:
    """The listing that includes private repos, when the owner is the token's own user (one extra request:
    GitHub's ``/users/X/repos`` shows only X's public repos, even to X's own token)."""
    own = provider.own_listing()
    if own is None or not settings.token:
        return None
    viewer_url, listing_url = own
    try:
        login = provider.viewer_login(await client.get(viewer_url, quiet_404=True))  # bounded in size and nesting
    except (ForgeError, ValueError):
        return None
    if login is not None and login.lower() == settings.owner.lower():
        return listing_url
    return None

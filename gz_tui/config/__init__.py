"""Settings for one run, and the single seam that resolves them.

- :mod:`~gz_tui.config.settings`: the :class:`Settings` dataclass, each field a user sets declared once with
  its default, its check, where the config file may hold it and its option (``RULES`` is read from them), and
  the checks across settings (:func:`validate`);
- :mod:`~gz_tui.config.values`: the kinds of value those checks read, and how argparse takes each;
- :mod:`~gz_tui.config.options`: the command line's options generated from the declarations, and the parser
  whose usage errors are one line;
- :mod:`~gz_tui.config.schema`: the TOML file: where it is, reading and checking it;
- :mod:`~gz_tui.config.resolve`: precedence flags > environment > file > defaults, for one owner
  (:func:`resolve_with_sources`), the owners of a command line (:func:`resolve_owners`) or the
  ``[targets.NAME]`` of the file (:func:`resolve_targets`);
- :mod:`~gz_tui.config.tokens`: the token, from a flag, the environment, ``gh auth token`` or the file;
- :mod:`~gz_tui.config.command`: ``gz-tui config init|show [NAME...]|path`` (not imported here: the command
  line attaches it; its config writer loads only for ``config init``).
"""

from gz_tui.config.resolve import (
    NoTargets,
    Resolved,
    check_distinct,
    resolve,
    resolve_owners,
    resolve_targets,
    resolve_with_sources,
    target_names,
)
from gz_tui.config.schema import (
    APP_NAME,
    CONFIG_ENV_VAR,
    ConfigFile,
    config_path,
    load_config,
)
from gz_tui.config.settings import (
    DEFAULT_BASE_URLS,
    PROTOCOLS,
    PROVIDERS,
    RULES,
    SETTING_NAMES,
    UPDATE_MODES,
    ConfigError,
    Settings,
    validate,
)
from gz_tui.config.tokens import token_from_environment, token_from_gh

__all__ = [
    "APP_NAME",
    "CONFIG_ENV_VAR",
    "DEFAULT_BASE_URLS",
    "PROTOCOLS",
    "PROVIDERS",
    "RULES",
    "SETTING_NAMES",
    "UPDATE_MODES",
    "ConfigError",
    "ConfigFile",
    "NoTargets",
    "Resolved",
    "Settings",
    "check_distinct",
    "config_path",
    "load_config",
    "resolve",
    "resolve_owners",
    "resolve_targets",
    "resolve_with_sources",
    "target_names",
    "token_from_environment",
    "token_from_gh",
    "validate",
]

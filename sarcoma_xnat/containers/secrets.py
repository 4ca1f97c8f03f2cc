"""Command secrets, resolved as the Container Service (3.3+) resolves them.

A command's ``secrets`` block names where a value comes from (``source``) and where
the container gets it (``destination``). XNAT knows one source type,
``system-property`` (``NrgXnat/container-service:src/main/java/org/nrg/containers/secrets/SystemPropertySecretSource.java``:
``System.getProperty(identifier)``, i.e. a ``-Dname=value`` of XNAT's JVM), and one
destination type, ``environment-variable``
(``secrets/EnvironmentVariableSecretDestination.java``). A property that is not set
gives no value, and ``secrets/ResolvedSecret.java`` (``WithValue``) then fails
command resolution ("Did not obtain value for secret ..."; wrapped by
``services/impl/CommandResolutionServiceImpl.java`` ``resolveSecrets`` as "Could not
resolve secret ..."). The value goes into the container's environment only at
launch (``secrets/ContainerPropertiesWithSecretValues.java``, used by
``api/DockerControlApi.java``); the container record keeps the declaration, never the
value (``ResolvedSecret`` serialises as ``Secret``; ``model/container/auto/Container.java``
``env`` holds the ordinary environment only).

The local runner has no JVM: its "system properties" are the runner's own
configuration, ``--secret NAME=FILE`` (a file holding the value) and, for the site
secret only, ``--secret-file FILE`` or the runner's own ``$SARCOMA_XNAT_SITE_SECRET``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["SITE_SECRET_PROPERTY", "describe_secret", "runner_properties", "secret_param_hint",
           "secret_values"]

#: the JVM system property that holds the deid site secret on an XNAT
SITE_SECRET_PROPERTY = "sarcoma.xnat.site-secret"
_SITE_SECRET_ENV = "SARCOMA_XNAT_SITE_SECRET"


def describe_secret(secret: Mapping[str, Any]) -> str:
    """Return a secret's declaration as ``Secret.toString`` writes it (never a value)."""
    source, dest = secret.get("source") or {}, secret.get("destination") or {}
    what = {"system-property": "SystemProperty"}.get(str(source.get("type")), str(source.get("type")))
    where = {"environment-variable": "EnvironmentVariable"}.get(str(dest.get("type")),
                                                                  str(dest.get("type")))
    return (f'Secret{{source={what}{{"{source.get("identifier")}"}}, '
            f'destination={where}{{name="{dest.get("identifier")}"}}}}')


def secret_values(secrets: Iterable[Mapping[str, Any]], properties: Mapping[str, str]
                  ) -> dict[str, str]:
    """Return ``{environment variable: value}`` for a command's secrets from ``properties``.

    Raises
    ------
    ConfigurationError
        For a source or destination type XNAT cannot resolve, or a system property
        that is not set (XNAT fails command resolution then). Names only, never a value.
    """
    env: dict[str, str] = {}
    for secret in secrets:
        source, dest = secret.get("source") or {}, secret.get("destination") or {}
        if source.get("type") != "system-property" or dest.get("type") != "environment-variable":
            raise ConfigurationError(f"Could not find resolver for secret {describe_secret(secret)}")
        value = properties.get(str(source.get("identifier")))
        if value is None:
            name = source.get("identifier")
            raise ConfigurationError(
                f"Could not resolve secret {describe_secret(secret)}: system property {name} is "
                f"not set (on XNAT: start its JVM with -D{name}=...; with sarcoma-xnat run: "
                f"--secret {name}=FILE)")
        env[str(dest.get("identifier"))] = value
    return env


def _read(path: str, what: str) -> str:
    try:
        value = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the file for {what} {path}: "
                                 f"{exc.strerror or exc}") from None
    if not value:
        raise ConfigurationError(f"the file for {what} {path} is empty")
    return value


def runner_properties(pairs: Iterable[str] = (), secret_file: str | None = None,
                      environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the local runner's system properties from ``--secret NAME=FILE`` and fallbacks.

    ``pairs`` are ``NAME=FILE`` (the file holds the value). Unless a pair names it,
    :data:`SITE_SECRET_PROPERTY` comes from ``secret_file``, else from the runner's
    own ``$SARCOMA_XNAT_SITE_SECRET``.
    """
    environ = os.environ if environ is None else environ
    props: dict[str, str] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigurationError(f"--secret expects NAME=FILE (a file holding the value), "
                                     f"got {name.strip() or pair!r}")
        props[name.strip()] = _read(path.strip(), f"secret {name.strip()}")
    if SITE_SECRET_PROPERTY not in props:
        if secret_file:
            props[SITE_SECRET_PROPERTY] = _read(secret_file, "--secret-file")
        elif environ.get(_SITE_SECRET_ENV, "").strip():
            props[SITE_SECRET_PROPERTY] = environ[_SITE_SECRET_ENV].strip()
    return props


def secret_param_hint(secrets: Iterable[Mapping[str, Any]], name: str) -> str | None:
    """Say how a secret is given when a launch parameter ``name`` tries to pass one."""
    key = name.lower().replace("-", "_").replace(".", "_")
    for secret in secrets:
        source, dest = secret.get("source") or {}, secret.get("destination") or {}
        prop, env = str(source.get("identifier")), str(dest.get("identifier")).lower()
        if "secret" in key and (env.endswith(key) or prop.replace(".", "_").replace("-", "_")
                                .endswith(key)):
            local = f"--secret {prop}=FILE" + (f", --secret-file FILE or ${_SITE_SECRET_ENV}"
                                               if prop == SITE_SECRET_PROPERTY else "")
            return (f"{name!r} is no longer a parameter: the secret reaches the container as "
                    f"${dest.get('identifier')} from the system property {prop} (on XNAT: "
                    f"-D{prop}=... in XNAT's JVM options, Container Service 3.3+; with "
                    f"sarcoma-xnat run: {local})")
    return None

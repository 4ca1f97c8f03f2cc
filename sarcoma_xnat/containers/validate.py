"""Check a command the way the Container Service does before it accepts one.

:func:`command_errors` returns every problem at once, in the order XNAT's
``Command.validate()`` reports them (name and tagged image, type, ulimits, mounts,
inputs, outputs, wrappers, wrapper inputs, output handlers, unhandled outputs).
With ``strict=True`` (the default) it also refuses what XNAT would silently accept
but is surely a mistake: unknown keys (typos) and strings where JSON booleans belong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sarcoma_xnat.containers.command import Command, load_command
from sarcoma_xnat.errors import CommandValidationError

__all__ = ["COMMAND_TYPES", "WRAPPER_INPUT_TYPES", "check_command", "command_errors"]

COMMAND_TYPES = ("docker", "docker-setup", "docker-wrapup")
INPUT_TYPES = ("string", "boolean", "number", "select-one", "select-many", "file")
WRAPPER_INPUT_TYPES = ("string", "boolean", "number", "Directory", "File", "File[]", "file",
                       "Project", "ProjectAsset", "Subject", "SubjectAssessor", "Session", "Scan",
                       "Assessor", "Resource", "Config")
MOUNTABLE_TYPES = ("Project", "ProjectAsset", "SubjectAssessor", "Session", "Scan", "Assessor",
                   "Resource", "File")
HANDLER_TYPES = ("Resource", "Assessor", "Scan")
DELIMITERS = ("quoted-space", "space", "comma", "flag")
VISIBILITIES = ("public", "private", "protected")
RESERVED_ENV = ("XNAT_USER", "XNAT_PASS", "XNAT_HOST")
#: secret source and destination types the Container Service can deserialise
#: (container-service ``secrets/SecretSource.java``, ``secrets/SecretDestination.java``)
SECRET_SOURCES = ("system-property",)
SECRET_DESTINATIONS = ("environment-variable",)

_HAS_TAG = re.compile(r"^.+:[a-zA-Z0-9_.-]+$")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

_KNOWN_KEYS = {
    "command": {"name", "label", "description", "version", "schema-version", "info-url", "image",
                "container-name", "type", "index", "hash", "working-directory", "command-line",
                "command-metadata", "override-entrypoint", "mounts", "environment-variables",
                "ports", "inputs", "outputs", "xnat", "reserve-memory", "limit-memory",
                "limit-cpu", "runtime", "ipc-mode", "network", "gpus", "auto-remove", "shm-size",
                "container-labels", "generic-resources", "ulimits", "secrets", "visibility", "id"},
    "mount": {"name", "writable", "path", "id"},
    "input": {"name", "label", "description", "type", "required", "matcher", "default-value",
              "replacement-key", "command-line-flag", "command-line-separator", "true-value",
              "false-value", "sensitive", "select-values", "multiple-delimiter", "id"},
    "output": {"name", "description", "required", "mount", "path", "glob", "id"},
    "wrapper": {"name", "label", "description", "contexts", "external-inputs", "derived-inputs",
                "output-handlers", "id"},
    "wrapper-input": {"name", "label", "description", "type", "matcher", "default-value",
                      "required", "replacement-key", "sensitive", "user-settable",
                      "load-children", "provides-value-for-command-input",
                      "provides-files-for-command-mount", "via-setup-command",
                      "derived-from-wrapper-input", "derived-from-xnat-object-property",
                      "multiple", "parser", "select-values", "id"},
    "handler": {"name", "accepts-command-output", "as-a-child-of", "as-a-child-of-wrapper-input",
                "type", "xsi-type", "via-wrapup-command", "label", "format", "description",
                "content", "tags", "id"},
}
_BOOLEAN_KEYS = {"writable", "required", "override-entrypoint", "sensitive", "user-settable",
                 "load-children", "multiple", "auto-remove"}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _strict(errors: list[str], where: str, kind: str, obj: Mapping[str, Any]) -> None:
    for key in sorted(set(obj) - _KNOWN_KEYS[kind]):
        errors.append(f"{where}unknown key \"{key}\" (XNAT ignores it; a typo?)")
    for key in sorted(_BOOLEAN_KEYS & set(obj)):
        if not isinstance(obj[key], bool):
            errors.append(f"{where}\"{key}\" must be a JSON boolean, not {obj[key]!r}")


def _unique(errors: list[str], where: str, what: str, names: list[Any]) -> None:
    seen: set[Any] = set()
    for name in names:
        if name in seen:
            errors.append(f"{where}{what} name \"{name}\" is not unique.")
        seen.add(name)


def _check_name(errors: list[str], where: str, what: str, name: Any) -> None:
    if _blank(name):
        errors.append(f"{where}{what} name cannot be blank.")
    elif not _NAME.match(str(name)):
        errors.append(f"{where}{what} name \"{name}\" may contain only letters, digits, '_' and '-'.")


def _check_input(errors: list[str], where: str, inp: Mapping[str, Any]) -> None:
    name = inp.get("name")
    _check_name(errors, where, "input", name)
    itype = inp.get("type", "string")
    if itype not in INPUT_TYPES:
        errors.append(f"{where}input \"{name}\" has unknown type \"{itype}\"; known: {', '.join(INPUT_TYPES)}.")
    delim = inp.get("multiple-delimiter")
    if delim is not None and delim not in DELIMITERS:
        errors.append(f"{where}input \"{name}\" has unknown multiple-delimiter \"{delim}\"; "
                      f"known: {', '.join(DELIMITERS)}.")
    values = inp.get("select-values") or []
    is_select = str(itype).startswith("select-")
    if is_select and not values:
        errors.append(f"{where}input \"{name}\" is a select type but has no select-values.")
    if values and not is_select:
        errors.append(f"{where}input \"{name}\" has select-values but is not a select type.")
    default = inp.get("default-value")
    if is_select and values and not _blank(default) and str(default) not in map(str, values) \
            and not (itype == "select-many" and str(default).startswith("[")):
        errors.append(f"{where}input \"{name}\" default value \"{default}\" is not one of its "
                      f"select-values {values}.")


def _check_wrapper(errors: list[str], where: str, wrapper: Mapping[str, Any],
                   inputs: dict[str, Mapping[str, Any]], outputs: set[str], strict: bool) -> None:
    wname = wrapper.get("name")
    if _blank(wname):
        errors.append(f"{where}wrapper name cannot be blank.")
    w = f"{where}wrapper \"{wname}\" - "
    known: dict[str, Mapping[str, Any]] = {}
    multiple: set[str] = set()
    for kind in ("external", "derived"):
        for wi in wrapper.get(f"{kind}-inputs", []):
            if strict:
                _strict(errors, w, "wrapper-input", wi)
            name = wi.get("name")
            _check_name(errors, w, f"{kind} input", name)
            wtype = wi.get("type")
            if wtype not in WRAPPER_INPUT_TYPES:
                errors.append(f"{w}{kind} input \"{name}\" has unknown type \"{wtype}\"; "
                              f"known: {', '.join(WRAPPER_INPUT_TYPES)}.")
            if wi.get("via-setup-command") and not wi.get("provides-files-for-command-mount"):
                errors.append(f"{w}{kind} input \"{name}\" uses a setup command but provides files "
                              f"for no mount.")
            if wi.get("provides-files-for-command-mount") and wtype not in MOUNTABLE_TYPES:
                errors.append(f"{w}{kind} input \"{name}\" of type \"{wtype}\" cannot provide files "
                              f"for a mount; mountable: {', '.join(MOUNTABLE_TYPES)}.")
            if name in known:
                errors.append(f"{w}{kind} input name \"{name}\" is not unique.")
            provides = inputs.get(wi.get("provides-value-for-command-input", ""))
            if provides is not None and (str(provides.get("type", "")).startswith("select-")
                                         or provides.get("select-values")):
                errors.append(f"{w}{kind} input \"{name}\" provides values for command input "
                              f"\"{provides.get('name')}\", which is a select type.")
            if kind == "derived":
                parent = wi.get("derived-from-wrapper-input")
                if _blank(parent):
                    errors.append(f"{w}derived input \"{name}\" needs \"derived-from-wrapper-input\".")
                elif parent == name:
                    errors.append(f"{w}derived input \"{name}\" is derived from itself.")
                elif parent not in known:
                    errors.append(f"{w}derived input \"{name}\" is derived from an unknown XNAT input "
                                  f"\"{parent}\". Known inputs: {', '.join(known)}")
                if wi.get("multiple"):
                    multiple.add(str(name))
                    if wi.get("provides-files-for-command-mount"):
                        errors.append(f"{w}derived input \"{name}\" allows multiple values and "
                                      f"cannot provide files for a mount.")
                    if not wi.get("provides-value-for-command-input"):
                        errors.append(f"{w}derived input \"{name}\" allows multiple values and must "
                                      f"provide a value for a command input.")
            known.setdefault(name, wi)
    handlers: list[str] = []
    handled: set[str] = set()
    for h in wrapper.get("output-handlers", []):
        if strict:
            _strict(errors, w, "handler", h)
        hname = h.get("name")
        _check_name(errors, w, "output handler", hname)
        accepted = h.get("accepts-command-output")
        if accepted not in outputs:
            errors.append(f"{w}output handler refers to unknown command output \"{accepted}\". "
                          f"Known outputs: {', '.join(sorted(outputs))}.")
        else:
            handled.add(accepted)
        target = h.get("as-a-child-of", h.get("as-a-child-of-wrapper-input"))
        if target not in known and target not in handlers:
            errors.append(f"{w}output handler does not refer to a known wrapper input or output. "
                          f"\"as-a-child-of\": \"{target}\".")
        if target in multiple:
            errors.append(f"{w}output handler \"{hname}\" has \"as-a-child-of\": \"{target}\", but "
                          f"that input is set to allow multiple values.")
        prop = known.get(target, {}).get("derived-from-xnat-object-property")
        if prop is not None and prop != "uri":
            errors.append(f"{w}output handler \"{hname}\" has \"as-a-child-of\": \"{target}\", but "
                          f"that input's value is \"{prop}\" (a \"uri\" is required for upload).")
        htype = h.get("type", "Resource")
        if htype not in HANDLER_TYPES:
            errors.append(f"{w}output handler \"{hname}\" has unknown type \"{htype}\"; "
                          f"known: {', '.join(HANDLER_TYPES)}.")
        if htype == "Resource" and _blank(h.get("label")):
            errors.append(f"{w}output handler \"{hname}\" of type Resource must have a label.")
        if hname in handlers:
            errors.append(f"{w}output handler name \"{hname}\" is not unique.")
        handlers.append(hname)
    for missing in sorted(outputs - handled):
        errors.append(f"{w}command output \"{missing}\" is not handled by any output handler.")


def command_errors(command: Command | Mapping[str, Any], strict: bool = True) -> list[str]:
    """Return every reason XNAT (or, with ``strict``, common sense) would refuse ``command``."""
    data = command.data if isinstance(command, Command) else command
    errors: list[str] = []
    if _blank(data.get("name")):
        errors.append("Command name cannot be blank.")
    c = f"Command \"{data.get('name')}\" - "
    image = data.get("image")
    if _blank(image):
        errors.append(f"{c}image name cannot be blank.")
    elif not _HAS_TAG.match(str(image)):
        errors.append(f"{c}image name must include version tag. e.g. image_name:tag")
    ctype = data.get("type", "docker")
    if ctype not in COMMAND_TYPES:
        errors.append(f"{c}Cannot validate command of type \"{ctype}\". Known types: {', '.join(COMMAND_TYPES)}")
    visibility = data.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        errors.append(f"{c}visibility \"{visibility}\" is not one of {', '.join(VISIBILITIES)}.")
    if strict:
        _strict(errors, c, "command", data)
    if ctype in ("docker-setup", "docker-wrapup"):
        for key in ("mounts", "inputs", "outputs", "xnat", "environment-variables", "ports", "secrets"):
            if data.get(key):
                errors.append(f"{c}{ctype} commands cannot declare any {key}.")
        return errors
    for ulimit in (data.get("ulimits") or {}).values():
        if not ulimit or str(ulimit).count(":") > 1:
            errors.append(f"{c}incorrect ulimit format: {ulimit}. Should be \"softlimit:hardlimit\" or \"limit\"")
    env = data.get("environment-variables") or {}
    for secret in data.get("secrets") or []:
        # CS >= 3.3 secrets/Secret.java: {"source": {"type", "identifier"}, "destination": {...}};
        # Jackson knows one source type (SystemPropertySecretSource "system-property") and one
        # destination type (EnvironmentVariableSecretDestination "environment-variable")
        source = secret.get("source") if isinstance(secret, dict) else None
        dest = secret.get("destination") if isinstance(secret, dict) else None
        if not isinstance(source, dict) or source.get("type") not in SECRET_SOURCES \
                or _blank(source.get("identifier")):
            errors.append(f"{c}secret source must be {{\"type\": one of {', '.join(SECRET_SOURCES)}, "
                          "\"identifier\": ...}.")
        if not isinstance(dest, dict) or dest.get("type") not in SECRET_DESTINATIONS \
                or _blank(dest.get("identifier")):
            errors.append(f"{c}secret destination must be {{\"type\": one of "
                          f"{', '.join(SECRET_DESTINATIONS)}, \"identifier\": ...}}.")
        env_name = dest.get("identifier") if isinstance(dest, dict) else None
        if env_name in RESERVED_ENV or env_name in env:
            errors.append(f"{c}secret environment variable \"{env_name}\" is reserved or already used.")
    mounts = data.get("mounts", [])
    for m in mounts:
        if strict:
            _strict(errors, c, "mount", m)
        if _blank(m.get("name")):
            errors.append(f"{c}mount name cannot be blank.")
        if _blank(m.get("path")):
            errors.append(f"{c}mount \"{m.get('name')}\" path cannot be blank.")
    _unique(errors, c, "mount", [m.get("name") for m in mounts])
    inputs = data.get("inputs", [])
    for inp in inputs:
        if strict:
            _strict(errors, c, "input", inp)
        _check_input(errors, c, inp)
    _unique(errors, c, "input", [i.get("name") for i in inputs])
    mount_names = {m.get("name") for m in mounts}
    outputs = data.get("outputs", [])
    for out in outputs:
        if strict:
            _strict(errors, c, "output", out)
        name = out.get("name")
        _check_name(errors, c, "output", name)
        if _blank(out.get("mount")):
            errors.append(f"{c}output \"{name}\" mount cannot be blank.")
        elif out.get("mount") not in mount_names:
            errors.append(f"{c}output \"{name}\" references unknown mount \"{out.get('mount')}\". "
                          f"Known mounts: {', '.join(sorted(map(str, mount_names)))}")
    _unique(errors, c, "output", [o.get("name") for o in outputs])
    wrappers = data.get("xnat", [])
    by_name = {i.get("name"): i for i in inputs}
    output_names = {o.get("name") for o in outputs}
    for wrapper in wrappers:
        if strict:
            _strict(errors, c, "wrapper", wrapper)
        _check_wrapper(errors, c, wrapper, by_name, output_names, strict)
    _unique(errors, c, "wrapper", [w.get("name") for w in wrappers])
    return errors


def check_command(command: Command | Mapping[str, Any] | str, strict: bool = True) -> Command:
    """Return the command if valid, else raise :class:`CommandValidationError` listing all errors."""
    cmd = command if isinstance(command, Command) else load_command(command)
    errors = command_errors(cmd, strict=strict)
    if errors:
        raise CommandValidationError(f"invalid command {cmd.name or '<unnamed>'!r} "
                                     f"({len(errors)} problem{'s' * (len(errors) > 1)})",
                                     errors=errors, file=cmd.source)
    return cmd

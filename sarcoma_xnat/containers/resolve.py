"""Resolve a command wrapper against an archive object, as the Container Service does.

Resolution turns (command, wrapper, the object clicked, launch parameters) into
everything a launch needs: the values of external and derived wrapper inputs
(matchers over the objects' JSON), command input values, replacement keys
substituted, the mounts with the object that feeds each, and the output handlers.

It follows ``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``
and the model in ``model/command/auto/Command.java``:

* a wrapper input's ``required`` defaults to **true** (``required == null || required``);
  a command input's to false;
* a value: the default, replaced by a launch value (even ``""``), replaced for a
  command input by the value of the wrapper input that provides it;
* a derived object below its parent is the child whose ``uri``, ``id``, ``label`` or
  ``directory`` equals the launch (or default) value, if any, and that matches the
  matcher; one derived *upwards* (Session from Scan, Project from Session...) is the
  ancestor, matcher and value ignored; a derived ``string`` takes the parent's
  ``derived-from-xnat-object-property``; derived ``number``/``boolean`` get no value;
  several matches without ``multiple`` fail only a required input;
* a boolean command input is true only for ``true`` (``Boolean.parseBoolean``) and
  becomes ``true-value``/``false-value`` when set, else stays as given; that value
  goes everywhere, the command line adds ``command-line-flag`` + separator;
* the command line gets command-input keys only; environment variables (names and
  values), mount paths, output paths, handler label/format/description/content and
  the working directory get every input's key (wrapper inputs: their URI or value);
* the command's ``secrets`` are carried as declarations (values are obtained only at
  launch, :mod:`sarcoma_xnat.containers.secrets`), and an input whose value names a
  secret's destination is refused (``ensureInputsDoNotUseSecrets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.containers.command import Command
from sarcoma_xnat.containers.matchers import matches
from sarcoma_xnat.containers.objects import XnatObject, children_of, parent_of, resolve_uri
from sarcoma_xnat.containers.secrets import secret_param_hint
from sarcoma_xnat.errors import ConfigurationError

__all__ = ["ResolvedCommand", "ResolvedMount", "ResolvedOutput", "context_matches", "resolve"]

_OBJECT_TYPES = ("Project", "Subject", "Session", "Scan", "Assessor", "Resource")
_LEVEL = {"Project": 0, "Subject": 1, "Session": 2, "Scan": 3, "Assessor": 3, "Resource": 4}
_HANDLER_TEMPLATES = ("label", "format", "description", "content")


@dataclass(frozen=True)
class ResolvedMount:
    """A command mount: its container path and, for an input mount, the object that feeds it."""

    name: str
    path: str
    writable: bool
    source: XnatObject | None


@dataclass(frozen=True)
class ResolvedOutput:
    """One output handler with the output it stores and where it hangs in the archive."""

    handler: dict[str, Any]
    name: str
    mount: str
    path: str
    glob: str | None
    required: bool
    parent: str


@dataclass
class ResolvedCommand:
    """Everything needed to launch a command and store what it produces."""

    command: Command
    wrapper: dict[str, Any]
    image: str
    command_line: str
    override_entrypoint: bool
    environment: dict[str, str]
    mounts: list[ResolvedMount]
    outputs: list[ResolvedOutput]
    wrapper_values: dict[str, Any] = field(default_factory=dict)
    input_values: dict[str, str | None] = field(default_factory=dict)
    working_directory: str | None = None
    #: the command's ``secrets`` declarations (source and destination, never a value)
    secrets: list[dict[str, Any]] = field(default_factory=list)


def context_matches(xsi_type: str, contexts: list[str]) -> bool:
    """Return whether an object's xsiType is one of the wrapper contexts (or a subtype of one)."""
    for context in contexts:
        if xsi_type == context:
            return True
        if context in ("xnat:imageSessionData", "xnat:subjectAssessorData") \
                and xsi_type.endswith("SessionData"):
            return True
        if context == "xnat:imageScanData" and xsi_type.endswith("ScanData"):
            return True
        if context == "xnat:imageAssessorData" and not xsi_type.endswith(
                ("SessionData", "ScanData", "subjectData", "projectData")):
            return True
    return False


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, XnatObject):
        return value.uri
    if isinstance(value, list):
        return " ".join(t for t in (_as_text(v) for v in value) if t)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _substitute(text: str | None, keys: Mapping[str, str]) -> str:
    out = text or ""
    for key in sorted(keys, key=len, reverse=True):
        out = out.replace(key, keys[key])
    return out


class _Resolver:
    def __init__(self, command: Command, wrapper: dict[str, Any], archive: Archive,
                 params: Mapping[str, str]) -> None:
        self.command, self.wrapper, self.archive = command, wrapper, archive
        self.params = dict(params)
        self.values: dict[str, Any] = {}
        self.where = f"wrapper {wrapper.get('name')!r}"

    def _raw_keys(self) -> dict[str, str]:
        keys = {}
        for wi in self.wrapper.get("external-inputs", []) + self.wrapper.get("derived-inputs", []):
            if wi["name"] in self.values:
                keys[wi.get("replacement-key") or f"#{wi['name']}#"] = _as_text(self.values[wi["name"]]) or ""
        return keys

    @staticmethod
    def required(wi: dict[str, Any]) -> bool:
        """Return whether a wrapper input is required (Command.java: absent means true)."""
        return wi.get("required") is None or bool(wi.get("required"))

    def _check_object(self, wi: dict[str, Any], obj: XnatObject) -> bool:
        matcher = wi.get("matcher")
        return not matcher or matches(_substitute(matcher, self._raw_keys()), obj.data)

    def external(self, wi: dict[str, Any]) -> None:
        name, wtype = wi["name"], wi.get("type", "string")
        raw = self.params.pop(name) if name in self.params else wi.get("default-value")
        if raw is None or (wtype in _OBJECT_TYPES and not str(raw).strip()):
            if self.required(wi):
                raise ConfigurationError(f"{self.where}: external input {name!r} needs a value")
            self.values[name] = None
            return
        if wtype not in _OBJECT_TYPES:
            self.values[name] = str(raw)
            return
        obj = resolve_uri(self.archive, str(raw), wtype)
        if obj.type != wtype:
            raise ConfigurationError(f"{self.where}: external input {name!r} expects a {wtype}, "
                                     f"got a {obj.type} ({obj.uri})")
        contexts = self.wrapper.get("contexts") or []
        if contexts and not context_matches(obj.data.get("xsiType", ""), contexts):
            raise ConfigurationError(f"{self.where} runs on {contexts}; {obj.uri} is a "
                                     f"{obj.data.get('xsiType')}")
        if not self._check_object(wi, obj):
            raise ConfigurationError(f"{self.where}: {obj.uri} does not match external input "
                                     f"{name!r}: {wi.get('matcher')}")
        self.values[name] = obj

    def _pick(self, wi: dict[str, Any], found: list[XnatObject], wanted: str | None
              ) -> list[XnatObject]:
        """Keep the children a launch/default value names (by uri, id, label or directory)."""
        if not wanted:
            return found
        for prop in ("uri", "id", "label", "directory"):
            picked = [c for c in found if str(c.data.get(prop)) == wanted]
            if picked:
                return picked
        return []

    def derived(self, wi: dict[str, Any]) -> None:
        name, wtype = wi["name"], wi.get("type", "string")
        parent = self.values.get(wi["derived-from-wrapper-input"])
        wanted = self.params.pop(name) if name in self.params else wi.get("default-value")
        if wanted is not None and (wtype not in _OBJECT_TYPES or (
                isinstance(parent, XnatObject) and _LEVEL[wtype] < _LEVEL[parent.type])):
            raise ConfigurationError(f"{self.where}: derived input {name!r} takes its value from "
                                     f"{wi['derived-from-wrapper-input']!r}; XNAT ignores a "
                                     f"value given for it")
        value: Any
        if not isinstance(parent, XnatObject) or wtype in ("number", "boolean"):
            value = None  # CommandResolutionServiceImpl: derived number/boolean are a TODO
        elif wtype not in _OBJECT_TYPES:
            prop = wi.get("derived-from-xnat-object-property")
            if not prop:
                raise ConfigurationError(f"{self.where}: derived input {name!r} of type {wtype} "
                                         f"needs derived-from-xnat-object-property")
            value = parent.data.get(prop)
        elif _LEVEL[wtype] < _LEVEL[parent.type] or parent.type == "Resource":
            value = parent_of(self.archive, parent, wtype)  # matcher not applied upwards
        else:
            found = self._pick(wi, [c for c in children_of(self.archive, parent, wtype)
                                    if self._check_object(wi, c)], wanted)
            if wi.get("multiple"):
                value = found or None
            elif len(found) > 1 and not self.required(wi):
                value = None  # "does not have a unique, resolved value": fatal only if required
            elif len(found) > 1:
                raise ConfigurationError(
                    f"{self.where}: derived input {name!r} matches {len(found)} {wtype}s of "
                    f"{parent.uri} ({', '.join(c.uri.rsplit('/', 1)[-1] for c in found)}); "
                    f"make its matcher select one or pass {name}=URI")
            else:
                value = found[0] if found else None
        if value is None and self.required(wi):
            raise ConfigurationError(f"{self.where}: found no value for derived input {name!r} "
                                     f"({wtype} of {getattr(parent, 'uri', parent)}"
                                     f"{', matcher ' + wi['matcher'] if wi.get('matcher') else ''})")
        self.values[name] = value


def _boolean(inp: dict[str, Any], value: str | None) -> str | None:
    """Return a boolean input's value as XNAT resolves it: ``true-value``/``false-value`` if set."""
    if value is None or inp.get("type") != "boolean":
        return value
    key = "true-value" if value.strip().lower() == "true" else "false-value"
    return str(inp[key]) if inp.get(key) is not None else value


def _render(inp: dict[str, Any], value: str | None) -> str:
    """Return the command-line form of a resolved input value: flag + separator + value."""
    if value is None or not value.strip():
        return ""
    flag = inp.get("command-line-flag")
    if not flag:
        return value
    sep = inp.get("command-line-separator", " ")
    if inp.get("multiple-delimiter") == "flag" and " " in value:
        return " ".join(f"{flag}{sep}{v}" for v in value.split())
    return f"{flag}{sep}{value}"


def _check_value(command: Command, inp: dict[str, Any], value: str) -> None:
    itype = inp.get("type", "string")
    if itype == "number":
        try:
            float(value)
        except ValueError:
            raise ConfigurationError(f"command {command.name!r}: input {inp['name']!r} must be a "
                                     f"number, got {value!r}") from None
    if itype == "boolean" and value.strip().lower() not in ("true", "false"):
        raise ConfigurationError(f"command {command.name!r}: input {inp['name']!r} must be true "
                                 f"or false, got {value!r} (XNAT reads anything but 'true' as false)")
    if itype == "select-one" and value not in map(str, inp.get("select-values", [])):
        raise ConfigurationError(f"command {command.name!r}: input {inp['name']!r} must be one of "
                                 f"{inp.get('select-values')}, got {value!r}")


def resolve(command: Command, archive: Archive, target: str | None = None,
            wrapper: str | None = None, params: Mapping[str, str] | None = None) -> ResolvedCommand:
    """Resolve ``wrapper`` of ``command`` on the object with URI ``target``.

    ``params`` maps input names (wrapper or command inputs) to launch values, as in
    the body of a Container Service launch request; ``target`` fills the wrapper's
    one external input (its root element), as a click on "Run container" does.
    """
    w = command.wrapper(wrapper)
    params = dict(params or {})
    externals = w.get("external-inputs", [])
    if target is not None:
        if len(externals) != 1:
            raise ConfigurationError(f"wrapper {w.get('name')!r} has {len(externals)} external "
                                     f"inputs; pass them as parameters instead of a target")
        params.setdefault(externals[0]["name"], target)
    r = _Resolver(command, w, archive, params)
    for wi in externals:
        r.external(wi)
    for wi in w.get("derived-inputs", []):
        r.derived(wi)
    provided = {wi["provides-value-for-command-input"]: r.values.get(wi["name"])
                for wi in externals + w.get("derived-inputs", [])
                if wi.get("provides-value-for-command-input")}
    raw_keys, line_keys = r._raw_keys(), {}
    input_values: dict[str, str | None] = {}
    for inp in command.inputs:
        name = inp["name"]
        value = None if inp.get("default-value") is None else str(inp["default-value"])
        if name in r.params:  # a launch value, even "", replaces the default
            value = r.params.pop(name)
        if provided.get(name) is not None:  # a wrapper input's value wins over both
            value = _as_text(provided[name])
        if (value is None or not value.strip()) and inp.get("required"):
            raise ConfigurationError(f"command {command.name!r}: required input {name!r} has no value")
        if value is not None and value.strip():
            _check_value(command, inp, value)
        value = _boolean(inp, value)
        input_values[name] = value
        key = inp.get("replacement-key") or f"#{name}#"
        raw_keys[key] = value or ""
        line_keys[key] = _render(inp, value)
    secrets = [dict(s) for s in command.data.get("secrets") or []]
    if r.params:
        hints = [h for h in (secret_param_hint(secrets, n) for n in sorted(r.params)) if h]
        raise ConfigurationError("; ".join(hints) if hints else
                                 f"command {command.name!r}: unknown parameters {sorted(r.params)}")
    for name, value in input_values.items():  # CommandResolutionServiceImpl.ensureInputsDoNotUseSecrets
        for secret in secrets:
            dest = str((secret.get("destination") or {}).get("identifier"))
            if value and dest in value:
                raise ConfigurationError(f"Input \"{name}\" resolved value refers to secret "
                                         f"destination \"{dest}\"")
    mounts_fed = {wi["provides-files-for-command-mount"]: r.values.get(wi["name"])
                  for wi in externals + w.get("derived-inputs", [])
                  if wi.get("provides-files-for-command-mount")}
    mounts = []
    for m in command.data.get("mounts", []):
        source = mounts_fed.get(m["name"])
        if m["name"] in mounts_fed and not isinstance(source, XnatObject):
            raise ConfigurationError(f"wrapper {w.get('name')!r}: nothing resolved for mount {m['name']!r}")
        mounts.append(ResolvedMount(m["name"], _substitute(m["path"], raw_keys),
                                    bool(m.get("writable")), source))
    outputs = []
    for h in w.get("output-handlers", []):
        out = command.outputs[h["accepts-command-output"]]
        handler = {k: _substitute(v, raw_keys) if k in _HANDLER_TEMPLATES and isinstance(v, str)
                   else v for k, v in h.items()}
        outputs.append(ResolvedOutput(
            handler, out["name"], out["mount"], _substitute(out.get("path"), raw_keys),
            out.get("glob") or None, bool(out.get("required")),
            h.get("as-a-child-of") or h.get("as-a-child-of-wrapper-input")))
    env = {_substitute(k, raw_keys): _substitute(v, raw_keys)
           for k, v in (command.data.get("environment-variables") or {}).items()}
    return ResolvedCommand(
        command=command, wrapper=w, image=command.image,
        command_line=_substitute(command.data.get("command-line"), line_keys).strip(),
        override_entrypoint=bool(command.data.get("override-entrypoint")),
        environment=env, mounts=mounts, outputs=outputs, wrapper_values=dict(r.values),
        input_values=input_values, secrets=secrets,
        working_directory=_substitute(command.data.get("working-directory"), raw_keys) or None)

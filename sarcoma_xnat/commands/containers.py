"""``sarcoma-xnat images|run|command|engine``: build images, run commands as XNAT does."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``images build``, ``run``, ``command validate|label`` and ``engine start|stop|status``."""
    images = subparsers.add_parser("images", help="build the step images")
    isub = images.add_subparsers(dest="images_command", metavar="ACTION", required=True)
    build = isub.add_parser("build", help="build images with the Docker API (Docker or Podman)")
    build.add_argument("names", nargs="*", help="images to build (default: all); bases they "
                                                "need are built first")
    base = build.add_mutually_exclusive_group()
    base.add_argument("--base-image", help="image for the light base's BASE_IMAGE "
                                           "(default: the Dockerfile's official slim Python)")
    base.add_argument("--debian-base", action="store_true",
                      help="make the base offline with debootstrap from this machine's apt mirror")
    build.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    build.add_argument("--root", help="checkout with containers/ and xnat-commands/")
    build.set_defaults(_run=_images_build)
    push = isub.add_parser("push", help="tag the built step images for a registry and push them")
    push.add_argument("names", nargs="*", help="images to push (default: the step images, "
                                               "not the bases)")
    push.add_argument("--registry", required=True,
                      help="registry host[:port][/path], e.g. the ECR registry "
                           "<account>.dkr.ecr.<region>.amazonaws.com (no scheme)")
    push.add_argument("--tag", help="tag to push (default: the suite's version, as built)")
    push.add_argument("--username", help="registry user (default: the Docker client's login)")
    push.add_argument("--password-stdin", action="store_true",
                      help="read the registry password from stdin (e.g. aws ecr get-login-password)")
    push.set_defaults(_run=_images_push)

    run = subparsers.add_parser("run", help="run a command on an archive object, as XNAT's "
                                            "Container Service does")
    what = run.add_mutually_exclusive_group(required=True)
    what.add_argument("--command", dest="command_file",
                      help="command JSON file, or a step name in xnat-commands/")
    what.add_argument("--image", help="read the command from this image's org.nrg.commands label")
    run.add_argument("--command-name", help="which command of the image label (if several)")
    run.add_argument("--wrapper", help="wrapper name (default: the only one)")
    run.add_argument("--archive", required=True, help="local archive folder (must exist)")
    run.add_argument("--target", help="URI of the object to run on, e.g. "
                                      "/archive/projects/P/subjects/S/experiments/E")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="launch parameter for a wrapper or command input (repeatable)")
    run.add_argument("--engine", choices=("auto", "docker", "inprocess"), default="auto",
                     help="auto: images through the Docker API when available, else in-process")
    run.add_argument("--container-user", metavar="UID[:GID]",
                     help="user the container runs as, like the Container Service's docker "
                          "server setting container-user (default: your uid:gid; '' for the "
                          "image's USER); output folders are writable by their owner only")
    run.add_argument("--secret", action="append", default=[], metavar="NAME=FILE",
                     help="system property for the command's secrets, read from FILE (as "
                          "XNAT's -DNAME=...), e.g. sarcoma.xnat.site-secret=/etc/sarcoma/site.key; "
                          "repeatable; the value reaches the container's environment only")
    run.add_argument("--secret-file", help="file holding the site secret (system property "
                                           "sarcoma.xnat.site-secret) when no --secret names it; "
                                           "else $SARCOMA_XNAT_SITE_SECRET")
    run.set_defaults(_run=_run)

    command = subparsers.add_parser("command", help="check and label Container Service commands")
    csub = command.add_subparsers(dest="command_action", metavar="ACTION", required=True)
    validate = csub.add_parser("validate", help="check commands the way XNAT does (all errors)")
    validate.add_argument("files", nargs="*", help="command JSON files (default: xnat-commands/*)")
    validate.add_argument("--lenient", action="store_true",
                          help="only XNAT's own rules (no unknown-key and boolean-type checks)")
    validate.set_defaults(_run=_validate)
    label = csub.add_parser("label", help="print the org.nrg.commands label for command files")
    label.add_argument("files", nargs="+", help="command JSON files to turn into an org.nrg.commands label")
    label.set_defaults(_run=_label)

    engine = subparsers.add_parser("engine", help="a private Podman Docker-API service")
    engine.add_argument("action", choices=("start", "stop", "status"), help="start, stop or show the private Podman Docker-API service")
    engine.add_argument("--state-dir", help="socket and config folder "
                                            "(default $SARCOMA_XNAT_ENGINE_DIR or /tmp/...)")
    engine.set_defaults(_run=_engine)


def _images_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sarcoma_xnat.containers.baseimage import build_debian_base
    from sarcoma_xnat.containers.command import project_root
    from sarcoma_xnat.containers.engines import DockerEngine
    from sarcoma_xnat.containers.images import build_images, image_tag
    from sarcoma_xnat.containers.runner import open_engine

    root = Path(args.root) if args.root else project_root()
    with open_engine("docker") as engine:
        assert isinstance(engine, DockerEngine)
        base = args.base_image
        if args.debian_base:
            base = build_debian_base(engine, image_tag("debian-python", "bookworm"))
        built = build_images(engine, root, args.names or None, base, nocache=args.no_cache)
    print(f"{'image':<36} {'size':>9} {'build':>7}")
    for image in built:
        print(f"{image.tag:<36} {image.size / 1e6:>6.0f} MB {image.seconds:>5.0f} s")
    return 0


def _images_push(args: argparse.Namespace) -> int:
    from sarcoma_xnat import __version__
    from sarcoma_xnat.containers.engines import DockerEngine
    from sarcoma_xnat.containers.push import push_images
    from sarcoma_xnat.containers.runner import open_engine
    from sarcoma_xnat.errors import ConfigurationError

    auth = None
    if args.password_stdin:
        if not args.username:
            raise ConfigurationError("--password-stdin needs --username")
        auth = {"username": args.username, "password": sys.stdin.readline().rstrip("\n")}
    with open_engine("docker") as engine:
        assert isinstance(engine, DockerEngine)
        pushed = push_images(engine, args.registry, args.names or None, args.tag or __version__, auth)
    for image in pushed:
        print(f"{image.remote}  {image.digest or ''}".rstrip())
    return 0


def _params(pairs: list[str]) -> dict[str, str]:
    from sarcoma_xnat.errors import ConfigurationError

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"--param expects NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def _run(args: argparse.Namespace) -> int:
    from sarcoma_xnat.archive.local import LocalArchive
    from sarcoma_xnat.containers.command import find_command_file, load_command
    from sarcoma_xnat.containers.engines import DockerEngine
    from sarcoma_xnat.containers.label import LABEL_KEY, commands_from_label
    from sarcoma_xnat.containers.runner import open_engine, run_command
    from sarcoma_xnat.containers.secrets import runner_properties
    from sarcoma_xnat.containers.validate import check_command
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.paths import check_archive

    archive = LocalArchive(check_archive(args.archive, "--archive"))
    params = _params(args.param)
    properties = runner_properties(args.secret, args.secret_file)
    image = args.image
    command = None if image else check_command(load_command(find_command_file(args.command_file)))
    with open_engine("docker" if image else args.engine, image or (command and command.image),
                     sink=print) as engine:
        if image:
            assert isinstance(engine, DockerEngine)
            found = commands_from_label(engine.image_labels(image).get(LABEL_KEY), image)
            chosen = [c for c in found if args.command_name in (None, c.name)]
            if len(chosen) != 1:
                raise ConfigurationError(f"image {image} has commands {[c.name for c in found]}; "
                                         f"choose one with --command-name")
            command = check_command(chosen[0])
        assert command is not None
        result = run_command(command, archive, args.target, args.wrapper, params, engine,
                             sink=lambda line: print(line, flush=True), user=args.container_user,
                             properties=properties)
    print(f"done ({result.engine}): stored {len(result.stored)} output(s)")
    for item in result.stored:  # where the outputs are now, not the build folder the step saw
        if item.label is None:
            continue
        folder = archive.resource_path(item.ref, item.label)
        print(f"  {item.ref.uri} resource {item.label}: {folder}")
        if (folder / "qc.png").is_file():
            print(f"QC picture: {folder / 'qc.png'}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sarcoma_xnat.containers.command import commands_dir, load_command
    from sarcoma_xnat.containers.validate import command_errors
    from sarcoma_xnat.errors import ConfigurationError

    files = args.files or sorted(str(p) for p in commands_dir().glob("*.json"))
    bad = 0
    for path in files:
        try:
            errors = command_errors(load_command(path), strict=not args.lenient)
        except ConfigurationError as exc:
            errors = [str(exc)]
        if errors:
            bad += 1
            print(f"{path}: {len(errors)} problem(s)")
            for error in errors:
                print(f"  - {error}")
        else:
            print(f"{path}: ok")
    return 2 if bad else 0


def _label(args: argparse.Namespace) -> int:
    from sarcoma_xnat.containers.command import load_command
    from sarcoma_xnat.containers.label import command_label
    from sarcoma_xnat.containers.validate import check_command

    print(command_label([check_command(load_command(f)) for f in args.files]))
    return 0


def _engine(args: argparse.Namespace) -> int:
    from sarcoma_xnat.containers.podman import PodmanService

    service = PodmanService(args.state_dir)
    if args.action == "start":
        print(f"export DOCKER_HOST={service.start()}")
    elif args.action == "stop":
        service.stop()
        print("stopped")
    else:
        running = service.running()
        print(f"running: DOCKER_HOST={service.url}" if running else "not running")
        return 0 if running else 1
    sys.stdout.flush()
    return 0

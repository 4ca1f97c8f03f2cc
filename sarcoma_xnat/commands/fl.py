"""``sarcoma-xnat fl simulate|poc|provision|client|server|submit|status|export``: federated training with NVIDIA FLARE."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def _site(text: str) -> tuple[str, str, str]:
    try:
        name, rest = text.split("=", 1)
        archive, project = rest.rsplit(":", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=ARCHIVE:PROJECT, got {text!r}") from None
    return name, archive, project


def _admin_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kit", type=Path, required=True, help="an admin startup kit folder (e.g. lead@...)")
    p.add_argument("--user", help="admin user name (default: the kit folder's name)")


def _job_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", type=_site, action="append", default=[], metavar="NAME=ARCHIVE:PROJECT",
                   help="a client site and its data (repeat); ARCHIVE is a folder or 'xnat'")
    p.add_argument("--server-data", required=False, metavar="ARCHIVE:PROJECT",
                   help="the server's validation data for the gate")
    _test_arg(p)
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="instead of --site/--server-data: make synthetic sites of N subjects each")
    p.add_argument("--output", "--workspace", dest="workspace", type=Path, required=True,
                   help="run folder: new, empty or a previous run folder, outside the sites' data")
    _training_args(p)


def _test_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--test-data", metavar="ARCHIVE:PROJECT",
                   help="a held-out project no site trained on and the gate never saw: the "
                        "model card's test metrics and plots (without it they come from the "
                        "server's validation data, labelled optimistic)")


def _data(text: str | None, name: str):
    """Return a :class:`SiteConfig` for ``ARCHIVE:PROJECT`` (a local archive made absolute), or None."""
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.fl.site import SiteConfig

    if not text:
        return None
    if ":" not in text:
        raise ConfigurationError(f"expected ARCHIVE:PROJECT, got {text!r}")
    archive, project = text.rsplit(":", 1)
    return SiteConfig(name, archive if archive == "xnat" else str(Path(archive).resolve()), project)


def _training_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, default=3, help="federated rounds")
    p.add_argument("--mode", choices=("multimodal", "clinical", "image"), default="multimodal", help="which inputs the network uses")
    p.add_argument("--preset", choices=("tiny", "small", "densenet121"), default="tiny", help="image network size (densenet121 wants a GPU)")
    p.add_argument("--image-size", type=int, default=32, help="voxels per axis of the tumour crop")
    p.add_argument("--clinical-hidden", type=int, default=32,
                   help="hidden width of the clinical MLP (0: linear clinical branch)")
    p.add_argument("--local-epochs", type=int, default=2, help="epochs each site trains per round")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate at the sites")
    p.add_argument("--merge-weight", type=float, default=0.5, help="weight of an accepted update")
    p.add_argument("--max-drop", type=float, default=0.02,
                   help="smallest drop of the server's validation C-index the gate may reject "
                        "(with --gate-confidence 0: the largest tolerated drop)")
    p.add_argument("--gate-confidence", type=float, default=0.95, metavar="P",
                   help="the gate rejects an update only if a paired bootstrap of the validation "
                        "subjects shows it worse with this one-sided confidence (0: fixed "
                        "tolerance --max-drop alone)")
    p.add_argument("--gate-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples of the validation subjects for the gate")
    p.add_argument("--missing", choices=("impute", "complete-case"), default="impute",
                   help="missing clinical values, as model train: each site imputes from its own "
                        "subjects (the fill values stay at the site) or skips the session")
    p.add_argument("--min-responses", type=int, default=0, metavar="N",
                   help="a round goes on with N site results; the others are left out of the round "
                        "(0: every site)")
    p.add_argument("--round-timeout", type=float, default=0.0, metavar="SECONDS",
                   help="how long a round waits for the sites' results (0: no limit)")
    p.add_argument("--initial-model", type=Path, metavar="MODEL",
                   help="start from this global model (a single-network model.pt or an NVFlare "
                        "FL_global_model.pt) instead of random weights")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue a job of the same name and network after a server restart from "
                        "the server's last round checkpoint (--no-resume: start at round 0)")
    p.add_argument("--fedbn", action=argparse.BooleanOptionalAction, default=True,
                   help="keep batch-norm statistics at the sites (FedBN; --no-fedbn sends them, "
                        "and they reveal each site's cohort means)")
    p.add_argument("--blend", action="store_true",
                   help="train with gradient blending at the sites (off by default)")
    p.add_argument("--dp-clip", type=float, default=0.0,
                   help="differential privacy: an NVFlare task-result filter at each site clips "
                        "the site's update to this L2 norm (0: off)")
    p.add_argument("--dp-noise", type=float, default=0.0,
                   help="std of the Gaussian noise the DP filter adds, in units of --dp-clip "
                        "(needs --dp-clip; no privacy accounting)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fl`` subcommand."""
    p = subparsers.add_parser("fl", help="federated training with NVIDIA FLARE (needs [fl])")
    sub = p.add_subparsers(dest="fl_command", metavar="ACTION", required=True)
    s = sub.add_parser("simulate", help="run the job in NVFlare's simulator (one process)")
    _job_args(s)
    s.set_defaults(_run=run_simulate)
    q = sub.add_parser("poc", help="run the job in POC mode: server + clients as processes")
    _job_args(q)
    q.set_defaults(_run=run_poc)
    v = sub.add_parser("provision", help="write startup kits for a real deployment")
    v.add_argument("--project-file", type=Path, help="NVFlare project.yml (see --sample)")
    v.add_argument("--sample", type=Path, metavar="FILE", help="write a sample project.yml for the study")
    v.add_argument("--server", default="fl.example.org", help="server FQDN for --sample")
    v.add_argument("--port", type=int, default=8002, help="the server's single port for --sample")
    v.add_argument("--sites", nargs="+", default=["site-1", "site-2", "site-3"], help="site (client) names")
    v.add_argument("--output", "--workspace", dest="workspace", type=Path, default=Path("nvflare-kits"),
                   help="folder for the startup kits")
    v.set_defaults(_run=run_provision)
    c = sub.add_parser("client", help="start this site's NVFlare client from its startup kit",
                       description="Write the site's data location into the kit and start the "
                                   "kit's NVFlare client (foreground). XNAT credentials come from "
                                   "XNAT_HOST/XNAT_USER/XNAT_PASS or ~/.netrc.")
    c.add_argument("--kit", type=Path, required=True, help="the site's startup kit folder")
    c.add_argument("--site", required=True, help="site name the kit was provisioned for")
    c.add_argument("--project", required=True, help="the site's curated XNAT project")
    c.add_argument("--archive", default="xnat", help="'xnat' (default) or a local archive folder")
    c.add_argument("--resource", default="PREPROCESSED", help="preprocess resource label")
    c.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where this site trains: auto (a CUDA GPU if torch sees one, else the CPU), "
                        "cpu, or cuda (refused without a GPU)")
    c.add_argument("--check", action="store_true",
                   help="run NVFlare's preflight checks and the suite's (XNAT login, the curated "
                        "project, disk, device), say what is wrong, start nothing")
    c.add_argument("--min-free-gb", type=float, default=2.0, metavar="GIB",
                   help="free disk space --check asks for in the kit and temp folders")
    c.add_argument("--dry-run", action="store_true", help="check and write the config; start nothing")
    c.add_argument("--private-copy", action="store_true",
                   help="copy a read-only kit (the FL_KIT mount of the fl-client Container Service "
                        "command) into a new private folder (0700, files 0600) and run from there")
    c.set_defaults(_run=run_client)
    r = sub.add_parser("server", help="start the NVFlare server from its startup kit",
                       description="Start the kit's NVFlare server (foreground). The validation "
                                   "gate reads the server's curated data from --archive/--project "
                                   "or from <kit>/local/sarcoma_xnat_site.json.")
    r.add_argument("--kit", type=Path, required=True, help="the server's startup kit folder")
    r.add_argument("--archive", help="local archive folder (or 'xnat') of the validation data")
    r.add_argument("--project", help="project of the validation data")
    r.add_argument("--resource", default="PREPROCESSED", help="preprocess resource label")
    r.add_argument("--dry-run", action="store_true", help="check and write the config; start nothing")
    r.set_defaults(_run=run_server)
    u = sub.add_parser("submit", help="submit the gated job to a provisioned server with an admin kit",
                       description="Export the job for these settings and submit it through "
                                   "NVFlare's FLARE API with the admin startup kit (mutual TLS).")
    _admin_args(u)
    u.add_argument("--clients", type=int, required=True, metavar="N",
                   help="number of client sites the job is for")
    _training_args(u)
    u.set_defaults(_run=run_submit)
    t = sub.add_parser("status", help="jobs, connected sites and the gate's decisions so far")
    _admin_args(t)
    t.add_argument("--job", help="job id (from fl submit)")
    t.set_defaults(_run=run_status)
    e = sub.add_parser("export", help="wait for a job and turn its global model into model.pt",
                       description="Download the job's result with the admin kit and write the "
                                   "suite's model.pt; baselines are fitted on the server's data.")
    _admin_args(e)
    e.add_argument("--job", required=True, help="job id (from fl submit)")
    e.add_argument("--server-data", required=True, metavar="ARCHIVE:PROJECT",
                   help="the coordinating centre's curated data (folder or 'xnat') for the baselines")
    _test_arg(e)
    e.add_argument("--output", type=Path, default=Path("model.pt"), help="where to write model.pt")
    e.add_argument("--timeout", type=float, default=0.0, help="seconds to wait for the job (0: no limit)")
    e.set_defaults(_run=run_export)


def _settings(args: argparse.Namespace):
    from sarcoma_xnat.fl.job import FLSettings

    return FLSettings(num_rounds=args.rounds, mode=args.mode, preset=args.preset,
                      clinical_hidden=args.clinical_hidden,
                      image_size=args.image_size, local_epochs=args.local_epochs, lr=args.lr,
                      merge_weight=args.merge_weight, max_drop=args.max_drop, fedbn=args.fedbn,
                      blend=args.blend, dp_clip=args.dp_clip, dp_noise=args.dp_noise,
                      min_responses=args.min_responses, round_timeout=args.round_timeout,
                      initial_model=str(args.initial_model.resolve()) if args.initial_model else "",
                      resume=args.resume, gate_confidence=args.gate_confidence,
                      gate_boot=args.gate_boot, missing=args.missing)


def _check_workspace(args: argparse.Namespace, kind: str) -> None:
    """Refuse a workspace that overlaps a site's data or holds someone else's files; mark it."""
    from sarcoma_xnat.paths import check_output_folder, is_own_folder, mark_own_folder

    inputs = {f"--site {name}": archive for name, archive, _ in args.site if archive != "xnat"}
    if getattr(args, "server_data", None) and ":" in args.server_data:
        archive = args.server_data.rsplit(":", 1)[0]
        inputs["--server-data"] = None if archive == "xnat" else archive
    if getattr(args, "test_data", None) and ":" in args.test_data:
        archive = args.test_data.rsplit(":", 1)[0]
        inputs["--test-data"] = None if archive == "xnat" else archive
    workspace = check_output_folder(
        args.workspace, "--workspace", inputs,
        own=lambda f: is_own_folder(f) or (f / "site-config.json").is_file())
    mark_own_folder(workspace, kind)
    args.workspace = workspace  # absolute: NVFlare's processes run in other folders


def _sites(args: argparse.Namespace, n_default: int):
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.fl.site import SiteConfig

    if args.synthetic:
        from sarcoma_xnat.fl.synthetic_sites import make_synthetic_sites

        return make_synthetic_sites(args.workspace / "archives", n_default, args.synthetic,
                                    preprocess=getattr(args, "mode", None) != "clinical")
    if not args.site or not args.server_data:
        raise ConfigurationError("give --site (one per client) and --server-data, or --synthetic N")
    archive, project = args.server_data.rsplit(":", 1)
    return ([SiteConfig(n, a, p) for n, a, p in args.site], SiteConfig("server", archive, project))


def _report(result) -> None:
    print(f"{'round':>5}  {'site':<8} {'verdict':<9} {'val C':>7}  reason")
    for rec in result.gate_log:
        for d in rec["decisions"]:
            score = f"{d['score']:.3f}" if d["score"] is not None else "   -  "
            print(f"{rec['round']:>5}  {d['site']:<8} {'accepted' if d['accepted'] else 'REJECTED':<9} "
                  f"{score:>7}  {d['reason']}")
        after = rec["merged_score"] if rec["merged"] else rec["baseline"]
        print(f"{rec['round']:>5}  global   C-index {rec['baseline']:.3f} -> {after:.3f} "
              f"(merged: {rec['merged']})")
    print(f"global model: {result.model_file}")
    if result.checkpoint is not None:
        print(f"model for 'sarcoma-xnat prognosis --model': {result.checkpoint}")


def run_simulate(args: argparse.Namespace) -> int:
    """Run the job in the simulator and print the gate's decisions."""
    from sarcoma_xnat.fl.runner import simulate

    settings = _settings(args)  # checked before any synthetic site is made
    _check_workspace(args, "fl-workspace")
    sites, server = _sites(args, 2)
    _report(simulate(settings, sites, server, args.workspace, _data(args.test_data, "test")))
    return 0


def run_poc(args: argparse.Namespace) -> int:
    """Run the job in POC mode (server + one process per client on loopback)."""
    import time

    from sarcoma_xnat.fl.runner import run_poc as poc

    settings = _settings(args)  # checked before any synthetic site is made
    _check_workspace(args, "fl-workspace")
    sites, server = _sites(args, 3)
    started = time.time()
    result = poc(settings, sites, server, args.workspace, test=_data(args.test_data, "test"))
    _report(result)
    print(f"POC run: {len(sites)} client processes + server, {time.time() - started:.0f} s")
    return 0


def run_provision(args: argparse.Namespace) -> int:
    """Write a sample project file, or provision startup kits from one."""
    from sarcoma_xnat.fl.provision import provision, write_sample_project

    if args.sample:
        write_sample_project(args.sample, args.server, args.sites, port=args.port)
        print(f"wrote {args.sample}; edit it, then: sarcoma-xnat fl provision --project-file {args.sample}")
        if not args.project_file:
            return 0
    if not args.project_file:
        from sarcoma_xnat.errors import ConfigurationError

        raise ConfigurationError("give --project-file (or --sample FILE to write one)")
    from sarcoma_xnat.paths import check_output_folder, is_own_folder, mark_own_folder

    workspace = check_output_folder(args.workspace, "--workspace", own=lambda f: is_own_folder(f)
                                    or any(f.glob("*/prod_*")))
    mark_own_folder(workspace, "fl-kits")
    kits = provision(args.project_file, args.workspace)
    for kit in kits:
        print(f"startup kit: {kit}")
    return 0


def _launch(launch, dry_run: bool) -> int:
    print(f"{launch.name}: data location {launch.site_file or '(from the environment)'}")
    print(f"start: {' '.join(launch.command)}")
    if dry_run:
        return 0
    launch.exec()
    return 0  # pragma: no cover - exec does not return


def run_client(args: argparse.Namespace) -> int:
    """Start a site's NVFlare client from its provisioned startup kit."""
    from sarcoma_xnat.fl.deploy import prepare_client

    if args.private_copy:
        from sarcoma_xnat.fl.kit_copy import private_copy

        args.kit = private_copy(args.kit)
        print(f"kit copied to {args.kit} (private to this user)")

    if args.check:
        from sarcoma_xnat.fl.preflight import client_checks, format_checks

        checks = client_checks(args.kit, args.site, args.project, args.archive, args.resource,
                               args.device, args.min_free_gb)
        print(format_checks(checks))
        return 0 if all(c.ok for c in checks) else 1
    return _launch(prepare_client(args.kit, args.site, args.project, args.archive, args.resource,
                                  device=args.device), args.dry_run)


def run_server(args: argparse.Namespace) -> int:
    """Start the NVFlare server from its provisioned startup kit."""
    from sarcoma_xnat.fl.deploy import prepare_server

    return _launch(prepare_server(args.kit, args.archive, args.project, args.resource), args.dry_run)


def run_submit(args: argparse.Namespace) -> int:
    """Submit the gated job to a provisioned server with an admin kit."""
    from sarcoma_xnat.fl.admin import submit_job

    settings = _settings(args)
    settings.num_clients = args.clients
    job_id = submit_job(args.kit, settings, args.user)
    print(f"submitted job {job_id}; follow it with: sarcoma-xnat fl status --kit {args.kit} --job {job_id}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print the jobs, the connected sites and the job's gate decisions (finished or running)."""
    import time

    from sarcoma_xnat.fl.admin import job_status

    info = job_status(args.kit, args.job, args.user)
    for job in info["jobs"]:
        print(f"job {job['job_id']}  {job['name']}  {job['status']}  submitted {job['submit_time']}")
    for site in info["sites"]:
        seen = site["last_contact"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seen)) if seen else "unknown"
        print(f"site {site['name']}: last contact {when}")
    if "job" in info:
        at = info["job"].get("current_round")
        print(f"job {info['job']['job_id']}: {info['job']['status']}"
              + (f" (round {at})" if at is not None else ""))
    for rec in info.get("gate", []):
        for d in rec["decisions"]:
            print(f"round {rec['round']}: {d['site']} {'accepted' if d['accepted'] else 'REJECTED'}: "
                  f"{d['reason']}")
        print(f"round {rec['round']}: merged {rec['merged']}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Wait for a job, download its result and write ``model.pt``."""
    from sarcoma_xnat.fl.admin import export_job
    from sarcoma_xnat.fl.site import SiteConfig

    archive, project = args.server_data.rsplit(":", 1)
    archive = archive if archive == "xnat" else str(Path(archive).resolve())
    out = export_job(args.kit, args.job, SiteConfig("server", archive, project), args.output,
                     args.user, args.timeout, _data(args.test_data, "test"))
    print(f"model for 'sarcoma-xnat prognosis --model': {out}")
    return 0

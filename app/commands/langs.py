"""`psft langs`: every registered language with its runtime version, or why it is unavailable;
`--install` installs the missing runtimes from Debian packages."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys


def add_parser(sub):
    p = sub.add_parser("langs", help="list languages, their runtimes and versions (or why unavailable)",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object {lang: {...}}")
    p.add_argument("--install", action="store_true",
                   help="install missing runtimes with apt-get (needs root or sudo)")
    p.add_argument("--only", default=None, help="comma-separated languages (default: all)")
    p.add_argument("--also", default="", help="with --install: comma-separated Debian packages to install too "
                                              "when missing (e.g. chromium, for the explorer's browser test)")
    return p


def run(args) -> int:
    from app.cli import CliError
    from evals.languages import LANGUAGES, get_language
    try:
        langs = [get_language(x) for x in args.only.split(",")] if args.only else list(LANGUAGES.values())
    except ValueError as e:
        raise CliError(str(e)) from e
    if args.install:
        _install(langs, [p.strip() for p in args.also.split(",") if p.strip()])
    info = {}
    for lang in langs:
        missing = lang.missing()
        info[lang.name] = {
            "available": not missing, "version": lang.runtime_version,
            "reason": f"not installed: {', '.join(missing)} (Debian: {' '.join(lang.debian)})" if missing else "",
            "debian": list(lang.debian), "compiled": lang.compiled, "runner": lang.mode,
            "run": " ".join(lang.run), "build": " ".join(lang.build) if lang.build else "",
        }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(n) for n in info)
    for name, d in info.items():
        state = d["version"] if d["available"] else f"UNAVAILABLE: {d['reason']}"
        print(f"{name:<{width}}  {'compiled' if d['compiled'] else 'interp.':<8}  {d['runner']:<6}  {state}")
    return 0


SANDBOX_PACKAGES = ("bubblewrap",)


def _dpkg_missing(pkgs) -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    out = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            out.append(p)
    return out


def _install(langs, also=()) -> None:
    """apt-get install what is missing: a language's runtime package when its command is not found,
    its support packages (test libraries), the sandbox's and the `also` packages when dpkg does not
    list them."""
    from evals.execution.sandbox import bwrap_path
    pkgs = {lang.debian[0] for lang in langs if lang.missing()}
    pkgs |= set(_dpkg_missing({p for lang in langs for p in lang.debian[1:]} | set(also)))
    if not bwrap_path():
        pkgs |= set(SANDBOX_PACKAGES)
    pkgs = sorted(pkgs)
    if not pkgs:
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None or not shutil.which("apt-get"):
        print(f"psft langs: cannot install {' '.join(pkgs)} here (needs apt-get as root); "
              "those languages stay unavailable", file=sys.stderr)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"installing Debian packages: {' '.join(pkgs)}", file=sys.stderr)
    subprocess.run(prefix + ["apt-get", "update", "-qq"], env=env, check=False)
    r = subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *pkgs],
                       env=env, check=False)
    if r.returncode != 0:
        print(f"psft langs: apt-get failed for {' '.join(pkgs)}: those languages stay unavailable",
              file=sys.stderr)
    for lang in langs:
        lang.__dict__.pop("runtime_version", None)  # re-probe the version after installing

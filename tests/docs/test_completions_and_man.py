"""completions/ and man/ are generated from the command tree (`nox -s docs`): the committed
files must be current, and each one must work in its real shell / in groff."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sigma import docs_gen

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docs_gen.generate()


@pytest.fixture(scope="module")
def out(generated, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("docs")
    for rel, text in generated.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return d


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return path


def test_committed_completions_and_man_pages_are_current(generated):
    committed = {
        f"{sub}/{p.name}": p.read_text()
        for sub in ("completions", "man")
        for p in sorted((ROOT / sub).glob("*"))
    }
    stale = sorted(
        rel
        for rel in generated.keys() | committed.keys()
        if generated.get(rel) != committed.get(rel)
    )
    assert not stale, (
        f"completions/ and man/ are stale ({', '.join(stale)}): the command tree changed. "
        "Run `nox -s docs` and commit completions/ and man/."
    )


def test_every_group_has_a_page_and_every_command_is_in_it(generated):
    root = docs_gen.tree()
    groups = [c for c in root.children if c.is_group]
    assert {f"man/sigma-{g.path[-1]}.1" for g in groups} | {"man/sigma.1"} == {
        k for k in generated if k.startswith("man/")
    }
    for g in groups:
        page = generated[f"man/sigma-{g.path[-1]}.1"]
        for node in docs_gen.walk(g):
            if not node.is_group:
                assert node.name.replace("-", "\\-") in page, node.name
        assert "sigma\\-" + g.path[-1].replace("-", "\\-") in generated["man/sigma.1"], g.name
    assert "deploy node\\-exporter" in generated["man/sigma-deploy.1"]


def test_man_pages_render_without_warnings(out):
    groff = tool("groff")
    for page in sorted((out / "man").glob("*.1")):
        r = subprocess.run([groff, "-man", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), f"{page.name}: {r.stderr}"
    text = subprocess.run(
        [groff, "-man", "-Tutf8", str(out / "man" / "sigma.1")],
        capture_output=True,
        text=True,
        env={**os.environ, "GROFF_NO_SGR": "1"},
    ).stdout
    text = re.sub(".\x08", "", text)  # overstrike bold
    assert "EXIT STATUS" in text and "SIGMA_DATABASE_URL" in text


BASH_DRIVER = r"""
source "$1"
comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _sigma; echo "${COMPREPLY[*]}"; }
comp sigma v
comp sigma vps li
comp sigma vps list --format ""
comp sigma --server http://x vps ""
comp sigma deploy node-exporter --known-hosts "$2/ma"
comp sigma deploy node-exporter --dr
complete -p sigma
comp sigma vps list --status ""
comp sigma ticket list --priority ""
comp sigma import vps "$2/ma"
comp sigma vps ""
"""  # noqa: E501 (the comp() line is one shell line)


def test_bash_completion(out):
    bash = tool("bash")
    r = subprocess.run(
        [bash, "-c", BASH_DRIVER, "driver", str(out / "completions/sigma.bash"), str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "vps"
    assert lines[1] == "list"
    assert lines[2] == "table json yaml csv"
    assert (
        "add" in lines[3].split()
        and "retire" in lines[3].split()
        and "create" not in lines[3].split()
    )
    assert lines[4] == f"{out}/man"  # a path option completes file names
    assert lines[5] == "--dry-run"
    assert lines[6] == "complete -F _sigma sigma"
    # enum values come from the vocabulary; a FILE argument completes file names
    assert lines[7] == "provisioning active retiring retired suspended"
    assert lines[8] == "low medium high critical"
    assert lines[9] == f"{out}/man"
    assert "list" in lines[10].split()  # a group still offers its commands, not files


ZSH_DRIVER = r"""
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
_describe() { print -l -- "${(@P)4}" }
_files() { print FILES }
_message() { print MESSAGE }
comp() { words=("$@"); CURRENT=$#; source "$FILE"; print -- ---; }
comp sigma vps li
comp sigma vps list --format ''
comp sigma deploy node-exporter --binary ''
comp sigma deploy node-exporter --dr
comp sigma vps list --status ''
comp sigma import vps ''
"""


def test_zsh_completion(out):
    zsh = tool("zsh")
    path = out / "completions/_sigma"
    assert path.read_text().startswith("#compdef sigma\n")
    r = subprocess.run([zsh, "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [zsh, "-f", "-c", ZSH_DRIVER],
        capture_output=True,
        text=True,
        env={**os.environ, "FILE": str(path)},
    )
    assert r.returncode == 0, r.stderr
    blocks = [b.strip().splitlines() for b in r.stdout.split("---")[:-1]]
    assert "list:List VPS, by status, then expiry date, then hostname" in blocks[0]
    assert blocks[1] == ["table", "json", "yaml", "csv"]
    assert blocks[2] == ["FILES"]
    assert any(line.startswith("--dry-run:") for line in blocks[3])
    assert blocks[4] == ["provisioning", "active", "retiring", "retired", "suspended"]
    assert blocks[5] == ["FILES"]


def test_fish_completion(out):
    fish = tool("fish")
    path = out / "completions/sigma.fish"
    r = subprocess.run([fish, "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    script = (
        f"source {path}; complete -C 'sigma vps l'; "
        "echo ---; complete -C 'sigma vps list --format '; "
        "echo ---; complete -C 'sigma --server x v'; "
        "echo ---; complete -C 'sigma deploy node-exporter --dr'; "
        "echo ---; complete -C 'sigma ticket list --status '; "
        f"echo ---; complete -C 'sigma import vps {out}/ma'"
    )
    r = subprocess.run([fish, "--no-config", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    blocks = [[ln.split("\t")[0] for ln in b.strip().splitlines()] for b in r.stdout.split("---")]
    assert blocks[0] == ["list"]
    assert blocks[1] == ["csv", "json", "table", "yaml"]
    assert blocks[2] == ["vps"]
    assert blocks[3] == ["--dry-run"]
    assert blocks[4] == ["closed", "in-progress", "open", "resolved"]
    assert blocks[5] == [f"{out}/man/"]

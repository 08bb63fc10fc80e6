"""Shell completion (bash, zsh, fish) and manual pages generated from the click command tree.

    python -m sigma.docs_gen [--out DIR]      (what `nox -s docs` runs; DIR defaults to .)

writes DIR/completions/{sigma.bash,_sigma,sigma.fish} and DIR/man/sigma.1 plus one
DIR/man/sigma-GROUP.1 per command group. The files are committed; a test regenerates them
into a temporary directory and fails when the committed ones are stale.

The completions are static (no Python start per TAB): sub-commands with their one-line
help, options, choices, and file names for options that take a path.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

GENERATED = (
    "generated from the command tree by `nox -s docs` (python -m sigma.docs_gen); do not edit"
)


def known_values() -> dict[str, list[str]]:
    """Values of options that are plain strings (the services validate them) but come from a
    known list: by option ("--format") or by command group and option ("vps --status")."""
    from sigma.schemas.identity import USER_ROLES
    from sigma.schemas.tickets import TICKET_PRIORITIES, TICKET_STATUSES
    from sigma.vocab import CHECK_TYPES, IP_LABELS, VERDICTS, VPS_PURPOSES, VPS_STATUSES

    return {
        "--format": ["table", "json", "yaml", "csv"],
        "--log-level": ["debug", "info", "warning", "error"],
        "vps --status": list(VPS_STATUSES),
        "vps --purpose": [p for p in VPS_PURPOSES if p],
        "vps --ip-label": list(IP_LABELS),
        "ticket --status": list(TICKET_STATUSES),
        "ticket --priority": list(TICKET_PRIORITIES),
        "ticket -p": list(TICKET_PRIORITIES),
        "user --role": list(USER_ROLES),
        "ip-check --check-type": list(CHECK_TYPES),
        "ip-check --type": list(CHECK_TYPES),
        "ip-check --verdict": list(VERDICTS),
        "ip-check --success": ["true", "false"],
        "agent --kind": ["agent-offline", "agent-online", "reachability"],
        "deploy --filter": [
            "status=",
            "country=",
            "provider=",
            "purpose=",
            "tag=",
            "search=",
            "ip=",
            "expiring-within=",
        ],
    }


PATH_WORDS = ("PATH", "FILE", "DIR", "DIRECTORY")
SKIP_OPTIONS = {"--install-completion", "--show-completion"}  # typer's dynamic installers
EXIT_CODES = [
    ("0", "success"),
    ("1", "unexpected error; or, for commands over several items, at least one of them failed"),
    ("2", "invalid input (the message names the field)"),
    ("3", "not found"),
    ("4", "conflict"),
    ("5", "server or database unreachable, or rate limited"),
    ("6", "not authenticated, or not permitted"),
]


# ------------------------------------------------------------------ the tree


@dataclass
class Opt:
    names: list[str]  # e.g. ["-f", "--format"]
    help: str
    takes_value: bool
    metavar: str
    choices: list[str]
    is_path: bool
    default: str


@dataclass
class Node:
    path: list[str]  # ["sigma", "vps", "add"]
    help: str
    short: str
    options: list[Opt]
    arguments: list[tuple[str, bool]]  # (METAVAR, required)
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return bool(self.children)

    @property
    def takes_files(self) -> bool:
        """A command whose argument is a file (`import vps FILE`): complete file names."""
        return any(any(w in metavar for w in PATH_WORDS) for metavar, _ in self.arguments)


def _clean(text: str | None) -> str:
    text = inspect.cleandoc(text or "")
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b").strip()


def _short(cmd: click.Command, help_text: str) -> str:
    if cmd.short_help:
        return cmd.short_help.strip()
    first = help_text.split("\n\n")[0].replace("\n", " ").strip()
    return first.rstrip(".") if first.count(". ") == 0 else first.split(". ")[0]


def _option(param: click.Option, path: list[str]) -> Opt | None:
    if param.hidden or set(param.opts) & SKIP_OPTIONS:
        return None
    names = sorted(param.opts, key=lambda n: (n.startswith("--"), n)) + list(param.secondary_opts)
    takes_value = not param.is_flag and not param.count
    choices = list(param.type.choices) if isinstance(param.type, click.Choice) else []
    if not choices:
        known = known_values()
        group = path[1] if len(path) > 1 else ""
        for n in param.opts:
            choices = known.get(f"{group} {n}") or known.get(n) or choices
    metavar = param.metavar or ("" if not takes_value else param.type.name.upper())
    is_path = isinstance(param.type, click.Path | click.File) or any(
        w in metavar.upper() for w in PATH_WORDS
    )
    default = ""
    if (
        param.show_default
        and takes_value
        and param.default not in (None, "", (), [])
        and not callable(param.default)
    ):
        default = str(param.default)
    return Opt(
        names,
        _clean(param.help).replace("\n", " "),
        takes_value,
        metavar,
        choices,
        is_path,
        default,
    )


def build(cmd: click.Command, path: list[str]) -> Node:
    help_text = _clean(cmd.help)
    options = [o for p in cmd.params if isinstance(p, click.Option) and (o := _option(p, path))]
    arguments = [
        (
            (p.metavar or p.name or "").upper().strip("[]").rstrip(".")
            + ("..." if p.nargs == -1 else ""),
            p.required,
        )
        for p in cmd.params
        if isinstance(p, click.Argument)
    ]
    node = Node(path, help_text, _short(cmd, help_text), options, arguments)
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            node.children.append(build(sub, [*path, name]))
    return node


def tree() -> Node:
    import typer.main

    from sigma.cli import app

    return build(typer.main.get_command(app), ["sigma"])


def walk(node: Node):
    yield node
    for child in node.children:
        yield from walk(child)


def synopsis(node: Node) -> str:
    parts = [node.name]
    if node.is_group:
        parts.append("COMMAND")
    if node.options:
        parts.append("[OPTIONS]")
    for metavar, required in node.arguments:
        parts.append(metavar if required else f"[{metavar}]")
    return " ".join(parts)


# ------------------------------------------------------------------ bash


def _words(items: list[str]) -> str:
    return " ".join(items)


def bash(root: Node) -> str:
    nodes = list(walk(root))
    file_commands = _words([n.name.replace(" ", ":") for n in nodes if n.takes_files])
    out = [
        f"# bash completion for sigma: {GENERATED}.",
        "# Install: copy to /usr/share/bash-completion/completions/sigma (or",
        "# ~/.local/share/bash-completion/completions/sigma), or `source` it from ~/.bashrc.",
        "",
        "_sigma_subcommands() {",
        '    case "$1" in',
    ]
    for n in nodes:
        if n.is_group:
            out.append(f'        "{n.name}") echo "{_words([c.path[-1] for c in n.children])}" ;;')
    out += ["    esac", "}", "", "_sigma_options() {", '    case "$1" in']
    for n in nodes:
        opts = [name for o in n.options for name in o.names] + ["--help"]
        out.append(f'        "{n.name}") echo "{_words(opts)}" ;;')
    out += [
        "    esac",
        "}",
        "",
        "# options that take a value: what to offer for it",
        "_sigma_values() {",
        '    case "$1|$2" in',
    ]
    for n in nodes:
        for o in n.options:
            if not o.takes_value:
                continue
            pattern = "|".join(f'"{n.name}|{name}"' for name in o.names)
            if o.choices:
                action = f'COMPREPLY=($(compgen -W "{_words(o.choices)}" -- "$3"))'
            elif o.is_path:
                action = 'COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null'
            else:
                action = "COMPREPLY=()"
            out.append(f"        {pattern}) {action} ;;")
    out += [
        "        *) return 1 ;;",
        "    esac",
        "    return 0",
        "}",
        "",
        "_sigma() {",
        "    # commands whose argument is a file (their paths, words joined by colons)",
        f'    local FILE_COMMANDS="{file_commands}"',
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local path="sigma" i word skip=0',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        "        if ((skip)); then skip=0; continue; fi",
        '        if [[ "$word" == -* ]]; then',
        '            _sigma_values "$path" "$word" "" >/dev/null 2>&1 '
        '&& [[ "$word" != *=* ]] && skip=1',
        "            continue",
        "        fi",
        '        if [[ " $(_sigma_subcommands "$path") " == *" $word "* ]]; '
        'then path="$path $word"; fi',
        "    done",
        '    if [[ "$prev" == -* ]] && _sigma_values "$path" "$prev" "$cur"; then return 0; fi',
        '    if [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$(_sigma_options "$path")" -- "$cur"))',
        '    elif [[ " $FILE_COMMANDS " == *" ${path// /:} "* ]]; then',
        '        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null',
        "    else",
        '        COMPREPLY=($(compgen -W "$(_sigma_subcommands "$path")" -- "$cur"))',
        "    fi",
        "}",
        "complete -F _sigma sigma",
        "",
    ]
    return "\n".join(out)


# ------------------------------------------------------------------ zsh


def _zq(text: str) -> str:
    """A zsh $'...' string."""
    return "$'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _zdesc(name: str, text: str) -> str:
    return name.replace(":", "\\:") + ":" + text.replace("\n", " ")


def zsh(root: Node) -> str:
    nodes = list(walk(root))
    out = [
        "#compdef sigma",
        f"# zsh completion for sigma: {GENERATED}.",
        "# Install: copy to a directory in $fpath as _sigma "
        "(e.g. /usr/local/share/zsh/site-functions/_sigma,",
        "# or ~/.zfunc/_sigma with `fpath+=~/.zfunc` before `compinit` in ~/.zshrc).",
        "",
        "local -A subs cmds opts values",
    ]
    subs, cmds, opts, values = [], [], [], []
    for n in nodes:
        if n.is_group:
            subs.append((n.name, " ".join(c.path[-1] for c in n.children)))
            cmds.append((n.name, "\n".join(_zdesc(c.path[-1], c.short) for c in n.children)))
        lines = [_zdesc(name, o.help or o.metavar) for o in n.options for name in o.names]
        lines.append(_zdesc("--help", "Show the help and exit."))
        opts.append((n.name, "\n".join(lines)))
        for o in n.options:
            if o.takes_value:
                what = (
                    "choices:" + " ".join(o.choices)
                    if o.choices
                    else ("files" if o.is_path else "value")
                )
                values += [(f"{n.name}|{name}", what) for name in o.names]
    # (key value ...) lists: subscripts in `a[key]=v` assignments would keep their quotes
    for var, pairs in (("subs", subs), ("cmds", cmds), ("opts", opts), ("values", values)):
        out.append(f"{var}=(")
        out += [f"  {_zq(k)} {_zq(v)}" for k, v in pairs]
        out.append(")")
    out += [
        "",
        'local cmdpath="sigma" i word skip=0',
        "for ((i = 2; i < CURRENT; i++)); do",
        '  word="${words[i]}"',
        "  if ((skip)); then skip=0; continue; fi",
        '  if [[ "$word" == -* ]]; then',
        "    (( ${+values[$cmdpath|$word]} )) && skip=1",
        "    continue",
        "  fi",
        '  if [[ " ${subs[$cmdpath]} " == *" $word "* ]]; then cmdpath="$cmdpath $word"; fi',
        "done",
        'local prev="${words[CURRENT-1]}"',
        'if [[ "$prev" == -* ]] && (( ${+values[$cmdpath|$prev]} )); then',
        '  local what="${values[$cmdpath|$prev]}"',
        '  case "$what" in',
        "    choices:*) compadd -- ${=what#choices:} ;;",
        "    files) _files ;;",
        "    *) _message 'value' ;;",
        "  esac",
        "  return",
        "fi",
        "local -a items",
        f"local -a file_commands=({' '.join(_zq(n.name) for n in nodes if n.takes_files)})",
        'if [[ "${words[CURRENT]}" != -* && ${file_commands[(Ie)$cmdpath]} -gt 0 ]]; then',
        "  _files",
        "  return",
        "fi",
        'if [[ "${words[CURRENT]}" == -* || -z "${subs[$cmdpath]}" ]]; then',
        '  items=("${(@f)opts[$cmdpath]}")',
        "  _describe -t options option items",
        "else",
        '  items=("${(@f)cmds[$cmdpath]}")',
        "  _describe -t commands command items",
        "fi",
        "",
    ]
    return "\n".join(out)


# ------------------------------------------------------------------ fish


def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", " ") + "'"


def fish(root: Node) -> str:
    nodes = list(walk(root))
    out = [
        f"# fish completion for sigma: {GENERATED}.",
        "# Install: copy to ~/.config/fish/completions/sigma.fish "
        "(or /usr/share/fish/vendor_completions.d/).",
        "",
        "function __sigma_subcommands",
        "    switch $argv[1]",
    ]
    for n in nodes:
        if n.is_group:
            out.append(f"        case {_fq(n.name)}")
            out.append(f"            echo {' '.join(c.path[-1] for c in n.children)}")
    out += [
        "    end",
        "end",
        "",
        "# the command path typed so far (sigma, sigma vps, sigma vps add...)",
        "function __sigma_path",
        "    set -l path sigma",
        "    for word in (commandline -opc)[2..-1]",
        "        if string match -q -- '-*' $word",
        "            continue",
        "        end",
        "        if contains -- $word (string split ' ' -- (__sigma_subcommands \"$path\"))",
        '            set path "$path $word"',
        "        end",
        "    end",
        "    echo $path",
        "end",
        "",
        "function __sigma_at",
        '    test (__sigma_path) = "$argv[1]"',
        "end",
        "",
        "complete -c sigma -f",
    ]
    for n in nodes:
        cond = f"-n {_fq('__sigma_at ' + _fq(n.name))}"
        if n.takes_files:
            out.append(f"complete -c sigma {cond} -F")
        for c in n.children:
            out.append(f"complete -c sigma {cond} -a {c.path[-1]} -d {_fq(c.short)}")
        for o in n.options:
            spec = []
            for name in o.names:
                if name.startswith("--"):
                    spec.append(f"-l {name[2:]}")
                elif len(name) == 2:
                    spec.append(f"-s {name[1]}")
                else:
                    spec.append(f"-o {name[1:]}")
            if o.takes_value:
                if o.is_path and not o.choices:
                    spec.append("-r -F")
                else:
                    spec.append("-x")
                if o.choices:
                    spec.append(f"-a {_fq(' '.join(o.choices))}")
            out.append(f"complete -c sigma {cond} {' '.join(spec)} -d {_fq(o.help or o.metavar)}")
    out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------ man pages


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        ("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines()
    )


def _paragraphs(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.strip():
            out.append(".PP\n" + _roff(" ".join(line.strip() for line in para.splitlines())))
    return out


def _opt_block(o: Opt) -> str:
    names = ", ".join(f"\\fB{_roff(n)}\\fR" for n in o.names)
    if o.takes_value:
        names += f" \\fI{_roff(o.metavar or 'VALUE')}\\fR"
    text = o.help
    if o.choices and not any(c in text for c in o.choices):
        text += f" One of: {', '.join(o.choices)}."
    if o.default and "default" not in text:
        text += f" [default: {o.default}]"
    return f".TP\n{names}\n{_roff(text) or '-'}"


def _command_section(node: Node) -> list[str]:
    out = [f'.SS "{_roff(synopsis(node))}"']
    out += _paragraphs(node.help or node.short)
    out += [_opt_block(o) for o in node.options]
    return out


def _th(name: str, version: str) -> list[str]:
    return [f'.\\" {GENERATED}', f'.TH "{name.upper()}" "1" "" "sigma {version}" "sigma manual"']


def man_pages(root: Node) -> dict[str, str]:
    from sigma import __version__
    from sigma.settings import Settings

    pages: dict[str, str] = {}
    groups = [c for c in root.children if c.is_group]
    singles = [c for c in root.children if not c.is_group]
    lines = _th("sigma", __version__) + [
        ".SH NAME",
        f"sigma \\- {_roff(root.short.removeprefix('sigma: '))}",
        ".SH SYNOPSIS",
        ".B sigma\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *_paragraphs(root.help.split("\n\n", 1)[1] if "\n\n" in root.help else root.help),
        ".SH GLOBAL OPTIONS",
        *[_opt_block(o) for o in root.options],
        ".SH COMMAND GROUPS",
        *[
            f".TP\n\\fBsigma {_roff(g.path[-1])}\\fR "
            f"\\(em see \\fBsigma\\-{_roff(g.path[-1])}\\fR(1)\n{_roff(g.short)}"
            for g in groups
        ],
        ".SH COMMANDS",
        *[line for s in singles for line in _command_section(s)],
        ".SH ENVIRONMENT",
        ".PP",
        "Every setting can be given as an environment variable \\fBSIGMA_\\fR\\fINAME\\fR, "
        "over the config file and under command\\-line flags. "
        "\\fBsigma config show\\fR prints the effective values.",
    ]
    for name, fld in Settings.model_fields.items():
        lines.append(
            f".TP\n\\fBSIGMA_{_roff(name.upper())}\\fR\n"
            f"{_roff(fld.description or name.replace('_', ' '))}"
        )
    lines += [
        ".TP\n\\fBSIGMA_CONFIG\\fR\nThe config file to read.",
        ".TP\n\\fBSIGMA_DATA_DIR\\fR\nWhere the embedded SQLite database and server state live.",
        ".TP\n\\fBNO_COLOR\\fR\nDisable colours in tables.",
        ".SH FILES",
        ".TP\n\\fI~/.config/sigma/config.yaml\\fR\n"
        "Settings (YAML mapping of setting: value), kept mode 0600.",
        ".TP\n\\fI~/.local/share/sigma/sigma.db\\fR\n"
        "The embedded SQLite inventory, unless a database URL or a server is set.",
        ".SH EXIT STATUS",
        *[f".TP\n\\fB{code}\\fR\n{_roff(text)}" for code, text in EXIT_CODES],
        ".SH SEE ALSO",
        ", ".join(f"\\fBsigma\\-{_roff(g.path[-1])}\\fR(1)" for g in groups),
        "",
    ]
    pages["sigma.1"] = "\n".join(lines)
    for g in groups:
        name = f"sigma-{g.path[-1]}"
        body = _th(name, __version__) + [
            ".SH NAME",
            f"{_roff(name)} \\- {_roff(g.short)}",
            ".SH SYNOPSIS",
            f".B {_roff(g.name)}\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]...",
            ".SH DESCRIPTION",
            *_paragraphs(g.help or g.short),
            ".SH COMMANDS",
        ]
        for node in walk(g):
            if node is not g and not node.is_group:
                body += _command_section(node)
        body += [".SH SEE ALSO", "\\fBsigma\\fR(1)", ""]
        pages[f"{name}.1"] = "\n".join(body)
    return pages


# ------------------------------------------------------------------ files


def generate(root: Node | None = None) -> dict[str, str]:
    """Relative path -> content of every generated file."""
    root = root or tree()
    files = {
        "completions/sigma.bash": bash(root),
        "completions/_sigma": zsh(root),
        "completions/sigma.fish": fish(root),
    }
    files.update({f"man/{name}": text for name, text in man_pages(root).items()})
    return files


def write(out: Path) -> list[Path]:
    files = generate()
    written = []
    for sub in ("completions", "man"):
        d = out / sub
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():  # a removed command group loses its page
            if f"{sub}/{old.name}" not in files and old.is_file():
                old.unlink()
    for rel, text in files.items():
        path = out / rel
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sigma.docs_gen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--out", default=".", help="directory that gets completions/ and man/ (default: .)"
    )
    args = parser.parse_args(argv)
    for path in write(Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

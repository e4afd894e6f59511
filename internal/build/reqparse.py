# Reads a requirements file and the files it chains in with -r and -c
# through pip's own parser and prints, as one JSON object, what each line
# asks for. k8s-testrun runs it as "python3 -I -c", from the directory
# given as the first argument (a copy of the project's requirements files),
# and decides in Go what is allowed.
#
# It never prints a file's content, nor a message that could carry some
# (pip's parse errors quote the line): only file names relative to the
# root, line numbers, option names, and the values of the few options and
# links the Go side checks.
#
# Output: {"lines": [...], "need": null | {"path", "file", "line", "option"}},
# or {"unsupported": pip's version} when pip's internals are not the ones
# this script knows.
# A line: {"file", "line", "kind", ...}; kind is one of
#   "line"       a parsed line: "options" (each given option's long name),
#                "requirement" (bool), "editable", "link", "link_path" (a
#                file link's path, relative to the root when inside it),
#                "find_links", "index_urls", "format_control"
#   "env"        the line names an environment variable, ${NAME}
#   "parse"      pip's parser refused the line
#   "badreq"     pip could not make a requirement of it
#   "nested-url" -r or -c ("option") names a URL
#   "nested-out" -r or -c ("option") names a file outside the root
#   "too-many"   more files than the limit are chained
#   "unreadable" a file could not be read or decoded
# "need" asks for a file the root does not have yet (named at file:line
# by "option");
# the caller copies it in, after its own checks, and runs this again.
import json
import logging
import os
import sys

# pip's warnings quote requirements ("looks like a filename"): silenced.
logging.disable(logging.CRITICAL)

try:
    from pip._internal.req import req_file
    from pip._internal.req.constructors import parse_req_from_line
    from pip._internal.models.link import Link

    for name in ("get_line_parser", "build_parser", "get_file_content", "ParsedLine", "join_lines",
                 "ignore_comments", "ENV_VAR_RE", "SCHEME_RE"):
        getattr(req_file, name)
except Exception:
    # A pip whose internals differ from the ones this script knows.
    import pip

    sys.stdout.write(json.dumps({"unsupported": getattr(pip, "__version__", "unknown")}))
    sys.exit(0)

MAX_FILES = 64

root = os.path.realpath(sys.argv[1])
top = sys.argv[2]
out = {"lines": [], "need": None}


def inside(path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def rel(path):
    return os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")


# A second fence behind the checks below: pip's reader refuses, before it
# opens anything, a URL or a path outside the root.
_get_file_content = req_file.get_file_content


def guarded_get_file_content(url, session=None):
    if req_file.SCHEME_RE.search(url) or not inside(url):
        raise RuntimeError("k8s-testrun: requirements file outside the project")
    return _get_file_content(url, session)


req_file.get_file_content = guarded_get_file_content

# Which options a line gives, however it spells them (optparse takes any
# unambiguous abbreviation): each option records itself when optparse
# processes it. Values alone would not do: --only-binary=:none: leaves a
# fresh FormatControl as it was, yet undoes the command line's
# --only-binary=:all: in pip's finder.
given = []
_build_parser = req_file.build_parser


def recording_build_parser():
    parser = _build_parser()
    for option in parser.option_list:
        process = option.process

        def recorded(opt, value, values, p, _process=process, _option=option):
            given.append(_option.get_opt_string())
            return _process(opt, value, values, p)

        option.process = recorded
    return parser


req_file.build_parser = recording_build_parser
line_parser = req_file.get_line_parser(None)


def add(path, lineno, kind, **fields):
    entry = {"file": rel(path), "line": lineno, "kind": kind}
    entry.update(fields)
    out["lines"].append(entry)


def read_lines(path):
    _, content = req_file.get_file_content(path, None)
    lines = enumerate(content.splitlines(), start=1)
    lines = req_file.join_lines(lines)
    return req_file.ignore_comments(lines)


def parse_file(path, constraint, seen):
    try:
        lines = list(read_lines(path))
    except Exception:
        add(path, 0, "unreadable")
        return False
    for lineno, line in lines:
        # pip would fill ${NAME} from its environment: refused, so that a
        # requirements file cannot send a setting of this machine anywhere.
        if req_file.ENV_VAR_RE.search(line):
            add(path, lineno, "env")
            continue
        del given[:]
        try:
            args, opts = line_parser(line)
        except Exception:
            add(path, lineno, "parse")
            continue
        parsed = req_file.ParsedLine(path, lineno, args, opts, constraint)
        entry = {"options": sorted(set(given)), "requirement": parsed.is_requirement,
                 "editable": bool(parsed.is_requirement and parsed.is_editable)}
        if opts.find_links:
            entry["find_links"] = list(opts.find_links)
        indexes = ([opts.index_url] if opts.index_url else []) + list(opts.extra_index_urls or [])
        if indexes:
            entry["index_urls"] = indexes
        fc = getattr(opts, "format_control", None)
        if fc is not None:
            entry["format_control"] = {"no_binary": sorted(fc.no_binary), "only_binary": sorted(fc.only_binary)}
        if parsed.is_requirement and not parsed.is_editable:
            try:
                parts = parse_req_from_line(parsed.requirement, None)
            except Exception:
                add(path, lineno, "badreq")
                continue
            link = parts.link
            if link is None and parts.requirement is not None and parts.requirement.url:
                link = Link(parts.requirement.url)
            if link is not None:
                entry["link"] = link.url
                if link.scheme == "file":
                    # Relative to the root when inside it, so that the
                    # report does not depend on where the root is.
                    local = link.file_path
                    entry["link_path"] = rel(local) if inside(local) else local
        add(path, lineno, "line", **entry)
        if parsed.is_requirement or not (opts.requirements or opts.constraints):
            continue
        nested = (opts.requirements or opts.constraints)[0]
        option = "--constraint" if opts.constraints else "--requirement"
        if req_file.SCHEME_RE.search(nested):
            add(path, lineno, "nested-url", option=option)
            continue
        nested = os.path.join(os.path.dirname(path), nested)
        if not inside(nested):
            add(path, lineno, "nested-out", option=option)
            continue
        real = os.path.realpath(nested)
        if real in seen:
            continue
        if not os.path.isfile(real):
            out["need"] = {"path": rel(real), "file": rel(path), "line": lineno, "option": option}
            return False
        if len(seen) >= MAX_FILES:
            add(path, lineno, "too-many")
            continue
        seen.add(real)
        if not parse_file(real, bool(opts.constraints), seen):
            return False
    return True


def main():
    path = os.path.join(root, top)
    parse_file(path, False, {os.path.realpath(path)})
    sys.stdout.write(json.dumps(out))


main()

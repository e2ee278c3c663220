"""Run by meson with the interpreter that belongs to the python3-embed
dependency: prints what the executor needs to know about that Python, one
`key=value` a line, for config.h.

  version=3.11              must equal the embed dependency's version
  program=/usr/bin/python3.11   the program name (sys.executable)
  stdlib=/usr/lib/python3.11
  path=...                  each directory of sys.path under `python -I`
                            (site on, user site off), in order; entries
                            that do not exist (the stdlib zip) are left out

Usage: python_paths.py EXPECTED_VERSION
"""
import os
import sys
import sysconfig


def c_safe(value):
    # The values end up in C string literals and in policies, where blanks
    # separate words.
    bad = [c for c in value if c in '"\\' or not c.isprintable() or c.isspace()]
    if bad:
        sys.exit(f'python_paths.py: {value!r}: unusable character {bad[0]!r} in a path')
    return value


def main():
    expected = sys.argv[1]
    version = sysconfig.get_config_var('py_version_short') or '%d.%d' % sys.version_info[:2]
    if version != expected:
        sys.exit(f'python_paths.py: {sys.executable} is Python {version}, '
                 f'but python3-embed is {expected}')
    if not sys.flags.isolated or sys.flags.no_site:
        sys.exit('python_paths.py: run me with -I (isolated, site on)')
    print(f'version={version}')
    print(f'program={c_safe(sys.executable)}')
    print(f"stdlib={c_safe(sysconfig.get_path('stdlib'))}")
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            print(f'path={c_safe(entry)}')


main()

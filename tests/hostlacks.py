"""AIOBOX_HOST_LACKS for the Python tests: the same words and rules as
tests/hostlacks.c (tests/README.md). A test that finds the host without a
layer it needs skips when the variable names it, and fails otherwise."""
import os
import re
import sys

LAYERS = ('landlock', 'landlock-tcp', 'landlock-scope', 'seccomp', 'ia32', 'root', 'userns')


def declared(layer):
    words = [w for w in os.environ.get('AIOBOX_HOST_LACKS', '').split(',') if w]
    for w in words:
        if w not in LAYERS:
            print(f"AIOBOX_HOST_LACKS: unknown layer '{w}' ({', '.join(LAYERS)})", file=sys.stderr)
            sys.exit(2)
    return layer in words


def layer_of(error):
    """The layer a sandbox start error names, or None."""
    if 'landlock: not available' in error:
        return 'landlock'
    m = re.search(r'landlock: the kernel offers ABI (\d+), policy \S+ needs ABI (\d+)', error)
    if m:
        have, need = int(m.group(1)), int(m.group(2))
        if have < 4 <= need:
            return 'landlock-tcp'
        if have < 6 <= need:
            return 'landlock-scope'
        return None
    if 'seccomp: the kernel refused the filter' in error:
        return 'seccomp'
    if ('namespaces: user: cannot be created' in error or
            'namespaces: mount: cannot be created' in error):
        return 'userns'
    return None


def skip_line(name, layer, detail):
    """The line a skip prints: the reason names the layer, then what the
    test saw."""
    return f'SKIP {name}: host lacks {layer} (AIOBOX_HOST_LACKS): {detail}'


def undeclared(layer):
    return (f'this host lacks {layer}; if it truly cannot have it, run the tests with '
            f'AIOBOX_HOST_LACKS={layer} (tests/README.md)')

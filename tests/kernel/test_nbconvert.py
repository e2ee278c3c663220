"""`jupyter nbconvert --execute --to notebook` of sample.ipynb (markdown,
prints, rich representations, an exception with --allow-errors, top-level
await, display() and a display update) with aiobox's kernel and with
ipykernel's python3 kernel, in the same run: the outputs must be the
same.

Compared exactly: the cells, their sources, execution counts, every
output's type, stream name and text, MIME bundles and their metadata,
ename and evalue. Normalised, each for its reason:

- error tracebacks: IPython formats its own (ANSI colours, "Cell In [6],
  line 4", arrows and context lines) where aiobox gives CPython's
  (`File "<cell 6>", line 4, in <module>`), so each side is reduced to
  what both say: the source lines of the user's frames, outermost first,
  and the last line "ENAME: EVALUE";
- cell metadata "execution" (nbclient's timestamps) is dropped;
- notebook metadata: kernelspec names the kernel that ran it, and
  language_info's codemirror_mode and pygments_lexer are "ipython3"
  there and "python3" here (aiobox runs Python, not IPython's syntax),
  so of language_info only name, version, mimetype, file_extension and
  nbconvert_exporter are compared;
- object addresses (" at 0x...") would differ between any two runs; the
  sample shows none, and the masking is there so that a change of the
  sample cannot make this test flaky.

The sample keeps stdout and stderr in separate cells: ipykernel buffers
each stream on its own and flushes stdout first when a cell ends, so
text written to both in one cell comes out in an order of its timing
(aiobox keeps the order of the writes).
"""
import json
import os
import re
import subprocess
import tempfile
import unittest

import kernelenv
from kernelenv import TIMEOUT

kernelenv.isolate()
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sample.ipynb')
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
ADDRESS = re.compile(r' at 0x[0-9a-f]+')


def execute(kernel, outdir):
    out = os.path.join(outdir, f'out-{kernel}.ipynb')
    p = subprocess.run(['jupyter', 'nbconvert', '--execute', '--to', 'notebook',
                        '--allow-errors', f'--ExecutePreprocessor.kernel_name={kernel}',
                        f'--ExecutePreprocessor.timeout={TIMEOUT}', '--output', out, SAMPLE],
                       capture_output=True, text=True, timeout=TIMEOUT * 4)
    if p.returncode != 0:
        raise AssertionError(f'nbconvert with {kernel} failed: {p.stderr}')
    with open(out) as f:
        return json.load(f)


def user_frames_ipython(traceback):
    """IPython's traceback: the source line each frame's arrow points at."""
    lines = []
    for entry in traceback:
        for line in ANSI.sub('', entry).split('\n'):
            m = re.match(r'^-+> *\d+ (.*)$', line)
            if m:
                lines.append(m.group(1).strip())
    return lines


def user_frames_cpython(traceback):
    """CPython's: the source line after each `File ..., line N` entry."""
    lines = []
    for i, line in enumerate(traceback):
        if line.lstrip().startswith('File ') and i + 1 < len(traceback):
            lines.append(traceback[i + 1].strip())
    return lines


def last_line(traceback):
    return ANSI.sub('', traceback[-1]).strip().split('\n')[-1].strip()


def normal(output, frames):
    out = dict(output)
    if out['output_type'] == 'error':
        out['traceback'] = {'frames': frames(out['traceback']),
                            'last': last_line(out['traceback'])}
    text = json.dumps(out, sort_keys=True)
    return json.loads(ADDRESS.sub(' at 0x?', text))


class NbConvert(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='aiobox-nbconvert-')
        cls.ipy = execute('python3', cls.tmp.name)
        cls.aio = execute('aiobox', cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_cells(self):
        self.assertEqual(len(self.ipy['cells']), len(self.aio['cells']))
        for a, b in zip(self.ipy['cells'], self.aio['cells']):
            self.assertEqual(a['cell_type'], b['cell_type'])
            self.assertEqual(a['source'], b['source'])
            strip = lambda md: {k: v for k, v in md.items() if k != 'execution'}  # noqa: E731
            self.assertEqual(strip(a['metadata']), strip(b['metadata']))

    def test_same_outputs(self):
        errors = 0
        for a, b in zip(self.ipy['cells'], self.aio['cells']):
            if a['cell_type'] != 'code':
                continue
            source = ''.join(a['source'])
            with self.subTest(cell=source):
                self.assertEqual(a['execution_count'], b['execution_count'])
                self.assertEqual([normal(o, user_frames_ipython) for o in a['outputs']],
                                 [normal(o, user_frames_cpython) for o in b['outputs']])
                errors += sum(o['output_type'] == 'error' for o in b['outputs'])
                self.assertTrue(a['outputs'] or source.startswith('y ='), source)
        # The sample's two exceptions were compared, not skipped.
        self.assertEqual(errors, 2)

    def test_traceback_normalisation_keeps_substance(self):
        errors = [o for c in self.aio['cells'] if c['cell_type'] == 'code'
                  for o in c['outputs'] if o['output_type'] == 'error']
        first = normal(errors[0], user_frames_cpython)['traceback']
        self.assertEqual(first, {'frames': ['divide(0)', 'return 1 / n'],
                                 'last': 'ZeroDivisionError: division by zero'})

    def test_language_info(self):
        keys = ('name', 'version', 'mimetype', 'file_extension', 'nbconvert_exporter')
        a = self.ipy['metadata']['language_info']
        b = self.aio['metadata']['language_info']
        self.assertEqual({k: a[k] for k in keys}, {k: b[k] for k in keys})


if __name__ == '__main__':
    kernelenv.main('kernel-nbconvert')

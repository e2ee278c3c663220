"""Debian's jupyter_kernel_test against the aiobox kernel: its 12 tests,
each with samples, so none is skipped. Every message it reads is
validated against the messaging spec's schemas."""
import jupyter_kernel_test

import kernelenv

kernelenv.isolate()


class AioboxKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = 'aiobox'
    language_name = 'python'
    file_extension = '.py'

    code_hello_world = 'print("hello, world")'
    code_stderr = 'import sys; print("oops", file=sys.stderr)'

    # Completion is rlcompleter's, as in the terminal: a callable gets its
    # opening parenthesis.
    completion_samples = [
        {'text': 'zi', 'matches': {'zip('}},
        {'text': 'import asyncio; asyncio.sle', 'matches': {'asyncio.sleep('}},
        {'text': 'nothing_starts_like_this'},
    ]

    # As IPython's check_complete answers (ipykernel gives the same
    # verdict for each of these); the top-level await forms are aiobox's.
    complete_code_samples = [
        '1', 'print("hello, world")', 'x = 1\ny = 2', 'def f(x):\n    return x\n',
        'for i in range(3):\n    pass\n', 'def f():\n    x = 1\n\n    return x\n',
        'def f():\n    pass\nf()', 'await asyncio.sleep(0)', '', '# only a comment',
    ]
    incomplete_code_samples = [
        'def f(x):\n  x*2', 'for i in range(3):\n    pass', 'x = [1,\n', '"""abc',
        'if x:\n    pass\nelse:', '@decorator', 'for x in y:\n    await z',
    ]
    invalid_code_samples = ['x = 1 +* 2', 'def f(:', '1)', 'if 1:\n  pass\n y']

    code_page_something = 'len?'
    code_generate_error = 'raise ValueError("boom")'
    code_execute_result = [
        {'code': '6*7', 'result': '42'},
        {'code': '"a" * 3', 'result': "'aaa'"},
        {'code': 'class H:\n    def _repr_html_(self): return "<i>h</i>"\nH()',
         'mime': 'text/html', 'result': '<i>h</i>'},
    ]
    code_display_data = [
        {'code': 'class H:\n    def _repr_html_(self): return "<i>h</i>"\ndisplay(H())',
         'mime': 'text/html'},
        {'code': 'display(1)', 'mime': 'text/plain'},
    ]
    code_history_pattern = '6*7'
    supported_history_operations = ('tail', 'range', 'search')
    code_inspect_sample = 'zip'
    code_clear_output = 'clear_output()'


if __name__ == '__main__':
    kernelenv.main('kernel-jkt')

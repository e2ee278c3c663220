"""aiobox kernel install: the kernelspec it writes, where jupyter looks
for it (checked with `jupyter kernelspec list`, which resolves the same
directories itself), the options it carries, and that a kernel started
from it runs with them. Only temporary directories are written; the
system-wide default (/usr/local/share/jupyter) is left to the docs."""
import json
import os
import subprocess
import tempfile
import unittest

from jupyter_client.manager import start_new_kernel

import kernelenv
from kernelenv import AIOBOX, TIMEOUT, Client

ROOT = kernelenv.isolate()


def kernelspecs(env=None):
    p = subprocess.run(['jupyter', 'kernelspec', 'list', '--json'], capture_output=True,
                       text=True, timeout=TIMEOUT, env=env)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)['kernelspecs']


def aiobox(*args, env=None, cwd=None):
    return subprocess.run([AIOBOX, *args], capture_output=True, text=True, timeout=TIMEOUT,
                          env=env, cwd=cwd)


class Install(unittest.TestCase):
    def test_default_spec(self):
        specs = kernelspecs()
        self.assertIn('aiobox', specs)
        spec = specs['aiobox']
        self.assertEqual(spec['resource_dir'],
                         os.path.join(ROOT, 'prefix', 'share', 'jupyter', 'kernels', 'aiobox'))
        self.assertEqual(spec['spec']['argv'],
                         [os.path.realpath(AIOBOX), 'kernel', '-f', '{connection_file}'])
        self.assertEqual(spec['spec']['display_name'], 'Python 3.11 (aiobox)')
        self.assertEqual(spec['spec']['language'], 'python')
        self.assertEqual(spec['spec']['interrupt_mode'], 'signal')
        # ipykernel's own spec is still there, beside it.
        self.assertIn('python3', specs)

    def test_options_are_carried_with_absolute_paths(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, 'data'))
            # Grants are checked as options are read: run as root, user
            # code runs as nobody, who must be able to use them.
            os.chmod(d, 0o755)
            os.chmod(os.path.join(d, 'data'), 0o777)
            policy = os.path.join(d, 'mine.policy')
            shipped = os.path.realpath(os.path.join(os.path.dirname(AIOBOX), 'policies'))
            with open(policy, 'w') as f:
                f.write(f'aiobox-policy 1\ninclude {shipped}/strict\nname mine\n')
            p = aiobox('kernel', 'install', '--prefix', 'pfx', '--name', 'custom',
                       '--policy', './mine.policy', '--timeout', '5', '--output-cap', '4096',
                       '--grace', '1', '--allow-read', 'data', '--allow-write', 'data',
                       '--restore', 'replay', '--no-standby', cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            where = os.path.join(d, 'pfx', 'share', 'jupyter', 'kernels', 'custom')
            self.assertIn(where, p.stdout)
            with open(os.path.join(where, 'kernel.json')) as f:
                spec = json.load(f)
            data = os.path.realpath(os.path.join(d, 'data'))
            self.assertEqual(spec['argv'][4:], [
                f'--policy={os.path.realpath(policy)}', '--timeout=5', '--output-cap=4096',
                '--grace=1', f'--allow-read={data}', f'--allow-write={data}',
                '--restore=replay', '--no-standby'])
            self.assertEqual(oct(os.stat(os.path.join(where, 'kernel.json')).st_mode & 0o777),
                             '0o644')

    def test_installed_options_take_effect(self):
        kernelenv.install('aiobox-net', '--policy', 'net', '--timeout', '7')
        km, kc = start_new_kernel(kernel_name='aiobox-net')
        try:
            msg_id = kc.kernel_info()
            info = Client(kc).reply_to(msg_id)['content']
            self.assertIn('policy net', info['banner'])
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_user_install_where_jupyter_looks(self):
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items()
                   if k not in ('JUPYTER_DATA_DIR', 'XDG_DATA_HOME', 'JUPYTER_PATH')}
            env['HOME'] = home
            p = aiobox('kernel', 'install', '--user', env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            where = os.path.join(home, '.local', 'share', 'jupyter', 'kernels', 'aiobox')
            self.assertEqual(kernelspecs(env)['aiobox']['resource_dir'], where)
            env['XDG_DATA_HOME'] = os.path.join(home, 'xdg')
            p = aiobox('kernel', 'install', '--user', '--name', 'via-xdg', env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(kernelspecs(env)['via-xdg']['resource_dir'],
                             os.path.join(home, 'xdg', 'jupyter', 'kernels', 'via-xdg'))
            env['JUPYTER_DATA_DIR'] = os.path.join(home, 'jdd')
            p = aiobox('kernel', 'install', '--user', '--name', 'via-jdd', env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(kernelspecs(env)['via-jdd']['resource_dir'],
                             os.path.join(home, 'jdd', 'kernels', 'via-jdd'))

    def test_reinstall_replaces(self):
        kernelenv.install('again', '--timeout', '3')
        kernelenv.install('again', '--timeout', '4')
        self.assertIn('--timeout=4', kernelspecs()['again']['spec']['argv'])

    def test_refusals(self):
        with tempfile.TemporaryDirectory() as d:
            for args, code, said in [
                    (['--name', 'bad/name'], 2, 'a kernel name is'),
                    (['--name', 'has space'], 2, 'a kernel name is'),
                    (['--user', '--prefix', d], 2, 'takes --user or --prefix, not both'),
                    (['--policy', 'no-such-policy'], 2, 'no-such-policy'),
                    (['--allow-read', '/no/such/dir'], 2, '/no/such/dir'),
                    (['-f', 'x.json'], 2, 'does not apply here')]:
                p = aiobox('kernel', 'install', '--prefix', d, *args)
                self.assertEqual(p.returncode, code, (args, p.stderr))
                self.assertIn(said, p.stderr, args)
            self.assertFalse(os.path.exists(os.path.join(d, 'share')))


if __name__ == '__main__':
    kernelenv.main('kernel-install')

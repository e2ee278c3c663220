"""Turn a file into a C array, so the executor carries its Python runtime."""
import sys

name, src, dst = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as out:
    out.write('/* generated from %s: do not edit */\n#include <stddef.h>\n' % src)
    out.write('const unsigned char %s[] = {\n' % name)
    for i in range(0, len(data), 16):
        out.write(''.join('%d,' % b for b in data[i:i + 16]) + '\n')
    out.write('0};\nconst size_t %s_len = %d;\n' % (name, len(data)))

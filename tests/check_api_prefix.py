#!/usr/bin/env python3
"""Every name an installed header (include/xensim/) defines starts with
xensim_ or XENSIM_: functions, types, tags, enum constants and macros.
Xen's own names (HYPERVISOR_*, anything libxen-dev's headers define) and
the ThreadSanitizer annotations are not ours to prefix. Fails listing each
unprefixed name; first shows it finds a planted one, so that it cannot
pass by finding nothing."""
import glob, os, re, sys

def strip_comments(s):
    s = re.sub(r'/\*.*?\*/', ' ', s, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', s)

def defined_names(text):
    t = strip_comments(text)
    names = set()
    names |= set(re.findall(r'^\s*#\s*define\s+([A-Za-z_]\w*)', t, re.M))
    names |= set(re.findall(r'\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*[{;]', t))
    for body in re.findall(r'\benum\s+\w*\s*\{([^}]*)\}', t):
        for c in body.split(','):
            c = c.strip().split('=')[0].strip()
            if re.match(r'^[A-Za-z_]\w*$', c):
                names.add(c)
    names |= set(re.findall(r'\btypedef\b[^;{]*?\b([A-Za-z_]\w*)\s*;', t))
    names |= set(re.findall(r'\btypedef\b[^;]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)', t))
    for m in re.finditer(r'^[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(', t, re.M):
        if m.group(0).split()[0] not in ('return', 'if', 'while', 'for', 'switch', 'do'):
            names.add(m.group(1))
    return names

def xen_names():
    out = set()
    for f in glob.glob('/usr/include/xen/**/*.h', recursive=True):
        with open(f, errors='replace') as fh:
            out |= set(re.findall(r'\b[A-Za-z_]\w*\b', fh.read()))
    return out

KEYWORDS = {'size_t', 'bool', 'inline', 'static', 'const', 'void', 'extern', 'xensim'}

def unprefixed(names, xen):
    return sorted(n for n in names
                  if not n.startswith(('xensim_', 'XENSIM_', '_', 'HYPERVISOR_', 'Annotate'))
                  and n not in xen and n not in KEYWORDS)

def main():
    top = os.environ.get('srcdir', '.')
    hdrs = glob.glob(os.path.join(top, 'include/xensim/*.h')) + \
        glob.glob(os.path.join(top, 'include/xensim/io/*.h'))
    if not hdrs:
        print('check_api_prefix: no headers under', top)
        return 99
    if not os.path.isdir('/usr/include/xen'):
        print('check_api_prefix: SKIP: no libxen-dev headers')
        return 77
    xen = xen_names()
    probe = 'int blkfront_frob(int x);\n#define RING_THING 1\nstruct xensim_ok { int a; };\n'
    if unprefixed(defined_names(probe), xen) != ['RING_THING', 'blkfront_frob']:
        print('check_api_prefix: the check does not find planted names')
        return 1
    bad = []
    for h in sorted(hdrs):
        if h.endswith('.h.in'):
            continue
        with open(h) as fh:
            for n in unprefixed(defined_names(fh.read()), xen):
                bad.append('%s: %s' % (os.path.relpath(h, top), n))
    for b in bad:
        print('check_api_prefix: no xensim_ prefix:', b)
    return 1 if bad else 0

sys.exit(main())

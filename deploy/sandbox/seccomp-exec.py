#!/usr/bin/env python3
"""Load a seccomp filter shaped like systemd's SystemCallFilter= allow-list with SystemCallErrorNumber=EPERM
and RestrictAddressFamilies=, then exec a command (through libseccomp, as systemd does).

Usage: seccomp-exec.py ALLOWED_SYSCALLS_FILE FAMILY_NUMBERS -- COMMAND [ARGS...]
  ALLOWED_SYSCALLS_FILE  one syscall name a line (names this architecture lacks are skipped)
  FAMILY_NUMBERS         comma-separated socket(2) families allowed, e.g. 1,2,10,16
"""
import ctypes
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
EPERM = 1


def scmp_act_errno(errno: int) -> int:
    return 0x00050000 | (errno & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [('arg', ctypes.c_uint), ('op', ctypes.c_int), ('datum_a', ctypes.c_uint64), ('datum_b', ctypes.c_uint64)]


def main() -> None:
    if len(sys.argv) < 5 or sys.argv[3] != '--':
        sys.exit(__doc__)
    allowed_file, families, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    lib = ctypes.CDLL('libseccomp.so.2', use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]

    ctx = lib.seccomp_init(scmp_act_errno(EPERM))
    socket_nr = lib.seccomp_syscall_resolve_name(b'socket')
    count = 0
    with open(allowed_file, encoding='ascii') as f:
        for name in (line.strip() for line in f):
            nr = lib.seccomp_syscall_resolve_name(name.encode()) if name else -1
            if nr < 0 or nr == socket_nr:
                continue
            if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, None) == 0:
                count += 1
    # socket(2) only for the allowed families; any other family fails (with EPERM here, EAFNOSUPPORT in systemd).
    for family in (int(x) for x in families.split(',') if x):
        cmp = (ArgCmp * 1)(ArgCmp(0, SCMP_CMP_EQ, family, 0))
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, socket_nr, 1, cmp) != 0:
            sys.exit(f'seccomp: cannot add the socket rule for family {family}')
    if lib.seccomp_load(ctx) != 0:
        sys.exit('seccomp: seccomp_load failed (no_new_privs not set?)')
    print(f'seccomp-exec: {count} syscalls allowed, socket families {families}', file=sys.stderr)
    os.execvp(cmd[0], cmd)


if __name__ == '__main__':
    main()

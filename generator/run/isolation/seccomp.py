"""The seccomp filter every sandboxed run gets: a classic-BPF program generated here (no library
needed), passed to bubblewrap with `--seccomp FD`. Allow by default; deny what no card program
needs and what helps escape or attack the host."""

from __future__ import annotations

import errno
import os
import struct
from typing import Mapping

from generator.run.isolation.spec import SandboxError


# x86_64 syscall numbers (checked against libseccomp's resolver by the tests).
SECCOMP_EPERM: dict[str, int] = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "move_mount": 429,
    "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "unshare": 272, "setns": 308,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163,
    "quotactl": 179, "quotactl_fd": 443, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "lookup_dcookie": 212, "syslog": 103, "uselib": 134, "iopl": 172, "ioperm": 173,
    "vhangup": 153, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "fanotify_init": 300, "nfsservctl": 180,
}
_NR_CLONE, _NR_CLONE3, _NR_IOCTL = 56, 435, 16
_CLONE_NS_FLAGS = 0x7E020000   # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_TTY_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program(deny: Mapping[str, int] | None = None) -> bytes:
    """A classic-BPF seccomp filter for x86_64 (struct sock_filter[]), as `bwrap --seccomp`
    reads it: other architectures' syscalls (int 0x80) kill the process, x32 syscalls and the
    `deny` list fail with EPERM, clone() with namespace flags fails with EPERM, clone3() fails
    with ENOSYS (its flags are behind a pointer; glibc falls back to clone()), ioctl TIOCSTI and
    TIOCLINUX fail with EPERM (only the low 32 bits of the request are compared, as the kernel
    does); everything else is allowed."""
    if os.uname().machine != "x86_64":
        raise SandboxError(f"seccomp filter only for x86_64, not {os.uname().machine}")
    nrs = sorted(set((deny if deny is not None else SECCOMP_EPERM).values()))
    prog: list[tuple[int, int | str, int | str, int]] = []   # code, jt, jf, k (labels as str)
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        prog.append((code, jt, jf, k))

    def label(name: str) -> None:
        labels[name] = len(prog)

    emit(_LD_W_ABS, 4)                                        # seccomp_data.arch
    emit(_JEQ_K, _AUDIT_ARCH_X86_64, 0, "kill")
    emit(_LD_W_ABS, 0)                                        # seccomp_data.nr
    emit(_JGE_K, _X32_BIT, "eperm", 0)
    emit(_JEQ_K, _NR_CLONE, "clone", 0)
    emit(_JEQ_K, _NR_IOCTL, "ioctl", 0)
    emit(_JEQ_K, _NR_CLONE3, "enosys", 0)
    for nr in nrs:
        emit(_JEQ_K, nr, "eperm", 0)
    emit(_RET_K, _RET_ALLOW)
    label("clone")
    emit(_LD_W_ABS, 16)                                       # args[0], low 32 bits
    emit(_JSET_K, _CLONE_NS_FLAGS, "eperm", "allow")
    label("ioctl")
    emit(_LD_W_ABS, 24)                                       # args[1], low 32 bits
    for req in _TTY_IOCTLS:
        emit(_JEQ_K, req, "eperm", 0)
    label("allow")
    emit(_RET_K, _RET_ALLOW)
    label("eperm")
    emit(_RET_K, _RET_ERRNO | errno.EPERM)
    label("enosys")
    emit(_RET_K, _RET_ERRNO | errno.ENOSYS)
    label("kill")
    emit(_RET_K, _RET_KILL_PROCESS)

    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(prog):
        offs = []
        for j in (jt, jf):
            off = labels[j] - i - 1 if isinstance(j, str) else j
            if not 0 <= off <= 255:
                raise SandboxError("seccomp program too long for a forward jump")
            offs.append(off)
        out += struct.pack("<HBBI", code, offs[0], offs[1], k)
    return bytes(out)

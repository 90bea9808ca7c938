"""Load limits (SPEC §8.3) and plain file names (SPEC §3.2)."""

import re

from .errors import BadFileName, LimitExceeded

GIB = 1 << 30
#: SPEC §8.3's default limits.
MANIFEST_FILE = 16 << 20
FILE = 4 * GIB
ARENA = 4 * GIB
STREAM = 4 * GIB
COUNT = 1 << 20
RANK = 16

_PLAIN = re.compile(r"[A-Za-z0-9._-]{1,255}")
_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(10)}


def check(where, field, value, limit):
    if value > limit:
        raise LimitExceeded(where, f"{field} of {value} exceeds the load limit of {limit}")


def check_file_name(name):
    """Raises BadFileName unless `name` is a plain file name (SPEC §3.2)."""
    if not _PLAIN.fullmatch(name):
        reason = "only A-Z a-z 0-9 . _ - are allowed, 1 to 255 of them"
    elif name.startswith("."):
        reason = "it starts with `.`"
    elif name.split(".")[0].upper() in _DEVICES:
        reason = "it names a Windows device"
    else:
        return
    raise BadFileName("manifest", f"file name {name!r} is not a plain file name inside the bundle: {reason}")

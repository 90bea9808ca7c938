"""The error classes of SPEC §8.

Every failure the reader reports is a :class:`ReaderError` whose ``code`` is one of the class names SPEC §8 lists
(``bad_magic``, ``unsupported_version``, ``truncated``, ...), so that a test can check the class a bad bundle must
be refused with, and whose message names the file and, where there is one, the chunk, kernel, op or weight.
"""


class ReaderError(Exception):
    """A bundle or an input that the reader refuses. ``code`` is the SPEC §8 class."""

    code = "error"

    def __init__(self, where, detail):
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}" if where else detail)


class BadMagic(ReaderError):
    code = "bad_magic"


class UnsupportedVersion(ReaderError):
    code = "unsupported_version"


class Truncated(ReaderError):
    code = "truncated"


class Corrupted(ReaderError):
    code = "corrupted"


class Malformed(ReaderError):
    code = "malformed"


class Inconsistent(ReaderError):
    code = "inconsistent"


class UnknownOp(ReaderError):
    """An op, function, epilogue step or enumeration value this reader does not know (a newer minor version)."""

    code = "unknown_op"


class UnknownEncoding(ReaderError):
    code = "unknown_encoding"


class UnknownPayload(ReaderError):
    code = "unknown_payload"


class MissingBackend(ReaderError):
    code = "missing_backend"


class Decompress(ReaderError):
    """A chunk whose SHA-256 matched but that is not one zstd frame of its stated size: the writer is broken."""

    code = "malformed"


class BadInput(ReaderError):
    """At run time: a missing, repeated or unknown input, or one of the wrong dtype or shape."""

    code = "bad_input"


class Unimplemented(ReaderError):
    """An op the format defines that this reader does not execute (not a bundle error: a gap of this reader)."""

    code = "unimplemented"


class LimitExceeded(ReaderError):
    """A declared size over the reader's load limits (SPEC §8.3)."""

    code = "limit_exceeded"


class BadFileName(ReaderError):
    """A manifest file name that is not a plain file name inside the bundle (SPEC §3.2)."""

    code = "bad_file_name"


class UnsupportedFeature(ReaderError):
    """A manifest entry that needs a format feature this reader does not implement (SPEC §2.3)."""

    code = "unsupported_feature"

"""An independent reader of the wdnn descriptor format, written from ``descriptor-spec/SPEC.md`` alone.

It decodes and verifies a bundle (container framing, manifest, graph descriptor, weight index and chunks, with every
check SPEC.md prescribes, in its order) and executes a ``fallback`` descriptor with numpy over the descriptor's own
arena plan. ``python -m wdnn_reader --help`` is its command line.
"""

from .bundle import Bundle
from .errors import ReaderError
from .executor import Executable, load

__all__ = ["Bundle", "Executable", "ReaderError", "load"]

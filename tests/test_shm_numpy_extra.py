"""Without NumPy, SharedArray says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_shared_array_without_numpy_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["numpy"] = None  # as if NumPy were not installed
        import offload
        try:
            offload.SharedArray((4,), "float64")
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no error")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "offload[numpy]" in done.stdout

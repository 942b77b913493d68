# SPDX-License-Identifier: MIT
"""Runs the guest-booting integration tests: every test_* function of every test_*.py here.

Usage: run.py [substring-filter]. Prints one line per test and a last line "N passed, N failed".
"""
import importlib
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def _terminated(signum, frame):
    # SIGTERM (a CI timeout, `timeout`) or SIGHUP would end Python without running the
    # finally below: its engines outlive their monitors by design, so they would be left
    # running. As an interrupt the test stops and harness.cleanup() still runs.
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    flt = sys.argv[1] if len(sys.argv) > 1 else ""
    here = os.path.dirname(os.path.abspath(__file__))
    tests = []
    for fn in sorted(os.listdir(here)):
        if fn.startswith("test_") and fn.endswith(".py"):
            mod = importlib.import_module(fn[:-3])
            for name in dir(mod):
                obj = getattr(mod, name)
                # Only the module's own test functions, not names it imported.
                if (name.startswith("test_") and callable(obj) and
                        getattr(obj, "__module__", None) == mod.__name__ and
                        flt in f"{fn[:-3]}.{name}"):
                    tests.append((f"{fn[:-3]}.{name}", obj))
    passed = failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            harness.prerequisites()
            fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as e:
            failed += 1
            detail = str(e) if isinstance(e, harness.TestFailure) else traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - t0:.1f}s): {detail}", flush=True)
        finally:
            harness.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print(f"interrupted ({e or 'Ctrl-C'}): the running test's processes and files were removed")
        sys.exit(130)

#!/bin/sh
# Install the Debian packages the test suite uses, when they are missing and we may.
# Without them the tests that need them are skipped with a reason, never silently passed.
set -u
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
# CPython's concurrent.futures tests, run against offload.PoolExecutor.
if command -v python3.11 >/dev/null 2>&1 && [ ! -e /usr/lib/python3.11/test/test_concurrent_futures.py ]; then
    need="$need libpython3.11-testsuite"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages:$need"
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null 2>&1 \
        || echo "warning: could not install$need; tests that need it will be skipped" >&2
else
    echo "note:$need missing and not root; tests that need it will be skipped" >&2
fi
exit 0

#!/bin/sh
# Install the Debian packages the test suite uses, when they are missing and we may.
# Without them the tests that need them are skipped with a reason, never silently passed.
set -u
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
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

"""Verifies requests hookline's HTTP sink sent with the `standardwebhooks` package from PyPI.

This is the independent half of tests/standardwebhooks.rs: the Rust test POSTs events through an
`HttpSink` to a wiremock server, writes what arrived to a directory, and runs this script on it, so
the signatures are checked by the reference Python implementation of Standard Webhooks rather than by
hookline's own `verify`.

Usage:
    python verify_standardwebhooks.py --probe   # exit 0 and print the package version if importable, else 3
    python verify_standardwebhooks.py DIR       # verify the requests described by DIR/manifest.json

DIR/manifest.json is a list of requests, each:
    {
      "name": "ig01-message",                  # for the output
      "body": "00.body",                       # file in DIR with the exact raw request body
      "headers": {"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...},
      "secret": "whsec_...",                   # the secret the sink signed with
      "wrong_secret": "whsec_..."              # another secret, which must not verify
    }

For each request it checks that:
  - `Webhook(secret).verify(body, headers)` accepts it and returns the body's JSON;
  - `Webhook(secret).sign(...)` computes exactly the `webhook-signature` header that was sent;
  - the body with one character changed is rejected with `WebhookVerificationError`;
  - the same request is rejected with `WebhookVerificationError` under `wrong_secret`.
`verify` checks the timestamp against the clock with a 5-minute tolerance, so run it on fresh requests.

It prints one `ok`/`FAIL` line per check and a summary, and exits 0 only when every check passed
(1 when one failed, 2 on bad usage, 3 when the `standardwebhooks` package cannot be imported).

Install the package with: python3 -m venv target/py && target/py/bin/pip install standardwebhooks
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

try:
    from importlib.metadata import version as package_version

    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError as err:
    print(f"the standardwebhooks package is not importable: {err}", file=sys.stderr)
    sys.exit(3)


def tampered(body: bytes) -> bytes:
    """`body` with one ASCII letter or digit (the first at or after the middle) changed, so it stays UTF-8."""
    changed = bytearray(body)
    for at in list(range(len(body) // 2, len(body))) + list(range(0, len(body) // 2)):
        c = changed[at]
        if ord("0") <= c <= ord("9"):
            changed[at] = ord("0") + (c - ord("0") + 1) % 10
            return bytes(changed)
        if ord("a") <= c <= ord("z") or ord("A") <= c <= ord("Z"):
            changed[at] = c ^ 0x20  # swap case
            return bytes(changed)
    raise ValueError("the body has no ASCII letter or digit to change")


def rejected(webhook: Webhook, body: bytes, headers: dict) -> str:
    """The reason `verify` rejects the request; raises AssertionError if it is accepted."""
    try:
        webhook.verify(body, headers)
    except WebhookVerificationError as err:
        return str(err)
    raise AssertionError("verification passed")


def check(request: dict, directory: Path) -> list:
    """The failures of one request's checks (empty when all passed), printing a line per check."""
    name = request["name"]
    body = (directory / request["body"]).read_bytes()
    headers = request["headers"]
    webhook = Webhook(request["secret"])
    failures = []

    def run(what, test):
        try:
            detail = test()
        except Exception as err:  # any exception, including a wrong exception type, is a failure
            failures.append(f"{name}: {what}: {type(err).__name__}: {err}")
            print(f"FAIL {name}: {what}: {type(err).__name__}: {err}")
        else:
            print(f"ok   {name}: {what}{detail}")

    def verifies():
        parsed = webhook.verify(body, headers)
        assert parsed == json.loads(body), "verify returned something other than the body's JSON"
        return f" ({len(body)} bytes, version {parsed.get('version')!r}, kind {parsed.get('kind')!r})"

    def same_signature():
        at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)
        expected = webhook.sign(headers["webhook-id"], at, body.decode("utf-8"))
        sent = headers["webhook-signature"]
        assert sent == expected, f"sent {sent!r}, standardwebhooks computes {expected!r}"
        return ""

    run("verifies", verifies)
    run("signature is the one standardwebhooks computes", same_signature)
    run("tampered body rejected", lambda: ": " + rejected(webhook, tampered(body), headers))
    run(
        "wrong secret rejected",
        lambda: ": " + rejected(Webhook(request["wrong_secret"]), body, headers),
    )
    return failures


def main(argv: list) -> int:
    if argv == ["--probe"]:
        print(f"standardwebhooks {package_version('standardwebhooks')}")
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[0])
    requests = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    if not requests:
        print("FAIL the manifest lists no requests")
        return 1
    failures = []
    for request in requests:
        failures += check(request, directory)
    n = len(requests)
    if failures:
        print(f"{len(failures)} of {4 * n} checks failed")
        return 1
    print(
        f"standardwebhooks {package_version('standardwebhooks')}: {n} requests verified, "
        f"{n} tampered bodies and {n} wrong secrets rejected"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

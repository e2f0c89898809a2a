#!/bin/sh
# Independent Standard Webhooks vectors: HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the
# base64-decoded part of the whsec_ secret, computed by openssl, not by the code under test.
# Run from this directory; it rewrites vector2.txt and vector3.txt.
set -eu

vector() { # secret id timestamp body-file; prints the header value
  hexkey=$(printf '%s' "${1#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
  { printf '%s.%s.' "$2" "$3"; cat "$4"; } \
    | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 \
    | sed 's/^/v1,/'
}

# The spec's own example, as a check of this script: expect v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
printf '%s' '{"test": 2432232314}' > /tmp/hookline-v1.body
vector whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw msg_p5jXN8AQM9LWM0D4loKWxJek 1614265330 /tmp/hookline-v1.body

printf '%s' '{"version":1,"kind":"message"}' > /tmp/hookline-v2.body
vector whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw evt_0123456789abcdef0123456789abcdef 1767610100 /tmp/hookline-v2.body > vector2.txt

# A different key ("hookline-test-key-01") and a body with UTF-8 and a trailing newline.
printf 'h\303\251llo\n' > /tmp/hookline-v3.body
vector whsec_aG9va2xpbmUtdGVzdC1rZXktMDE= msg_2 1700000000 /tmp/hookline-v3.body > vector3.txt

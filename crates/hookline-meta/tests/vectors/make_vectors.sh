#!/bin/sh
# Regenerates the signature test-vector bodies in this directory and prints
# their HMAC digests computed by openssl, independently of hookline's code.
# The digests printed here are pasted as constants into
# tests/signature_vectors.rs; rerun this script to re-check them.
#
# Usage: sh tests/vectors/make_vectors.sh
set -eu
cd "$(dirname "$0")"
# Byte-exact output regardless of the caller's locale.
export LC_ALL=C

SECRET='meta-app-secret-0123456789abcdef'
# Non-ASCII secret (UTF-8 bytes: e-acute, Cyrillic, an emoji). Kept as octal
# escapes so this file itself stays ASCII.
SECRET_UTF8=$(printf 's\303\251cret-\320\272\320\273\321\216\321\207-\360\237\224\221')

# (a) Meta's wire form: compact, lowercase \uXXXX escapes, escaped slashes.
printf '%s' '{"object":"page","entry":[{"id":"1234567890","time":1700000000000,"messaging":[{"sender":{"id":"2345678901"},"recipient":{"id":"1234567890"},"timestamp":1700000000000,"message":{"mid":"m_abc","text":"hi \ud83d\ude00 \u00e4\u00f6\u00e5 see https:\/\/example.com\/x"}}]}]}' > wire.json

# (b) The same JSON re-serialised by a JSON library: raw UTF-8, unescaped '/'.
printf '%s' '{"object":"page","entry":[{"id":"1234567890","time":1700000000000,"messaging":[{"sender":{"id":"2345678901"},"recipient":{"id":"1234567890"},"timestamp":1700000000000,"message":{"mid":"m_abc","text":"hi ' > reserialised.json
printf '\360\237\230\200 \303\244\303\266\303\245' >> reserialised.json
printf '%s' ' see https://example.com/x"}}]}]}' >> reserialised.json

# (c) A body over 300 KB full of \u200a / \u06d4 escapes, generated
# deterministically (like the large bodies reported by nyaruka/courier#508).
awk 'BEGIN {
    # Only small integers: some awks print numbers above 2^31 differently.
    n = 640
    printf "{\"object\":\"page\",\"entry\":["
    for (i = 0; i < n; i++) {
        if (i > 0) printf ","
        ts = sprintf("17000000%05d", i)
        text = ""
        for (j = 0; j < 20; j++) text = text "w" (i * 20 + j) "\\u200a\\u06d4"
        printf "{\"id\":\"1234567890\",\"time\":%s,\"messaging\":[{\"sender\":{\"id\":\"2%09d\"},\"recipient\":{\"id\":\"1234567890\"},\"timestamp\":%s,\"message\":{\"mid\":\"m_%d\",\"text\":\"%s\"}}]}", ts, i, ts, i, text
    }
    printf "]}"
}' > large.json

# (d) An empty body.
: > empty.bin

# (e) A small body signed with the non-ASCII secret.
printf '%s' '{"object":"instagram","entry":[]}' > utf8_secret.json

digest() { # algorithm secret file
    openssl dgst "-$1" -hmac "$2" -r "$3" | cut -d' ' -f1
}

for f in wire.json reserialised.json large.json empty.bin; do
    echo "$f sha256 $(digest sha256 "$SECRET" "$f")"
    echo "$f sha1   $(digest sha1 "$SECRET" "$f")"
done
echo "utf8_secret.json sha256 $(digest sha256 "$SECRET_UTF8" utf8_secret.json)"
echo "utf8_secret.json sha1   $(digest sha1 "$SECRET_UTF8" utf8_secret.json)"
echo "large.json bytes $(wc -c < large.json | tr -d ' ')"

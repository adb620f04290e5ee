#!/usr/bin/env python3
"""Keys and compact JWS tokens for Sluice's IdentityTests, made by an implementation independent of
Sluice's own: Python's `cryptography` package (OpenSSL underneath, but none of Sluice's code).

Requires `pip install cryptography` (any version from 38 on; Debian's python3-cryptography works).

Modes:

  mint.py serve   One process per test run. Generates every key once at start-up, then answers one
                  JSON request per stdin line with one JSON response per stdout line:
                    {"op": "keys"}           -> {"keys": {name: {"kid", "jwk", "public_pem", ...}}}
                    {"op": "sign", ...spec}  -> {"token": "..."}
                  Any failure answers {"error": "..."} and the loop goes on. EOF on stdin ends it.
  mint.py keys    Prints the "keys" response for a fresh set of keys (for manual use).
  mint.py sign    Reads one spec (JSON object) from stdin and prints the token, with fresh keys.

A sign spec:
  key             name of the private key to sign with (see KEYS below); not needed for "none"
  sign            how to sign: "ES256", "RS256", "HS256" or "none"; default: the header's alg
  hmac_secret     the HS256 secret as text (e.g. a public key's PEM, for the RS/HS confusion attack)
  hmac_secret_of  name of a key whose public PEM is the HS256 secret
  header          header object (serialised compactly), or
  raw_header      the exact header JSON text (duplicate members and other malformed cases)
  payload         claims object, or
  raw_payload     the exact payload JSON text
  fill_to         grow the token to exactly this many bytes with a "fill" claim (and, if the length
                  cannot be reached otherwise, a "pad" header member)
  pad             append base64 '=' padding to every segment, and sign the padded text (AWS ALB)
  std_alphabet    encode the signature with the standard '+' '/' alphabet; ES256 is re-signed until
                  that alphabet actually produces a '+' or '/'
  tamper_payload  after signing, replace the payload segment with this object
  tamper_signature after signing, flip one bit of the signature
"""

import base64
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# name -> (kind, kid, parameters)
KEYS = {
    "ec1": ("EC", "ec-1", None),
    "ec2": ("EC", "ec-2", None),
    "attacker": ("EC", "attacker", None),
    "rsa1": ("RSA", "rsa-1", (2048, 65537)),
    "rsa2": ("RSA", "rsa-2", (2048, 65537)),
    "rsa1024": ("RSA", "rsa-1024", (1024, 65537)),
    "rsa_e3": ("RSA", "rsa-e3", (2048, 3)),
}


def b64u(data, pad=False):
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def uint(value, length=None):
    length = length or max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def generate():
    keys = {}
    for name, (kind, kid, params) in KEYS.items():
        if kind == "EC":
            private = ec.generate_private_key(ec.SECP256R1())
            numbers = private.private_numbers()
            public = numbers.public_numbers
            jwk = {"kty": "EC", "crv": "P-256", "x": b64u(uint(public.x, 32)), "y": b64u(uint(public.y, 32)), "kid": kid}
            private_jwk = dict(jwk, d=b64u(uint(numbers.private_value, 32)))
        else:
            bits, exponent = params
            private = rsa.generate_private_key(public_exponent=exponent, key_size=bits)
            numbers = private.private_numbers()
            public = numbers.public_numbers
            jwk = {"kty": "RSA", "n": b64u(uint(public.n)), "e": b64u(uint(public.e)), "kid": kid}
            private_jwk = dict(jwk, d=b64u(uint(numbers.d)), p=b64u(uint(numbers.p)), q=b64u(uint(numbers.q)))
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        keys[name] = {"kind": kind, "kid": kid, "private": private, "jwk": jwk, "private_jwk": private_jwk, "public_pem": public_pem}
    return keys


def describe(keys):
    return {
        name: {"kid": k["kid"], "jwk": compact(k["jwk"]), "private_jwk": compact(k["private_jwk"]), "public_pem": k["public_pem"]}
        for name, k in keys.items()
    }


def signature(keys, spec, how, message):
    if how == "none":
        return b""
    if how == "HS256":
        if "hmac_secret_of" in spec:
            secret = keys[spec["hmac_secret_of"]]["public_pem"].encode()
        else:
            secret = spec["hmac_secret"].encode()
        return hmac.new(secret, message, hashlib.sha256).digest()
    private = keys[spec["key"]]["private"]
    if how == "ES256":
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("ES256 needs an EC key")
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256())))
        return uint(r, 32) + uint(s, 32)
    if how == "RS256":
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("RS256 needs an RSA key")
        return private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError("unknown signing algorithm %r" % how)


def signature_length(keys, spec, how):
    if how == "none":
        return 0
    if how == "HS256":
        return 43
    if how == "ES256":
        return 86
    return len(b64u(b"\0" * (keys[spec["key"]]["private"].key_size // 8)))


def segments(spec, header, payload):
    pad = bool(spec.get("pad"))
    header_text = spec["raw_header"] if "raw_header" in spec else compact(header)
    payload_text = spec["raw_payload"] if "raw_payload" in spec else compact(payload)
    return b64u(header_text.encode(), pad), b64u(payload_text.encode(), pad)


def sign(keys, spec):
    header = dict(spec.get("header", {}))
    payload = dict(spec.get("payload", {}))
    how = spec.get("sign") or header.get("alg")
    if "fill_to" in spec:
        target = int(spec["fill_to"])
        found = False
        for extra in range(4):
            if extra:
                header["pad"] = "p" * extra
            for n in range(target):
                payload["fill"] = "f" * n
                h, p = segments(spec, header, payload)
                length = len(h) + len(p) + 2 + signature_length(keys, spec, how)
                if length == target:
                    found = True
                    break
                if length > target:
                    break
            if found:
                break
        if not found:
            raise ValueError("cannot reach %d bytes" % target)
    h, p = segments(spec, header, payload)
    message = (h + "." + p).encode("ascii")
    for _ in range(64):
        sig = signature(keys, spec, how, message)
        if spec.get("tamper_signature"):
            sig = bytes([sig[0] ^ 0x01]) + sig[1:]
        if spec.get("std_alphabet"):
            encoded = base64.b64encode(sig).decode("ascii").rstrip("=")
            if "+" not in encoded and "/" not in encoded:
                continue  # ECDSA is randomised: try again until the alphabets differ
        else:
            encoded = b64u(sig, bool(spec.get("pad")))
        break
    else:
        raise ValueError("no signature with '+' or '/' after 64 attempts")
    if "tamper_payload" in spec:
        p = b64u(compact(spec["tamper_payload"]).encode(), bool(spec.get("pad")))
    return h + "." + p + "." + encoded


def answer(keys, request):
    try:
        op = request.get("op")
        if op == "keys":
            return {"keys": describe(keys)}
        if op == "sign":
            return {"token": sign(keys, request)}
        return {"error": "unknown op %r" % op}
    except Exception as error:  # reported to the Swift side, which fails the test that asked
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    keys = generate()
    if mode == "keys":
        print(json.dumps(describe(keys), indent=2))
    elif mode == "sign":
        result = answer(keys, dict(json.load(sys.stdin), op="sign"))
        if "error" in result:
            sys.exit(result["error"])
        print(result["token"])
    elif mode == "serve":
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError as error:
                response = {"error": "bad request line: %s" % error}
            else:
                response = answer(keys, request)
            sys.stdout.write(json.dumps(response) + "\n")
            sys.stdout.flush()
    else:
        sys.exit("usage: mint.py [serve|keys|sign]")


if __name__ == "__main__":
    main()

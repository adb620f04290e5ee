#!/usr/bin/env python3
"""Keys, JWKS members and compact JWS tokens for Sluice's tests (IdentityTests, IntegrationTests),
made by an implementation independent of Sluice's own: Python's `cryptography` package (OpenSSL
underneath, but none of Sluice's code). Driven by `TokenMinter` (TokenMinter.swift).

Requires `pip install cryptography` (any version from 38 on; Debian's python3-cryptography works).

  mint.py serve   Answers one JSON request per stdin line with one JSON response per stdout line,
                  until end-of-file on stdin. Keys are generated on first use and kept in memory.
                    {"op": "configure", "catalogue": {name: KEY}, "on_demand": bool} -> {}
                    {"op": "key", "name": name}   -> {"key": {"kid", "jwk", "private_jwk", "public_pem"}}
                    {"op": "sign", ...spec}       -> {"token": "..."}
                  Any failure answers {"error": "..."} and the loop goes on.

Keys. A name in the catalogue is made as its KEY says: {"kind": "EC"} (P-256) or {"kind": "RSA",
"bits": 2048, "exponent": 65537}, with {"kid": ...}; its JWK holds kty, crv/x/y or n/e, and kid.
With "on_demand", any other name makes a key on first use: RSA-2048 if the name starts with "rsa",
else P-256; its kid is the name, and its JWK also says "use": "sig" and its "alg".

A sign spec (every member optional but key, which "none" does not need either):
  key              name of the signing key
  sign             how to sign: "ES256", "RS256", "HS256" or "none"; default: the key's algorithm
  header           header object (serialised compactly); default {"alg": sign, "kid": the key's kid}
  raw_header       the exact header JSON text (duplicate members and other malformed cases)
  payload          claims object (default {}), or
  raw_payload      the exact payload JSON text
  embed_jwk        name of a key whose public JWK is put into the header as "jwk"
  hmac_secret      the HS256 secret as text, or
  hmac_secret_of   name of a key whose public key is the HS256 secret, in the form
  hmac_secret_form "pem" (the PEM text; the default) or "n" (the RSA modulus's bytes)
  fill_to          grow the token to exactly this many bytes with a "fill" claim (and, if the
                   length cannot be reached otherwise, a "pad" header member)
  pad              true: base64 '=' padding on every segment that needs it, and the padded text is
                   what is signed (AWS ALB); or a list of segments ("header", "payload",
                   "signature") to pad the same way, each of which must really need padding
  std_alphabet     encode the signature with the standard '+' '/' alphabet; ES256 is re-signed
                   until that alphabet actually produces a '+' or '/'
  signature        the exact text of the third segment
  tamper_payload   after signing, replace the payload segment with this object
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


def b64u(data, pad=False):
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def uint(value, length=None):
    length = length or max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Keyring:
    """The keys of one `TokenMinter`, made on first use."""

    def __init__(self, catalogue=None, on_demand=False):
        self.catalogue = catalogue or {}
        self.on_demand = on_demand
        self.keys = {}

    def __getitem__(self, name):
        if name not in self.keys:
            self.keys[name] = self.make(name)
        return self.keys[name]

    def make(self, name):
        if name in self.catalogue:
            spec = self.catalogue[name]
            kind, kid, published = spec["kind"], spec["kid"], {}
        elif self.on_demand:
            kind, kid = ("RSA" if name.startswith("rsa") else "EC"), name
            spec = {"bits": 2048, "exponent": 65537}
            published = {"use": "sig", "alg": "RS256" if kind == "RSA" else "ES256"}
        else:
            raise KeyError("no key named %r" % name)
        if kind == "EC":
            private = ec.generate_private_key(ec.SECP256R1())
            numbers = private.private_numbers()
            public = numbers.public_numbers
            jwk = {"kty": "EC", "crv": "P-256", "x": b64u(uint(public.x, 32)), "y": b64u(uint(public.y, 32)), "kid": kid}
            jwk.update(published)
            private_jwk = dict(jwk, d=b64u(uint(numbers.private_value, 32)))
        else:
            private = rsa.generate_private_key(public_exponent=spec["exponent"], key_size=spec["bits"])
            numbers = private.private_numbers()
            public = numbers.public_numbers
            jwk = {"kty": "RSA", "n": b64u(uint(public.n)), "e": b64u(uint(public.e)), "kid": kid}
            jwk.update(published)
            private_jwk = dict(jwk, d=b64u(uint(numbers.d)), p=b64u(uint(numbers.p)), q=b64u(uint(numbers.q)))
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        return {"kind": kind, "kid": kid, "private": private, "jwk": jwk, "private_jwk": private_jwk, "public_pem": public_pem}

    def describe(self, name):
        key = self[name]
        return {
            "kid": key["kid"],
            "jwk": compact(key["jwk"]),
            "private_jwk": compact(key["private_jwk"]),
            "public_pem": key["public_pem"],
        }


def hmac_secret(keys, spec):
    if "hmac_secret_of" not in spec:
        return spec["hmac_secret"].encode()
    key = keys[spec["hmac_secret_of"]]
    form = spec.get("hmac_secret_form", "pem")
    if form == "pem":
        return key["public_pem"].encode()
    if form == "n":
        return uint(key["private"].public_key().public_numbers().n)
    raise ValueError("unknown hmac_secret_form %r" % form)


def signature(keys, spec, how, message):
    if how == "none":
        return b""
    if how == "HS256":
        return hmac.new(hmac_secret(keys, spec), message, hashlib.sha256).digest()
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


def padded(spec, segment):
    """Whether `segment` gets '=' padding, and whether it must need some (a listed segment)."""
    pad = spec.get("pad", False)
    if isinstance(pad, list):
        return segment in pad, segment in pad
    return bool(pad), False


def encode(data, spec, segment):
    pad, strict = padded(spec, segment)
    encoded = b64u(data, pad)
    if strict and not encoded.endswith("="):
        raise ValueError("segment %s needs no padding; change its length" % segment)
    return encoded


def segments(spec, header, payload):
    header_text = spec["raw_header"] if "raw_header" in spec else compact(header)
    payload_text = spec["raw_payload"] if "raw_payload" in spec else compact(payload)
    return encode(header_text.encode(), spec, "header"), encode(payload_text.encode(), spec, "payload")


def sign(keys, spec):
    key = keys[spec["key"]] if "key" in spec else None
    how = spec.get("sign") or (("RS256" if key["kind"] == "RSA" else "ES256") if key else None)
    if how is None:
        raise ValueError("a spec needs a key or a sign member")
    if "header" in spec:
        header = dict(spec["header"])
    else:
        header = {"alg": how}
        if key:
            header["kid"] = key["kid"]
    if "embed_jwk" in spec:
        header["jwk"] = keys[spec["embed_jwk"]]["jwk"]
    payload = dict(spec.get("payload", {}))
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
            encoded = encode(sig, spec, "signature")
        break
    else:
        raise ValueError("no signature with '+' or '/' after 64 attempts")
    if "signature" in spec:
        encoded = spec["signature"]
        if padded(spec, "signature")[1] and not encoded.endswith("="):
            raise ValueError("the exact signature segment has no padding")
    if "tamper_payload" in spec:
        p = b64u(compact(spec["tamper_payload"]).encode(), padded(spec, "payload")[0])
    return h + "." + p + "." + encoded


def answer(state, request):
    try:
        op = request.get("op")
        if op == "configure":
            state["keys"] = Keyring(request.get("catalogue"), bool(request.get("on_demand")))
            return {}
        if op == "key":
            return {"key": state["keys"].describe(request["name"])}
        if op == "sign":
            return {"token": sign(state["keys"], request)}
        return {"error": "unknown op %r" % op}
    except Exception as error:  # reported to the Swift side, which fails the test that asked
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: mint.py serve")
    state = {"keys": Keyring()}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            response = {"error": "bad request line: %s" % error}
        else:
            response = answer(state, request)
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

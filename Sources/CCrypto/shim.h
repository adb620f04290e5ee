#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <limits.h>
#include <string.h>

/*
 * Small libcrypto call sequences that are awkward or unsafe from Swift. They only call
 * libcrypto (no hand-written cryptography) and free everything they allocate on every path.
 * Every function returns NULL / 0 / -1 on failure and leaves the OpenSSL error queue for the
 * Swift caller to clear (the queue is per thread; Crypto calls ERR_clear_error after failures).
 */

/*
 * SHA-256 of `count` bytes at `data` into `out` (32 bytes) through libcrypto's low-level SHA-256
 * (SHA256_Init/Update/Final: OpenSSL's own implementation, with its assembly). 1 on success.
 *
 * Why not EVP: OpenSSL 3.0's EVP_DigestInit_ex2 allocates and frees the provider's context on
 * every call, even on a reused EVP_MD_CTX; under load on 2 cores a 100-byte digest took about
 * 2 us that way (4.5 % of the CPU of a /healthz request, which tags its body). These three
 * functions are deprecated since 3.0 but still built and exported by Debian's libcrypto3; the
 * pragma keeps their deprecation warnings out of every build. The cost: they bypass providers,
 * so a FIPS-only configuration does not cover these digests (they tag responses and request
 * texts, and digest service tokens; signatures still go through EVP).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>
static inline int ccrypto_sha256(const void *data, size_t count, unsigned char *out) {
    SHA256_CTX context;
    if (SHA256_Init(&context) != 1) return 0;
    if (count > 0 && SHA256_Update(&context, data, count) != 1) return 0;
    return SHA256_Final(out, &context);
}
#pragma GCC diagnostic pop

/*
 * Turns the parameters collected in `bld` into a public key of `type` ("RSA", "EC") with
 * EVP_PKEY_fromdata; frees what it allocates (not `bld`). NULL on any failure.
 */
static inline EVP_PKEY *ccrypto_public_key_from_params(const char *type, OSSL_PARAM_BLD *bld) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    /* EVP_PKEY_PUBLIC_KEY is a nested macro Swift cannot import; that is one more reason for C. */
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/*
 * Builds an RSA public key from big-endian n and e.
 *
 * Why C: OSSL_PARAM_BLD_push_* stores *pointers* to the key names and values and copies them only
 * in OSSL_PARAM_BLD_to_param (doc/man3/OSSL_PARAM_BLD.pod). Swift's implicit String/[UInt8] to
 * pointer bridging lives for one call only, which silently builds garbage keys. Here the BIGNUMs
 * live until after to_param and the names are C string literals.
 */
static inline EVP_PKEY *ccrypto_rsa_public_key(const unsigned char *n, size_t nlen,
                                               const unsigned char *e, size_t elen) {
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;

    if (n == NULL || e == NULL || nlen == 0 || elen == 0 || nlen > INT_MAX || elen > INT_MAX)
        return NULL;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL)
        goto done;
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
        goto done;
    pkey = ccrypto_public_key_from_params("RSA", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/*
 * Builds a P-256 public key from the 32-byte big-endian affine coordinates x and y, as the
 * uncompressed point 0x04 || x || y. Same pointer-lifetime reason for C as above: `pub` is a
 * local array that stays alive until after to_param (and fromdata).
 */
static inline EVP_PKEY *ccrypto_p256_public_key(const unsigned char *x, const unsigned char *y) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    unsigned char pub[65];

    if (x == NULL || y == NULL)
        return NULL;
    pub[0] = 0x04; /* SEC 1 uncompressed point */
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        goto done;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) != 1)
        goto done;
    pkey = ccrypto_public_key_from_params("EC", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/*
 * 1 when EVP_PKEY_public_check accepts the key, else 0. fromdata alone accepts an RSA key with
 * e = 1 (which then "verifies" forged signatures); public_check rejects it. It does NOT reject
 * e = 3 or 1024-bit moduli, so the size/exponent policy stays in Swift. For EC keys it checks
 * the point is on the curve and not the point at infinity. Only -2 means "unsupported", and
 * any value other than 1 is treated as a failure.
 */
static inline int ccrypto_public_check(EVP_PKEY *pkey) {
    EVP_PKEY_CTX *ctx;
    int rc;
    if (pkey == NULL)
        return 0;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL)
        return 0;
    rc = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    return rc == 1;
}

/* Key families this package understands. EVP_PKEY_is_a also works for provider-only keys, where
 * EVP_PKEY_get_id may return -1; "RSA" does not match RSA-PSS keys, which we do not accept. */
#define CCRYPTO_KEY_OTHER 0
#define CCRYPTO_KEY_RSA 1
#define CCRYPTO_KEY_EC 2

static inline int ccrypto_key_family(const EVP_PKEY *pkey) {
    if (pkey == NULL)
        return CCRYPTO_KEY_OTHER;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return CCRYPTO_KEY_RSA;
    if (EVP_PKEY_is_a(pkey, "EC"))
        return CCRYPTO_KEY_EC;
    return CCRYPTO_KEY_OTHER;
}

/* 1 when an EC key's group is NIST P-256 (OpenSSL names it "prime256v1"), else 0. */
static inline int ccrypto_ec_is_p256(const EVP_PKEY *pkey) {
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1)
        return 0;
    return OBJ_sn2nid(name) == NID_X9_62_prime256v1 || OBJ_txt2nid(name) == NID_X9_62_prime256v1;
}

/*
 * An RSA key's public exponent, or 0 if it cannot be read or does not fit in 32 bits.
 * EVP_PKEY_get_bn_param allocates the BIGNUM, so it is freed here.
 */
static inline unsigned long ccrypto_rsa_public_exponent(const EVP_PKEY *pkey) {
    BIGNUM *e = NULL;
    unsigned long value = 0;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        return 0;
    if (BN_num_bits(e) <= 32)
        value = (unsigned long)BN_get_word(e);
    BN_free(e);
    return value;
}

/* The maximum DER length of an ECDSA-P256 signature: SEQUENCE(2) + 2 * INTEGER(2 + 33). */
#define CCRYPTO_P256_DER_MAX 72

/*
 * Converts a JOSE (IEEE P1363) ECDSA signature r || s of 2 * `half` bytes into DER, writing at
 * most `cap` bytes to `out`. Returns the DER length, or -1.
 *
 * Why this way: ECDSA_SIG_set0 takes ownership of r and s only when it succeeds, so they are freed
 * here on failure (libjwt ignores the return value; we do not). i2d_ECDSA_SIG is called twice:
 * first with NULL to learn the length (no library-allocated output, so no OPENSSL_free, which is
 * a macro Swift cannot call), then into our buffer. i2d advances the pointer it is given, so it
 * gets a copy. The DER is produced by libcrypto, never by hand (hand-rolled encoders such as
 * BlueECC's emit non-minimal INTEGERs that OpenSSL 3 rightly rejects).
 */
static inline int ccrypto_ecdsa_p1363_to_der(const unsigned char *sig, size_t half,
                                             unsigned char *out, size_t cap) {
    ECDSA_SIG *esig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *cursor;
    int len = -1, needed;

    if (sig == NULL || out == NULL || half == 0 || half > 66)
        return -1;
    esig = ECDSA_SIG_new();
    r = BN_bin2bn(sig, (int)half, NULL);
    s = BN_bin2bn(sig + half, (int)half, NULL);
    if (esig == NULL || r == NULL || s == NULL)
        goto fail;
    if (ECDSA_SIG_set0(esig, r, s) != 1)
        goto fail;
    r = s = NULL; /* now owned by esig */
    needed = i2d_ECDSA_SIG(esig, NULL);
    if (needed <= 0 || (size_t)needed > cap)
        goto done;
    cursor = out;
    len = i2d_ECDSA_SIG(esig, &cursor);
    if (len != needed)
        len = -1;
    goto done;
fail:
    BN_free(r);
    BN_free(s);
done:
    ECDSA_SIG_free(esig);
    return len;
}

/*
 * Parses a DER SubjectPublicKeyInfo. Returns NULL unless the whole input is consumed.
 * d2i_PUBKEY advances the pointer it is given, which is how trailing bytes are detected.
 */
static inline EVP_PKEY *ccrypto_pubkey_from_spki(const unsigned char *der, size_t len) {
    const unsigned char *cursor = der;
    EVP_PKEY *pkey;
    if (der == NULL || len == 0 || len > LONG_MAX)
        return NULL;
    pkey = d2i_PUBKEY(NULL, &cursor, (long)len);
    if (pkey != NULL && cursor != der + len) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/*
 * A verification context for `pkey` with SHA-256 as the signature digest, ready for repeated
 * EVP_PKEY_verify calls. Why: EVP_DigestVerifyInit per call costs ~25k instructions in OpenSSL
 * 3.0 (EVP_PKEY_CTX_new_from_pkey scans the algorithm-name table, the provider re-fetches
 * SHA-256), more than a tenth of an RS256 verification. A context is not thread-safe: the Swift
 * side lends each one to a single thread at a time. Padding stays PKCS#1 v1.5 for RSA (the
 * default; PSS is never configured), so the DigestInfo is still checked strictly.
 */
static inline EVP_PKEY_CTX *ccrypto_verify_context(EVP_PKEY *pkey) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL)
        return NULL;
    if (EVP_PKEY_verify_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * SHA-256 of the message, then EVP_PKEY_verify on a context from ccrypto_verify_context. Returns
 * 1 for a valid signature, 0 for an invalid one, negative on error; only 1 counts as success.
 */
static inline int ccrypto_verify_with_context(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
                                              const unsigned char *msg, size_t msglen) {
    static const unsigned char empty = 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digestlen = 0;
    if (ctx == NULL || sig == NULL || siglen == 0)
        return -1;
    if (msg == NULL) {
        if (msglen != 0)
            return -1;
        msg = &empty;
    }
    if (EVP_Digest(msg, msglen, digest, &digestlen, EVP_sha256(), NULL) != 1)
        return -1;
    return EVP_PKEY_verify(ctx, sig, siglen, digest, digestlen);
}

/*
 * HMAC-SHA-256 in one call (EVP_Q_mac, OpenSSL 3.0+). Writes 32 bytes to `out`; returns 1 or 0.
 * A NULL key makes the HMAC provider "re-initialise" a context that never had a key and fail,
 * so an empty key is passed as a valid pointer with length 0.
 */
static inline int ccrypto_hmac_sha256(const unsigned char *key, size_t keylen,
                                      const unsigned char *msg, size_t msglen,
                                      unsigned char out[32]) {
    static const unsigned char empty = 0;
    size_t outlen = 0;
    if (key == NULL) {
        if (keylen != 0)
            return 0;
        key = &empty;
    }
    if (msg == NULL) {
        if (msglen != 0)
            return 0;
        msg = &empty;
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, msg, msglen, out, 32, &outlen)
        == NULL)
        return 0;
    return outlen == 32;
}

#endif

import Crypto

/// The RS256 and ES256 examples of RFC 7515 Appendix A.2 and A.3 (public keys only; the same
/// values appear in RFC 7517 Appendix A.1 and in many JOSE libraries' test suites).
enum RFC7515Examples {
    /// The JWS Payload shared by the examples (base64url of the JWT claims with CRLF line breaks).
    static let payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    /// A.2: header `{"alg":"RS256"}`.
    static let rs256Header = "eyJhbGciOiJSUzI1NiJ9"
    static let rs256N =
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt"
        + "0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSX"
        + "ndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5"
        + "IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    static let rs256E = "AQAB"
    static let rs256Signature =
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W"
        + "2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkS"
        + "jtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnv"
        + "Wh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

    /// A.3: header `{"alg":"ES256"}`.
    static let es256Header = "eyJhbGciOiJFUzI1NiJ9"
    static let es256X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    static let es256Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    static let es256Signature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    static var rs256SigningInput: [UInt8] { Array("\(rs256Header).\(payload)".utf8) }
    static var es256SigningInput: [UInt8] { Array("\(es256Header).\(payload)".utf8) }

    static var rs256JWK: [String: JWKMember] { ["kty": "RSA", "n": .string(rs256N), "e": .string(rs256E)] }
    static var es256JWK: [String: JWKMember] {
        ["kty": "EC", "crv": "P-256", "x": .string(es256X), "y": .string(es256Y)]
    }

    static func decoded(_ text: String) -> [UInt8] {
        guard let bytes = Base64URL.decode(text) else { preconditionFailure("RFC example is not base64url") }
        return bytes
    }
}

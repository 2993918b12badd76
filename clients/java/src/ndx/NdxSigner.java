package ndx;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.EdECPoint;
import java.security.spec.EdECPrivateKeySpec;
import java.security.spec.EdECPublicKeySpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.security.spec.RSAPrivateCrtKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Signs requests the way ndx-gateway verifies them (CONTRACT §3; docs/signing.md): a compact JWS with
 * header {alg, kid, typ: "ndx+jwt"} and claims iss, aud, iat, jti, htm, htu, bsh [, exp, purpose, sub].
 * JDK only (java.security): ES256, ES384, EdDSA (Ed25519), PS256, RS256 keys read from a private JWK file.
 */
public final class NdxSigner {
  /** base64url SHA-256 of an empty body. */
  public static final String EMPTY_BODY_HASH = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

  private static final Base64.Encoder B64U = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64U_DEC = Base64.getUrlDecoder();
  private static final SecureRandom RANDOM = new SecureRandom();

  public final String agencyId;
  public final String kid;
  public final String alg;
  public final String audience;
  private final PrivateKey key;

  public NdxSigner(String agencyId, String kid, String alg, PrivateKey key, String audience) {
    this.agencyId = agencyId;
    this.kid = kid;
    this.alg = alg;
    this.key = key;
    this.audience = audience == null ? "ndx-gateway" : audience;
  }

  /** Reads a private JWK as `ndx keygen` writes it (kty, crv, d, …, kid, alg). */
  public static NdxSigner fromJwkFile(String agencyId, Path file, String audience) throws Exception {
    Map<String, Object> jwk = Json.object(Json.parse(Files.readString(file, StandardCharsets.UTF_8)));
    String kid = (String) jwk.get("kid");
    if (kid == null) throw new IllegalArgumentException(file + ": the JWK has no kid");
    String alg = (String) jwk.get("alg");
    if (alg == null) alg = "OKP".equals(jwk.get("kty")) ? "EdDSA" : "ES256";
    return new NdxSigner(agencyId, kid, alg, privateKey(jwk), audience);
  }

  static byte[] b64u(Object value) {
    if (!(value instanceof String)) throw new IllegalArgumentException("a JWK member is missing");
    return B64U_DEC.decode((String) value);
  }

  private static BigInteger big(Map<String, Object> jwk, String name) {
    return new BigInteger(1, b64u(jwk.get(name)));
  }

  private static ECParameterSpec curve(Object crv) throws GeneralSecurityException {
    String name = "P-256".equals(crv) ? "secp256r1" : "P-384".equals(crv) ? "secp384r1" : null;
    if (name == null) throw new IllegalArgumentException("unsupported curve " + crv);
    AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
    params.init(new ECGenParameterSpec(name));
    return params.getParameterSpec(ECParameterSpec.class);
  }

  public static PrivateKey privateKey(Map<String, Object> jwk) throws GeneralSecurityException {
    switch (String.valueOf(jwk.get("kty"))) {
      case "EC":
        return KeyFactory.getInstance("EC").generatePrivate(new ECPrivateKeySpec(big(jwk, "d"), curve(jwk.get("crv"))));
      case "OKP":
        return KeyFactory.getInstance("Ed25519").generatePrivate(new EdECPrivateKeySpec(NamedParameterSpec.ED25519, b64u(jwk.get("d"))));
      case "RSA":
        return KeyFactory.getInstance("RSA").generatePrivate(new RSAPrivateCrtKeySpec(big(jwk, "n"), big(jwk, "e"), big(jwk, "d"),
          big(jwk, "p"), big(jwk, "q"), big(jwk, "dp"), big(jwk, "dq"), big(jwk, "qi")));
      default:
        throw new IllegalArgumentException("unsupported kty " + jwk.get("kty"));
    }
  }

  public static PublicKey publicKey(Map<String, Object> jwk) throws GeneralSecurityException {
    switch (String.valueOf(jwk.get("kty"))) {
      case "EC":
        return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(big(jwk, "x"), big(jwk, "y")), curve(jwk.get("crv"))));
      case "OKP": {
        // RFC 8032: y little-endian, the top bit of the last byte is the sign of x.
        byte[] le = b64u(jwk.get("x"));
        boolean xOdd = (le[le.length - 1] & 0x80) != 0;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        be[0] &= 0x7f;
        return KeyFactory.getInstance("Ed25519").generatePublic(new EdECPublicKeySpec(NamedParameterSpec.ED25519, new EdECPoint(xOdd, new BigInteger(1, be))));
      }
      case "RSA":
        return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(big(jwk, "n"), big(jwk, "e")));
      default:
        throw new IllegalArgumentException("unsupported kty " + jwk.get("kty"));
    }
  }

  /** The `bsh` claim: base64url (no padding) SHA-256 of the exact body bytes sent. */
  public static String bodyHash(byte[] body) throws GeneralSecurityException {
    if (body == null || body.length == 0) return EMPTY_BODY_HASH;
    return B64U.encodeToString(MessageDigest.getInstance("SHA-256").digest(body));
  }

  public static String newJti() {
    byte[] b = new byte[18];
    RANDOM.nextBytes(b);
    return B64U.encodeToString(b);
  }

  /** The claims of one request, in the order the TypeScript SDK writes them (so deterministic algorithms agree). */
  public Map<String, Object> claims(String method, String target, byte[] body, String purpose, String sub, long iat, String jti, Integer expiresIn)
      throws GeneralSecurityException {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("iss", agencyId);
    c.put("aud", audience);
    c.put("iat", iat);
    c.put("jti", jti);
    c.put("htm", method.toUpperCase());
    c.put("htu", target);
    c.put("bsh", bodyHash(body));
    if (expiresIn != null) c.put("exp", iat + expiresIn);
    if (purpose != null) c.put("purpose", purpose);
    if (sub != null) c.put("sub", sub);
    return c;
  }

  /** A token for one request. `target` is the path and query exactly as they will be sent. */
  public String sign(String method, String target, byte[] body, String purpose, String sub) throws GeneralSecurityException {
    return signClaims(claims(method, target, body, purpose, sub, System.currentTimeMillis() / 1000, newJti(), null));
  }

  public String signClaims(Map<String, Object> claims) throws GeneralSecurityException {
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("alg", alg);
    header.put("kid", kid);
    header.put("typ", "ndx+jwt");
    String input = B64U.encodeToString(Json.write(header).getBytes(StandardCharsets.UTF_8)) + "."
      + B64U.encodeToString(Json.write(claims).getBytes(StandardCharsets.UTF_8));
    Signature s = signature(alg);
    s.initSign(key);
    s.update(input.getBytes(StandardCharsets.US_ASCII));
    byte[] sig = s.sign();
    if (alg.startsWith("ES")) sig = derToP1363(sig, alg.equals("ES256") ? 32 : 48);
    return input + "." + B64U.encodeToString(sig);
  }

  /** Verifies a compact JWS's signature with a public key (for checking the published test vectors). */
  public static boolean verify(String token, String alg, PublicKey key) throws GeneralSecurityException {
    int last = token.lastIndexOf('.');
    byte[] sig = B64U_DEC.decode(token.substring(last + 1));
    if (alg.startsWith("ES")) sig = p1363ToDer(sig);
    Signature s = signature(alg);
    s.initVerify(key);
    s.update(token.substring(0, last).getBytes(StandardCharsets.US_ASCII));
    return s.verify(sig);
  }

  static Signature signature(String alg) throws GeneralSecurityException {
    switch (alg) {
      case "ES256": return Signature.getInstance("SHA256withECDSA");
      case "ES384": return Signature.getInstance("SHA384withECDSA");
      case "EdDSA": return Signature.getInstance("Ed25519");
      case "RS256": return Signature.getInstance("SHA256withRSA");
      case "PS256": {
        Signature s = Signature.getInstance("RSASSA-PSS");
        s.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
        return s;
      }
      default: throw new IllegalArgumentException("unsupported alg " + alg);
    }
  }

  /**
   * JWS wants an ECDSA signature as r || s, each left-padded to the curve size (IEEE P1363); the JDK's
   * SHA256withECDSA gives ASN.1 DER: SEQUENCE { INTEGER r, INTEGER s }.
   */
  public static byte[] derToP1363(byte[] der, int size) {
    int i = 0;
    if (der[i++] != 0x30) throw new IllegalArgumentException("not a DER sequence");
    int len = der[i++] & 0xff;
    if (len > 0x80) i += len - 0x80; // long-form length
    byte[] out = new byte[2 * size];
    for (int part = 0; part < 2; part++) {
      if (der[i++] != 0x02) throw new IllegalArgumentException("not a DER integer");
      int n = der[i++] & 0xff;
      int start = i;
      int end = i + n;
      while (start < end - 1 && der[start] == 0) start++; // drop sign padding
      int count = end - start;
      if (count > size) throw new IllegalArgumentException("integer too large for the curve");
      System.arraycopy(der, start, out, part * size + size - count, count);
      i = end;
    }
    return out;
  }

  /** The reverse: r || s to DER, for verifying a JWS signature with the JDK. */
  public static byte[] p1363ToDer(byte[] sig) {
    int size = sig.length / 2;
    byte[][] ints = new byte[2][];
    for (int part = 0; part < 2; part++) {
      int start = part * size;
      while (start < (part + 1) * size - 1 && sig[start] == 0) start++;
      boolean pad = (sig[start] & 0x80) != 0;
      int n = (part + 1) * size - start;
      byte[] v = new byte[n + (pad ? 1 : 0)];
      System.arraycopy(sig, start, v, pad ? 1 : 0, n);
      ints[part] = v;
    }
    int body = 4 + ints[0].length + ints[1].length;
    byte[] der = new byte[(body > 127 ? 3 : 2) + body];
    int i = 0;
    der[i++] = 0x30;
    if (body > 127) der[i++] = (byte) 0x81;
    der[i++] = (byte) body;
    for (byte[] v : ints) {
      der[i++] = 0x02;
      der[i++] = (byte) v.length;
      System.arraycopy(v, 0, der, i, v.length);
      i += v.length;
    }
    return der;
  }
}

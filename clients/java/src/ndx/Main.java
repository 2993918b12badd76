package ndx;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Command line: the same exit codes as `ndx call` — 0 a 2xx reply, 1 a problem reply, 2 usage,
 * 3 the gateway could not be reached.
 *
 *   java -cp out ndx.Main call --url http://127.0.0.1:8080 --iss VN.LOC.DNG --key VN.LOC.DNG.private.jwk.json \
 *        [--purpose p] [--sub s] [--body json | --body-file f] [--aud id] [--timeout ms] GET /v1/population/citizens/030075654294
 *   java -cp out ndx.Main vectors docs/vectors/vectors.json     (checks this client against the test vectors)
 *
 * NDX_URL, NDX_AGENCY, NDX_KEY and NDX_AUDIENCE give defaults, as for `ndx`.
 */
public final class Main {
  private static final String USAGE = "usage: ndx.Main call [--url u] [--iss agency] [--key file] [--purpose p] [--sub s] [--body json | --body-file f] "
    + "[--aud id] [--timeout ms] METHOD TARGET\n       ndx.Main vectors <vectors.json>";

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
    System.exit(run(args, System.getenv(), out, err));
  }

  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      (args.length == 0 ? err : out).println(USAGE);
      return args.length == 0 ? 2 : 0;
    }
    try {
      switch (args[0]) {
        case "call": return call(List.of(args).subList(1, args.length), env, out, err);
        case "vectors": return vectors(args.length > 1 ? args[1] : null, out, err);
        default:
          err.println("ndx.Main: unknown command " + args[0] + "\n" + USAGE);
          return 2;
      }
    } catch (UsageException e) {
      err.println("ndx.Main: " + e.getMessage() + "\n" + USAGE);
      return 2;
    } catch (Exception e) {
      err.println("ndx.Main: " + e);
      return 1;
    }
  }

  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  private static int call(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) throws Exception {
    Map<String, String> opts = new HashMap<>();
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.startsWith("--")) {
        if (i + 1 >= args.size()) throw new UsageException(a + " needs a value");
        opts.put(a.substring(2), args.get(++i));
      } else {
        positional.add(a);
      }
    }
    if (positional.size() != 2) throw new UsageException("METHOD and TARGET are required");
    String url = opts.getOrDefault("url", env.getOrDefault("NDX_URL", "http://127.0.0.1:8080"));
    String iss = opts.getOrDefault("iss", env.get("NDX_AGENCY"));
    String key = opts.getOrDefault("key", env.get("NDX_KEY"));
    if (iss == null || key == null) throw new UsageException("--iss and --key are required (or NDX_AGENCY and NDX_KEY)");
    if (!Files.isReadable(Path.of(key))) throw new UsageException("cannot read the key file " + key);
    Duration timeout = Duration.ofMillis(Long.parseLong(opts.getOrDefault("timeout", "30000")));
    String body = opts.get("body");
    if (opts.containsKey("body-file")) {
      if (body != null) throw new UsageException("give --body or --body-file, not both");
      // Read as UTF-8 bytes, whatever the platform's default charset (which also decodes the command line).
      body = Files.readString(Path.of(opts.get("body-file")), StandardCharsets.UTF_8);
    }
    NdxSigner signer = NdxSigner.fromJwkFile(iss, Path.of(key), opts.getOrDefault("aud", env.get("NDX_AUDIENCE")));
    NdxClient client = new NdxClient(url, signer, timeout);
    NdxClient.Reply reply;
    try {
      reply = client.call(positional.get(0), positional.get(1), body, opts.get("purpose"), opts.get("sub"));
    } catch (HttpTimeoutException e) {
      err.println("ndx.Main: no reply from " + url + " within " + timeout.toMillis() + " ms");
      return 3;
    } catch (IOException e) {
      err.println("ndx.Main: cannot reach the gateway at " + url + ": " + e);
      return 3;
    }
    err.println("HTTP " + reply.status() + "  X-Transaction-Id: " + (reply.transactionId() == null ? "-" : reply.transactionId())
      + (reply.problemCode() == null ? "" : "  " + reply.problemCode() + ": " + reply.problemDetail()));
    out.println(reply.body());
    return reply.ok() ? 0 : 1;
  }

  /** Checks bsh, claims, and tokens against the published vectors: what an agency runs before calling. */
  @SuppressWarnings("unchecked")
  private static int vectors(String file, PrintStream out, PrintStream err) throws Exception {
    if (file == null) throw new UsageException("the vectors file is required");
    Map<String, Object> doc = Json.object(Json.parse(Files.readString(Path.of(file), StandardCharsets.UTF_8)));
    String iss = (String) doc.get("iss");
    int failures = 0;
    int n = 0;
    for (Object o : (List<Object>) doc.get("vectors")) {
      n++;
      Map<String, Object> v = Json.object(o);
      Map<String, Object> key = Json.object(v.get("key"));
      Map<String, Object> req = Json.object(v.get("request"));
      Map<String, Object> claims = Json.object(v.get("claims"));
      String alg = (String) key.get("alg");
      byte[] body = Base64.getDecoder().decode((String) req.get("bodyBase64"));
      List<String> problems = new ArrayList<>();
      if (!NdxSigner.bodyHash(body).equals(v.get("bsh"))) problems.add("bsh differs");
      Map<String, Object> priv = Json.object(key.get("privateJwk"));
      NdxSigner signer = new NdxSigner(iss, (String) key.get("kid"), alg, NdxSigner.privateKey(priv), (String) claims.get("aud"));
      long iat = (Long) claims.get("iat");
      Integer exp = claims.get("exp") == null ? null : (int) ((Long) claims.get("exp") - iat);
      Map<String, Object> mine = signer.claims((String) req.get("method"), (String) req.get("target"), body,
        (String) claims.get("purpose"), (String) claims.get("sub"), iat, (String) claims.get("jti"), exp);
      if (!Json.write(mine).equals(Json.write(claims))) problems.add("claims differ: " + Json.write(mine));
      String token = signer.signClaims(mine);
      var publicKey = NdxSigner.publicKey(Json.object(key.get("publicJwk")));
      if (!NdxSigner.verify((String) v.get("token"), alg, publicKey)) problems.add("the vector's token does not verify");
      if (!NdxSigner.verify(token, alg, publicKey)) problems.add("this client's token does not verify");
      boolean deterministic = alg.equals("EdDSA") || alg.equals("RS256");
      if (deterministic && !token.equals(v.get("token"))) problems.add("the token differs (" + alg + " is deterministic)");
      if (!deterministic && !token.substring(0, token.lastIndexOf('.')).equals(((String) v.get("token")).substring(0, token.lastIndexOf('.')))) {
        problems.add("the signed header and claims differ");
      }
      failures += problems.isEmpty() ? 0 : 1;
      out.println((problems.isEmpty() ? "ok " : "not ok ") + n + " - " + alg + " " + v.get("name") + (problems.isEmpty() ? "" : ": " + problems));
    }
    out.println(failures == 0 ? "all " + n + " vectors pass" : failures + " of " + n + " vectors fail");
    return failures == 0 ? 0 : 1;
  }
}

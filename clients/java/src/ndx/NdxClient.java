package ndx;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * Calls ndx-gateway with signed requests, using java.net.http only. Replies of any status are returned
 * (problems included); an IOException means the gateway could not be reached.
 */
public final class NdxClient {
  /** One reply: status, X-Transaction-Id, the body as text, and for problems their code and detail. */
  public record Reply(int status, String transactionId, String body, String problemCode, String problemDetail) {
    public boolean ok() {
      return status >= 200 && status < 300;
    }
  }

  private final String baseUrl;
  private final NdxSigner signer;
  private final HttpClient http;
  private final Duration timeout;

  public NdxClient(String baseUrl, NdxSigner signer, Duration timeout) {
    this.baseUrl = baseUrl.replaceAll("/+$", "");
    this.signer = signer;
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
  }

  /**
   * Signs and sends one request. `target` is the path and query exactly as sent, percent-encoded already:
   * URI.create keeps it byte for byte, so the signed `htu` is what the gateway receives.
   */
  public Reply call(String method, String target, String jsonBody, String purpose, String sub) throws IOException, InterruptedException {
    byte[] body = jsonBody == null ? new byte[0] : jsonBody.getBytes(StandardCharsets.UTF_8);
    String token;
    try {
      token = signer.sign(method, target, body, purpose, sub);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign: " + e.getMessage(), e);
    }
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(baseUrl + target))
      .timeout(timeout)
      .header("Authorization", "Bearer " + token)
      .header("Accept", "application/json");
    if (jsonBody == null) {
      req.method(method.toUpperCase(), HttpRequest.BodyPublishers.noBody());
    } else {
      req.header("Content-Type", "application/json").method(method.toUpperCase(), HttpRequest.BodyPublishers.ofByteArray(body));
    }
    HttpResponse<String> res = http.send(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    String txn = res.headers().firstValue("x-transaction-id").orElse(null);
    String code = null;
    String detail = null;
    if (res.headers().firstValue("content-type").orElse("").startsWith("application/problem+json")) {
      try {
        Map<String, Object> problem = Json.object(Json.parse(res.body()));
        code = (String) problem.get("code");
        detail = (String) problem.get("detail");
      } catch (IllegalArgumentException e) {
        // Not JSON after all: the body is returned as it is.
      }
    }
    return new Reply(res.statusCode(), txn, res.body(), code, detail);
  }
}

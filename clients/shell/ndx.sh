#!/usr/bin/env bash
# ndx-gateway shell client: signs requests (CONTRACT §3, docs/signing.md) with openssl and sends them with
# curl. Nothing else is needed (bash, openssl ≥ 3, curl, and sed/tr/od from any POSIX system).
#
#   ndx.sh token --iss <agency> --key <private JWK> [--purpose p] [--sub s] [--body-file f] [--aud id] METHOD TARGET
#   ndx.sh call  --url <gateway> --iss <agency> --key <private JWK> [--purpose p] [--sub s] [--body-file f] [--aud id]
#                [--timeout seconds] METHOD TARGET
#   ndx.sh bsh   [--body-file f]                 # the bsh claim of a body (stdin without --body-file)
#
# Keys: the private JWK `ndx keygen` writes, ES256 (P-256), ES384 (P-384) or EdDSA (Ed25519); or a PEM key
# with --pem <file> --kid <kid> --alg <alg> (any algorithm openssl signs, RSA included).
# TARGET is the path and query exactly as sent (percent-encode it once, before signing): curl sends it as is.
# Exit codes as for `ndx call`: 0 a 2xx reply, 1 a problem reply, 2 usage, 3 the gateway could not be reached.
# NDX_URL, NDX_AGENCY, NDX_KEY and NDX_AUDIENCE give defaults.
set -euo pipefail

die () { printf 'ndx.sh: %s\n' "$1" >&2; exit "${2:-2}"; }
b64url () { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
unb64url () {
  local s; s=$(tr -- '-_' '+/')
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | openssl base64 -d -A
}
hex () { od -An -v -tx1 | tr -d ' \n'; }
unhex () { local h=$1 out='' i; for ((i = 0; i < ${#h}; i += 2)); do out+="\\x${h:i:2}"; done; printf '%b' "$out"; }
# A JSON string literal: backslash, quote and control characters escaped; UTF-8 passes through.
jstr () { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g')"; }
# One string member of a (flat) JWK file.
jwk_get () { tr -d '\n\r\t ' < "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Writes the JWK's private key as PEM (the DER of RFC 5915 / RFC 8410, built from its parts).
jwk_to_pem () {
  local jwk=$1 kty crv d x y
  kty=$(jwk_get "$jwk" kty); crv=$(jwk_get "$jwk" crv)
  d=$(jwk_get "$jwk" d | unb64url | hex)
  [[ -n $d ]] || die "$jwk: no private key (d) in the JWK"
  case "$kty/$crv" in
    EC/P-256)
      x=$(jwk_get "$jwk" x | unb64url | hex); y=$(jwk_get "$jwk" y | unb64url | hex)
      unhex "30770201010420${d}a00a06082a8648ce3d030107a14403420004${x}${y}" > "$WORK/key.der"
      openssl ec -inform DER -in "$WORK/key.der" -out "$WORK/key.pem" 2>/dev/null ;;
    EC/P-384)
      x=$(jwk_get "$jwk" x | unb64url | hex); y=$(jwk_get "$jwk" y | unb64url | hex)
      unhex "3081a40201010430${d}a00706052b81040022a16403620004${x}${y}" > "$WORK/key.der"
      openssl ec -inform DER -in "$WORK/key.der" -out "$WORK/key.pem" 2>/dev/null ;;
    OKP/Ed25519)
      unhex "302e020100300506032b657004220420${d}" > "$WORK/key.der"
      openssl pkey -inform DER -in "$WORK/key.der" -out "$WORK/key.pem" 2>/dev/null ;;
    *) die "$jwk: $kty/$crv keys need --pem <file> --kid <kid> --alg <alg>" ;;
  esac || die "$jwk: not a usable private key"
}

# JWS wants ECDSA signatures as r || s (each padded to the curve size); openssl gives ASN.1 DER.
der_to_p1363 () {
  local size=$1 ints r s
  ints=$(openssl asn1parse -inform DER -in "$WORK/sig.der" | sed -n 's/.*INTEGER *:\([0-9A-Fa-f]*\).*/\1/p')
  r=$(printf '%s' "$ints" | sed -n 1p); s=$(printf '%s' "$ints" | sed -n 2p)
  while (( ${#r} < size * 2 )); do r="0$r"; done
  while (( ${#s} < size * 2 )); do s="0$s"; done
  unhex "${r: -$((size * 2))}${s: -$((size * 2))}"
}

sign () {
  local input=$1
  printf '%s' "$input" > "$WORK/input"
  case "$ALG" in
    ES256) openssl dgst -sha256 -sign "$PEM" -out "$WORK/sig.der" "$WORK/input"; der_to_p1363 32 | b64url ;;
    ES384) openssl dgst -sha384 -sign "$PEM" -out "$WORK/sig.der" "$WORK/input"; der_to_p1363 48 | b64url ;;
    EdDSA) openssl pkeyutl -sign -inkey "$PEM" -rawin -in "$WORK/input" | b64url ;;
    RS256) openssl dgst -sha256 -sign "$PEM" "$WORK/input" | b64url ;;
    PS256) openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign "$PEM" "$WORK/input" | b64url ;;
    *) die "unsupported --alg $ALG" ;;
  esac
}

bsh () { if [[ -s ${1:-} ]]; then openssl dgst -sha256 -binary "$1" | b64url; else printf '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'; fi; }

token () {
  local method=$1 target=$2 iat jti claims header
  iat=$(date +%s)
  jti=$(openssl rand -base64 18 | tr '+/' '-_' | tr -d '=')
  claims="{\"iss\":$(jstr "$ISS"),\"aud\":$(jstr "$AUD"),\"iat\":$iat,\"jti\":\"$jti\",\"htm\":$(jstr "${method^^}"),\"htu\":$(jstr "$target"),\"bsh\":\"$(bsh "$BODY_FILE")\""
  [[ -n $PURPOSE ]] && claims+=",\"purpose\":$(jstr "$PURPOSE")"
  [[ -n $SUB ]] && claims+=",\"sub\":$(jstr "$SUB")"
  claims+="}"
  header="{\"alg\":\"$ALG\",\"kid\":$(jstr "$KID"),\"typ\":\"ndx+jwt\"}"
  local input; input="$(printf '%s' "$header" | b64url).$(printf '%s' "$claims" | b64url)"
  printf '%s.%s' "$input" "$(sign "$input")"
}

COMMAND=${1:-}; [[ $# -gt 0 ]] && shift
URL=${NDX_URL:-http://127.0.0.1:8080}; ISS=${NDX_AGENCY:-}; KEY=${NDX_KEY:-}; AUD=${NDX_AUDIENCE:-ndx-gateway}
PURPOSE=''; SUB=''; BODY_FILE=''; PEM=''; KID=''; ALG=''; TIMEOUT=30; ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url|--iss|--key|--purpose|--sub|--body-file|--aud|--pem|--kid|--alg|--timeout)
      [[ $# -ge 2 ]] || die "$1 needs a value"
      case "$1" in
        --url) URL=$2 ;; --iss) ISS=$2 ;; --key) KEY=$2 ;; --purpose) PURPOSE=$2 ;; --sub) SUB=$2 ;;
        --body-file) BODY_FILE=$2 ;; --aud) AUD=$2 ;; --pem) PEM=$2 ;; --kid) KID=$2 ;; --alg) ALG=$2 ;; --timeout) TIMEOUT=$2 ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --*) die "unknown option $1" ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ -z $BODY_FILE || -r $BODY_FILE ]] || die "cannot read --body-file $BODY_FILE"

case "$COMMAND" in
  bsh) if [[ -n $BODY_FILE ]]; then bsh "$BODY_FILE"; else cat > "$WORK/stdin"; bsh "$WORK/stdin"; fi; echo; exit 0 ;;
  token|call) ;;
  -h|--help|help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) die "usage: ndx.sh token|call|bsh … (ndx.sh --help)" ;;
esac
[[ ${#ARGS[@]} -eq 2 ]] || die "METHOD and TARGET are required"
[[ -n $ISS ]] || die "--iss is required (or NDX_AGENCY)"
if [[ -z $PEM ]]; then
  [[ -n $KEY && -r $KEY ]] || die "--key <private JWK> is required (or NDX_KEY), or --pem with --kid and --alg"
  KID=$(jwk_get "$KEY" kid); ALG=$(jwk_get "$KEY" alg)
  [[ -n $KID ]] || die "$KEY: the JWK has no kid"
  [[ -n $ALG ]] || ALG=ES256
  jwk_to_pem "$KEY"; PEM="$WORK/key.pem"
else
  [[ -n $KID && -n $ALG ]] || die "--pem needs --kid and --alg"
fi
METHOD=${ARGS[0]^^}; TARGET=${ARGS[1]}
[[ $TARGET == /* ]] || die "TARGET must start with / (path and query; the host goes in --url)"
TOKEN=$(token "$METHOD" "$TARGET")
if [[ $COMMAND == token ]]; then printf '%s\n' "$TOKEN"; exit 0; fi

CURL=(curl -sS --globoff --path-as-is --max-time "$TIMEOUT" -X "$METHOD" -o "$WORK/reply" -D "$WORK/headers" -w '%{http_code}'
  -H "Authorization: Bearer $TOKEN" -H 'Accept: application/json')
[[ -n $BODY_FILE ]] && CURL+=(-H 'Content-Type: application/json' --data-binary "@$BODY_FILE")
if ! STATUS=$("${CURL[@]}" "${URL%/}$TARGET" 2> "$WORK/curl-error"); then
  die "cannot reach the gateway at $URL: $(cat "$WORK/curl-error")" 3
fi
TXN=$(sed -n 's/^[Xx]-[Tt]ransaction-[Ii]d: *\([^[:space:]]*\).*/\1/p' "$WORK/headers")
CODE=$(tr -d '\n' < "$WORK/reply" | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
if [[ $STATUS == 2* ]]; then printf 'HTTP %s  X-Transaction-Id: %s\n' "$STATUS" "${TXN:--}" >&2
else printf 'HTTP %s  X-Transaction-Id: %s  %s\n' "$STATUS" "${TXN:--}" "${CODE:-}" >&2; fi
cat "$WORK/reply"; echo
[[ $STATUS == 2* ]] && exit 0 || exit 1

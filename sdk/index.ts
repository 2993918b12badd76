/** ndx-gateway client SDK: sign requests (CONTRACT §3) and call the gateway. */
export { NdxClient, type CallOptions, type ClientOptions, type GatewayReply } from './client.js'
export {
  bodyHash, EMPTY_BODY_HASH, generateAgencyKey, newJti, signerFromFile, signerFromJwk, signRequest,
  type PrivateKeyFile, type RequestToSign, type Signer, type SigningAlgorithm,
} from './sign.js'

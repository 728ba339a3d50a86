// The self-test's signer: a fresh key pair, a JWKS of its public key and a
// JWT signed with it (what jwt_verify.mjs is checked against).
//
//   node jwt_sign.mjs --issuer ISS --audience AUD [--alg ES256] [--typ at+jwt]
//        [--kid KID] [--expires-in SECONDS] [--sub SUB] [--private-jwk JSON]
//   → {jwks, token, private_jwk} (--private-jwk: sign with that key again)
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose'
import { required, run } from './lib.mjs'

await run(
  {
    issuer: { type: 'string' },
    audience: { type: 'string' },
    alg: { type: 'string', default: 'ES256' },
    typ: { type: 'string', default: 'at+jwt' },
    kid: { type: 'string', default: 'self-test' },
    'expires-in': { type: 'string', default: '300' },
    sub: { type: 'string', default: 'self-test-user' },
    'private-jwk': { type: 'string' },
  },
  async (values) => {
    required(values, 'issuer', 'audience')
    let privateJwk
    if (values['private-jwk'] === undefined) {
      const { privateKey } = await generateKeyPair(values.alg, { extractable: true })
      privateJwk = await exportJWK(privateKey)
    } else {
      privateJwk = JSON.parse(values['private-jwk'])
    }
    const privateKey = await importJWK(privateJwk, values.alg)
    const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk
    const jwk = { ...publicJwk, kid: values.kid, alg: values.alg, use: 'sig' }
    const now = Math.floor(Date.now() / 1000)
    const token = await new SignJWT({ client_id: 'self-test-client', scope: 'PRODUCTION' })
      .setProtectedHeader({ alg: values.alg, typ: values.typ, kid: values.kid })
      .setIssuer(values.issuer)
      .setAudience(values.audience)
      .setSubject(values.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + Number(values['expires-in']))
      .setJti(crypto.randomUUID())
      .sign(privateKey)
    return { jwks: { keys: [jwk] }, token, private_jwk: privateJwk }
  },
)
